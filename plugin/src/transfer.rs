//! The output transfer: the display-referred sRGB the models generate (they learn from video encoded for
//! displays), or the linear light it encodes, with the same Rec.709 primaries, for hosts that work in
//! scene-linear (Nuke, a colour-managed Resolve timeline) and would otherwise show it washed out.
//! Linear is the sRGB EOTF (IEC 61966-2-1, the piecewise curve) applied exactly, per colour channel.

use std::sync::OnceLock;

/// `outputTransfer` choice, saved by [`Transfer::id`] in `outputTransferName`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Srgb,
    Linear,
}

impl Transfer {
    /// Menu order, frozen: projects saved before `outputTransferName` hold the index.
    pub const ALL: [Transfer; 2] = [Transfer::Srgb, Transfer::Linear];

    /// Stable id, saved in projects.
    pub fn id(self) -> &'static str {
        match self {
            Transfer::Srgb => "srgb",
            Transfer::Linear => "linear",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transfer::Srgb => "sRGB (Display)",
            Transfer::Linear => "Linear (Rec.709 Primaries)",
        }
    }

    pub fn from_index(index: i32) -> Option<Transfer> {
        usize::try_from(index)
            .ok()
            .and_then(|i| Transfer::ALL.get(i).copied())
    }

    pub fn from_id(id: &str) -> Option<Transfer> {
        Transfer::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The saved choice: the id when set (it survives menu changes), else the menu index as projects
    /// saved before the id hold it (out of range: sRGB, what those projects showed). An id this plugin
    /// does not know (saved by a newer one) is an error naming it rather than a silent switch.
    pub fn chosen(index: i32, id: &str) -> Result<Transfer, String> {
        if id.is_empty() {
            return Ok(Transfer::from_index(index).unwrap_or(Transfer::Srgb));
        }
        Transfer::from_id(id).ok_or_else(|| {
            let ids: Vec<_> = Transfer::ALL.iter().map(|t| t.id()).collect();
            format!(
                "the saved output transfer `{id}` is not one this plugin offers ({}); choose one in \
                 the Output transfer menu",
                ids.join(", ")
            )
        })
    }
}

/// The sRGB EOTF: an encoded value to linear light (computed in f64, rounded once).
pub fn srgb_to_linear(v: f32) -> f32 {
    let v = f64::from(v);
    let linear = if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    };
    linear as f32
}

/// The inverse of [`srgb_to_linear`].
pub fn linear_to_srgb(l: f32) -> f32 {
    let l = f64::from(l);
    let encoded = if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    };
    encoded as f32
}

/// Intervals of the table [`encode`] interpolates in.
const ENCODE_STEPS: usize = 1 << 16;

/// [`linear_to_srgb`] of a value clamped to 0–1, interpolated in a table of the curve: within 1e-6 of it
/// (under a 15th of a 16-bit step; the worst is at the curve's kink), at a fraction of the cost of a
/// `powf` per sample (a 1080p frame has six million).
pub fn encode(l: f32) -> f32 {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=ENCODE_STEPS)
            .map(|i| linear_to_srgb(i as f32 / ENCODE_STEPS as f32))
            .collect()
    });
    let x = l.clamp(0.0, 1.0) * ENCODE_STEPS as f32;
    let i = (x as usize).min(ENCODE_STEPS - 1);
    let t = x - i as f32;
    table[i] + (table[i + 1] - table[i]) * t
}

/// Interleaved RGB decoded to linear light.
pub fn decode_rgb(rgb: &[f32]) -> Vec<f32> {
    rgb.iter().map(|&v| srgb_to_linear(v)).collect()
}

/// RGBA pixels' colour channels mapped through `f`; alpha untouched.
pub fn map_rgba(rgba: &mut [f32], f: fn(f32) -> f32) {
    for px in rgba.chunks_exact_mut(4) {
        for v in &mut px[..3] {
            *v = f(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_has_its_published_values() {
        assert_eq!(srgb_to_linear(0.0), 0.0);
        assert_eq!(srgb_to_linear(1.0), 1.0);
        assert_eq!(srgb_to_linear(0.04045), (0.04045f64 / 12.92) as f32);
        // mid grey: 0.5 encodes 21.4 % linear light; 18 % grey encodes 0.4614
        assert!((srgb_to_linear(0.5) - 0.214_041).abs() < 1e-6);
        assert!((linear_to_srgb(0.18) - 0.461_356).abs() < 1e-6);
        assert_eq!(linear_to_srgb(1.0), 1.0);
    }

    #[test]
    fn decoding_then_encoding_gives_the_value_back() {
        for k in 0..=1000 {
            let v = k as f32 / 1000.0;
            let back = linear_to_srgb(srgb_to_linear(v));
            assert!((back - v).abs() < 2e-7, "{v} came back as {back}");
        }
    }

    #[test]
    fn the_table_stays_within_a_millionth_of_the_curve() {
        let mut worst = 0f32;
        for k in 0..=1_000_000 {
            let l = k as f32 / 1_000_000.0;
            worst = worst.max((encode(l) - linear_to_srgb(l)).abs());
        }
        assert!(worst < 1e-6, "{worst}");
        assert_eq!((encode(0.0), encode(1.0)), (0.0, 1.0));
        assert_eq!((encode(-0.5), encode(7.0)), (0.0, 1.0), "clamped");
        assert!(encode(f32::NAN).is_nan(), "NaN is not hidden");
    }

    #[test]
    fn alpha_is_left_alone() {
        let mut px = [0.5, 1.0, 0.0, 0.5];
        map_rgba(&mut px, srgb_to_linear);
        assert_eq!(px, [srgb_to_linear(0.5), 1.0, 0.0, 0.5]);
        assert_eq!(decode_rgb(&[0.5, 1.0]), [srgb_to_linear(0.5), 1.0]);
    }

    #[test]
    fn the_choice_is_read_by_id_then_index() {
        assert_eq!(Transfer::chosen(1, ""), Ok(Transfer::Linear));
        assert_eq!(Transfer::chosen(7, ""), Ok(Transfer::Srgb));
        assert_eq!(Transfer::chosen(-1, ""), Ok(Transfer::Srgb));
        assert_eq!(Transfer::chosen(0, "linear"), Ok(Transfer::Linear));
        assert_eq!(Transfer::chosen(1, "srgb"), Ok(Transfer::Srgb));
        assert_eq!(
            Transfer::chosen(0, "acescg"),
            Err(
                "the saved output transfer `acescg` is not one this plugin offers (srgb, linear); \
                 choose one in the Output transfer menu"
                    .into()
            )
        );
        for (i, t) in Transfer::ALL.iter().enumerate() {
            assert_eq!(Transfer::from_index(i as i32), Some(*t));
            assert_eq!(Transfer::from_id(t.id()), Some(*t));
        }
    }
}
