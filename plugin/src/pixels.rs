//! Conversion of rendered RGBA f32 rows into the host's pixel depth and components.

/// `kOfxBitDepth*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    Byte,
    Short,
    Half,
    Float,
}

/// `kOfxImageComponent*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Components {
    Rgba,
    Rgb,
    Alpha,
}

impl Depth {
    pub fn bytes(self) -> usize {
        match self {
            Depth::Byte => 1,
            Depth::Short | Depth::Half => 2,
            Depth::Float => 4,
        }
    }
}

impl Components {
    pub fn count(self) -> usize {
        match self {
            Components::Rgba => 4,
            Components::Rgb => 3,
            Components::Alpha => 1,
        }
    }
}

/// Bytes one pixel takes.
pub fn pixel_bytes(depth: Depth, components: Components) -> usize {
    depth.bytes() * components.count()
}

/// Writes `rgba` (4 floats per pixel) into `out` (exactly `pixels * pixel_bytes` long), native endian;
/// `bgr` stores blue first (Vegas's `kOfxImagePixelOrderBGRA`).
pub fn encode_row(rgba: &[f32], depth: Depth, components: Components, bgr: bool, out: &mut [u8]) {
    let channels: &[usize] = match (components, bgr) {
        (Components::Rgba, false) => &[0, 1, 2, 3],
        (Components::Rgba, true) => &[2, 1, 0, 3],
        (Components::Rgb, false) => &[0, 1, 2],
        (Components::Rgb, true) => &[2, 1, 0],
        (Components::Alpha, _) => &[3],
    };
    match depth {
        Depth::Byte => put(rgba, channels, out, |v| {
            [(v.clamp(0.0, 1.0) * 255.0).round() as u8]
        }),
        Depth::Short => put(rgba, channels, out, |v| {
            ((v.clamp(0.0, 1.0) * 65535.0).round() as u16).to_ne_bytes()
        }),
        // IEEE 754 binary16, rounded to nearest even (the host's `kOfxBitDepthHalf`).
        Depth::Half => put(rgba, channels, out, |v| {
            half::f16::from_f32(v).to_ne_bytes()
        }),
        Depth::Float => put(rgba, channels, out, f32::to_ne_bytes),
    }
}

/// One monomorphised loop per sample size (a per-sample `match` costs more than the conversion).
fn put<const B: usize>(
    rgba: &[f32],
    channels: &[usize],
    out: &mut [u8],
    sample: impl Fn(f32) -> [u8; B],
) {
    let n = channels.len();
    for (px, dst) in rgba.chunks_exact(4).zip(out.chunks_exact_mut(n * B)) {
        for (slot, &c) in dst.chunks_exact_mut(B).zip(channels) {
            slot.copy_from_slice(&sample(px[c]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PX: [f32; 8] = [0.0, 0.5, 1.0, 1.0, 0.25, 2.0, -1.0, 0.0];

    #[test]
    fn bytes_and_shorts_are_rounded_and_clamped() {
        let mut out = [0u8; 8];
        encode_row(&PX, Depth::Byte, Components::Rgba, false, &mut out);
        assert_eq!(out, [0, 128, 255, 255, 64, 255, 0, 0]);
        let mut out = [0u8; 12];
        encode_row(&PX, Depth::Short, Components::Rgb, false, &mut out);
        let shorts: Vec<u16> = out
            .chunks(2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(shorts, [0, 32768, 65535, 16384, 65535, 0]);
    }

    #[test]
    fn floats_pass_through_and_alpha_picks_the_fourth_channel() {
        let mut out = [0u8; 32];
        encode_row(&PX, Depth::Float, Components::Rgba, false, &mut out);
        let floats: Vec<f32> = out
            .chunks(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(floats, PX);
        let mut out = [0u8; 2];
        encode_row(&PX, Depth::Byte, Components::Alpha, false, &mut out);
        assert_eq!(out, [255, 0]);
        assert_eq!(pixel_bytes(Depth::Half, Components::Rgb), 6);
    }

    #[test]
    fn bgra_order_swaps_red_and_blue() {
        let mut out = [0u8; 4];
        encode_row(&PX[..4], Depth::Byte, Components::Rgba, true, &mut out);
        assert_eq!(out, [255, 128, 0, 255]);
        let mut out = [0u8; 3];
        encode_row(&PX[..4], Depth::Byte, Components::Rgb, true, &mut out);
        assert_eq!(out, [255, 128, 0]);
    }

    /// The binary16 bits `encode_row` stores for `v` (one alpha sample).
    fn half_bits(v: f32) -> u16 {
        let mut out = [0u8; 2];
        encode_row(
            &[0.0, 0.0, 0.0, v],
            Depth::Half,
            Components::Alpha,
            false,
            &mut out,
        );
        u16::from_ne_bytes(out)
    }

    #[test]
    fn half_floats_match_known_bit_patterns() {
        assert_eq!(half_bits(0.0), 0x0000);
        assert_eq!(half_bits(-0.0), 0x8000);
        assert_eq!(half_bits(1.0), 0x3c00);
        assert_eq!(half_bits(0.5), 0x3800);
        assert_eq!(half_bits(-2.0), 0xc000);
        assert_eq!(half_bits(65504.0), 0x7bff);
        assert_eq!(half_bits(1e6), 0x7c00);
        assert_eq!(half_bits(f32::NAN) & 0x7e00, 0x7e00);
        assert_eq!(half_bits(6.1035156e-5), 0x0400, "smallest normal");
        assert_eq!(half_bits(5.9604645e-8), 0x0001, "smallest subnormal");
        assert_eq!(half_bits(1.0 + 1.0 / 2048.0), 0x3c00, "tie rounds to even");
        assert_eq!(half_bits(1.0 + 3.0 / 2048.0), 0x3c02, "tie rounds to even");
        assert_eq!(half_bits(0.1), 0x2e66);
    }
}
