//! The unit the cache stores: one generated clip, frames shared by `Arc` so a hit never copies pixels.

use std::sync::Arc;

/// A clip of RGB frames: interleaved `f32` in 0..1 (display-referred), top row first, `width * height * 3`
/// values per frame. Valid by construction ([`Clip::new`] checks the sizes), so every consumer can index
/// frames without re-checking.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    width: u32,
    height: u32,
    frames: Vec<Arc<[f32]>>,
}

/// Why a set of buffers is not a clip.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClipError {
    #[error("a clip needs a non-zero size and at least one frame (got {width}x{height}, {frames} frames)")]
    Empty {
        width: u32,
        height: u32,
        frames: usize,
    },
    #[error("frame {index} has {actual} values; {width}x{height} RGB needs {expected}")]
    FrameSize {
        index: usize,
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
}

impl Clip {
    /// Checks that every frame holds exactly `width * height * 3` values.
    pub fn new(width: u32, height: u32, frames: Vec<Arc<[f32]>>) -> Result<Clip, ClipError> {
        if width == 0 || height == 0 || frames.is_empty() {
            return Err(ClipError::Empty {
                width,
                height,
                frames: frames.len(),
            });
        }
        let expected = width as usize * height as usize * 3;
        if let Some((index, frame)) = frames.iter().enumerate().find(|(_, f)| f.len() != expected) {
            return Err(ClipError::FrameSize {
                index,
                width,
                height,
                expected,
                actual: frame.len(),
            });
        }
        Ok(Clip {
            width,
            height,
            frames,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The frames in order; clone an element to keep a frame without copying it.
    pub fn frames(&self) -> &[Arc<[f32]>] {
        &self.frames
    }

    /// Bytes of pixel data, what the memory budget counts.
    pub fn byte_size(&self) -> usize {
        self.frames
            .iter()
            .map(|f| std::mem::size_of_val::<[f32]>(f))
            .sum()
    }

    /// The clip as the disk tier stores it (16 bits per channel). The cache hands out this form even right
    /// after a generation, so a clip read back from disk — on this machine or another render node — is
    /// bit-identical to the one first served.
    pub(crate) fn quantized(&self) -> Clip {
        let frames = self
            .frames
            .iter()
            .map(|f| {
                f.iter()
                    .map(|&v| from_u16(to_u16(v)))
                    .collect::<Arc<[f32]>>()
            })
            .collect();
        Clip {
            width: self.width,
            height: self.height,
            frames,
        }
    }
}

/// 0..1 float to the 16-bit code the PNG stores (clamped; NaN becomes 0).
pub(crate) fn to_u16(v: f32) -> u16 {
    if v.is_nan() {
        return 0;
    }
    (v.clamp(0.0, 1.0) * 65535.0).round() as u16
}

pub(crate) fn from_u16(code: u16) -> f32 {
    f32::from(code) / 65535.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_frame_sizes() {
        let ok: Arc<[f32]> = vec![0.0; 2 * 2 * 3].into();
        let short: Arc<[f32]> = vec![0.0; 11].into();
        assert_eq!(
            Clip::new(2, 2, vec![ok.clone(), short])
                .unwrap_err()
                .to_string(),
            "frame 1 has 11 values; 2x2 RGB needs 12"
        );
        assert_eq!(
            Clip::new(2, 2, vec![]).unwrap_err().to_string(),
            "a clip needs a non-zero size and at least one frame (got 2x2, 0 frames)"
        );
        assert_eq!(Clip::new(2, 2, vec![ok]).unwrap().byte_size(), 48);
    }

    #[test]
    fn quantizing_twice_changes_nothing() {
        let frame: Arc<[f32]> = vec![0.123_456_78, -1.0, 2.0, f32::NAN, 0.5, 1.0].into();
        let once = Clip::new(2, 1, vec![frame]).unwrap().quantized();
        assert_eq!(&once.frames()[0][..4], &[from_u16(8091), 0.0, 1.0, 0.0]);
        assert_eq!(once.quantized(), once);
    }
}
