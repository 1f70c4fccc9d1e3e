//! Source frames as the model takes them: host samples (any depth, RGB/RGBA, either channel order) to
//! RGB 0..1, then placed on the generation frame with the instance's fit mode — Fill crops the source to
//! the generation aspect, Fit letterboxes it (black bars), Stretch stretches — and encoded as the
//! display-referred sRGB the models generate. A linear source (what a Linear output transfer writes) is
//! encoded with the sRGB curve; resampling mixes linear light, as the output's does.

use crate::fit::{place, FitMode};
use crate::pixels::{Components, Depth};
use crate::resample::{resample, RgbFrame, Window};
use crate::transfer::{self, Transfer};

/// What the Source input must not be.
pub const ALPHA_ONLY: &str =
    "the Source input has only an alpha channel: connect an RGB or RGBA clip";

/// Appends one host row (`bytes`: its pixels, native endian) as RGB 0..1: clamped, NaN as 0, alpha
/// dropped (premultiplied sources are read as composited over black).
pub fn decode_row(
    bytes: &[u8],
    depth: Depth,
    components: Components,
    bgr: bool,
    out: &mut Vec<f32>,
) -> Result<(), String> {
    let channels = match components {
        Components::Rgba => 4,
        Components::Rgb => 3,
        Components::Alpha => return Err(ALPHA_ONLY.into()),
    };
    let order: [usize; 3] = if bgr { [2, 1, 0] } else { [0, 1, 2] };
    let size = depth.bytes();
    let sample = |b: &[u8]| -> f32 {
        match depth {
            Depth::Byte => f32::from(b[0]) / 255.0,
            Depth::Short => f32::from(u16::from_ne_bytes([b[0], b[1]])) / 65535.0,
            Depth::Half => half::f16::from_ne_bytes([b[0], b[1]]).to_f32(),
            Depth::Float => f32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
        }
    };
    for px in bytes.chunks_exact(channels * size) {
        for c in order {
            let v = sample(&px[c * size..(c + 1) * size]);
            out.push(if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) });
        }
    }
    Ok(())
}

/// `src` (RGB 0..1 in `transfer`, square pixels times `pixel_aspect`) as a `width`×`height` sRGB frame
/// for the model. A source already at the generation size is copied exactly (no resampling).
pub fn to_generation(
    src: RgbFrame,
    transfer: Transfer,
    fit: FitMode,
    (width, height): (usize, usize),
    pixel_aspect: f64,
) -> Vec<f32> {
    // The source's pixels are `pixel_aspect` wide; the generation frame's are square.
    let par = if pixel_aspect > 0.0 {
        1.0 / pixel_aspect
    } else {
        1.0
    };
    let placement = place(
        fit,
        (src.width, src.height),
        (width as f64, height as f64),
        par,
    );
    let window = Window {
        x0: 0,
        y0: 0,
        width,
        height,
    };
    let decoded;
    let (input, linear) = match (placement.is_pixel_aligned(), transfer) {
        (true, _) | (false, Transfer::Linear) => (src, transfer == Transfer::Linear),
        (false, Transfer::Srgb) => {
            decoded = transfer::decode_rgb(src.pixels);
            (
                RgbFrame {
                    pixels: &decoded,
                    ..src
                },
                true,
            )
        }
    };
    let rgba = resample(input, &placement, window);
    let encode: fn(f32) -> f32 = if linear { transfer::encode } else { |v| v };
    rgba.chunks_exact(4)
        .flat_map(|px| [encode(px[0]), encode(px[1]), encode(px[2])])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], depth: Depth, components: Components, bgr: bool) -> Vec<f32> {
        let mut out = Vec::new();
        decode_row(bytes, depth, components, bgr, &mut out).unwrap();
        out
    }

    #[test]
    fn bytes_shorts_halves_and_floats_become_rgb_in_0_to_1() {
        assert_eq!(
            decode(&[51, 102, 255, 7], Depth::Byte, Components::Rgba, false),
            [51.0 / 255.0, 102.0 / 255.0, 1.0]
        );
        let shorts: Vec<u8> = [0u16, 32768, 65535]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(
            decode(&shorts, Depth::Short, Components::Rgb, false),
            [0.0, 32768.0 / 65535.0, 1.0]
        );
        let halves: Vec<u8> = [0x3800u16, 0x3c00, 0x3400, 0x3c00]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(
            decode(&halves, Depth::Half, Components::Rgba, false),
            [0.5, 1.0, 0.25]
        );
        let floats: Vec<u8> = [0.25f32, -3.0, 7.0, f32::NAN, 0.5, 0.75]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(
            decode(&floats, Depth::Float, Components::Rgb, false),
            [0.25, 0.0, 1.0, 0.0, 0.5, 0.75],
            "clamped, NaN as 0"
        );
    }

    #[test]
    fn bgra_is_read_blue_first_and_alpha_only_is_refused() {
        assert_eq!(
            decode(&[255, 0, 51, 255], Depth::Byte, Components::Rgba, true),
            [51.0 / 255.0, 0.0, 1.0]
        );
        let mut out = Vec::new();
        assert_eq!(
            decode_row(&[1, 2], Depth::Byte, Components::Alpha, false, &mut out),
            Err(ALPHA_ONLY.to_string())
        );
    }

    fn frame(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| [f(x, y); 3])
            .collect()
    }

    fn rgb(width: usize, height: usize, pixels: &[f32]) -> RgbFrame<'_> {
        RgbFrame {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn a_source_at_the_generation_size_is_copied_exactly() {
        let px = frame(4, 3, |x, y| (x * 3 + y) as f32 / 11.0);
        let out = to_generation(rgb(4, 3, &px), Transfer::Srgb, FitMode::Fill, (4, 3), 1.0);
        assert_eq!(out, px);
    }

    #[test]
    fn a_linear_source_is_encoded_with_the_srgb_curve() {
        let px = frame(2, 2, |_, _| 0.18);
        let out = to_generation(rgb(2, 2, &px), Transfer::Linear, FitMode::Fit, (2, 2), 1.0);
        let want = transfer::linear_to_srgb(0.18);
        assert!(out.iter().all(|v| (v - want).abs() < 1e-6), "{out:?}");
        assert!((want - 0.461_356).abs() < 1e-6);
    }

    /// Wide sources (8×2) on narrower generation frames.
    #[test]
    fn fill_crops_fit_letterboxes_and_stretch_squeezes() {
        // Fill: the middle 2×2 of the source (source columns 3 and 4), copied (scale 1, whole shift).
        let halves = frame(8, 2, |x, _| if x < 4 { 0.2 } else { 0.8 });
        let fill = to_generation(
            rgb(8, 2, &halves),
            Transfer::Srgb,
            FitMode::Fill,
            (2, 2),
            1.0,
        );
        assert_eq!(fill, frame(2, 2, |x, _| if x == 0 { 0.2 } else { 0.8 }));
        // Fit onto 4×3: the source shrinks to 4×1 in the middle row, black bars above and below.
        let flat = frame(8, 2, |_, _| 0.5);
        let fit = to_generation(rgb(8, 2, &flat), Transfer::Srgb, FitMode::Fit, (4, 3), 1.0);
        let rows: Vec<Vec<f32>> = fit.chunks(12).map(|r| r.to_vec()).collect();
        assert_eq!(rows[0], [0.0; 12], "bar");
        assert_eq!(rows[2], [0.0; 12], "bar");
        assert!(rows[1].iter().all(|v| (v - 0.5).abs() < 1e-5), "{fit:?}");
        // Stretch: the whole source covers the whole frame.
        let stretch = to_generation(
            rgb(8, 2, &flat),
            Transfer::Srgb,
            FitMode::Stretch,
            (4, 3),
            1.0,
        );
        assert!(
            stretch.iter().all(|v| (v - 0.5).abs() < 1e-5),
            "{stretch:?}"
        );
    }

    #[test]
    fn anamorphic_sources_keep_their_display_aspect() {
        // 2×2 pixels twice as wide as tall display as 4×2: Fit onto 4×2 covers it, no bars.
        let px = frame(2, 2, |x, _| x as f32);
        let out = to_generation(rgb(2, 2, &px), Transfer::Srgb, FitMode::Fit, (4, 2), 2.0);
        let red: Vec<f32> = out.chunks(3).map(|p| p[0]).collect();
        assert!(red[0] < 0.05 && red[3] > 0.95, "{red:?}");
        let square = to_generation(rgb(2, 2, &px), Transfer::Srgb, FitMode::Fit, (4, 2), 1.0);
        assert_eq!(square[0], 0.0, "square pixels leave a bar at the left");
    }
}
