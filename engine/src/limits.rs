//! Caps on what a package or a request may ask for. Each is checked before the allocation it bounds, so a
//! hostile or mistaken package gives a clear error instead of an allocation that aborts the host process
//! (a failed allocation cannot be caught). The numbers are generous for today's open text-to-video models.

/// Largest width or height the engine accepts.
pub const MAX_SIDE: u32 = 4096;

/// Most frames a clip may have; `t2v_defaults.max_frames` may not exceed it (LTX-Video's 161 is the
/// longest default among the models in the reference notes).
pub const MAX_FRAMES: u32 = 1024;

/// Most inference steps.
pub const MAX_STEPS: u32 = 1000;

/// Largest classifier-free guidance scale (real models use 1 to about 15).
pub const MAX_GUIDANCE: f32 = 100.0;

/// Highest frame rate a package may declare.
pub const MAX_FPS: f64 = 1000.0;

/// Most values in any one tensor the engine allocates: the latents, the UNet input, the text context and the
/// decoded clip (frames × height × width × 3). 2³⁰ f32 values are 4 GiB.
pub const MAX_TENSOR_VALUES: usize = 1 << 30;

/// Most tokens per prompt (the tokenizer's fixed length).
pub const MAX_TOKENS: usize = 4096;

/// Widest text embedding (`hidden_size`, `cross_attention_dim`).
pub const MAX_HIDDEN: usize = 65_536;

/// Most latent channels.
pub const MAX_LATENT_CHANNELS: usize = 1024;

/// Largest JSON or tokenizer file the engine reads into memory.
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// Most files and folders a package may hold (bounds the walk over it; a git clone of a model repository
/// holds thousands of objects under `.git/`).
pub const MAX_PACKAGE_ENTRIES: usize = 100_000;

/// The number of values in a tensor of shape `dims`, if it is within [`MAX_TENSOR_VALUES`] (checked
/// arithmetic: shapes whose product overflows are too large too).
pub(crate) fn tensor_values(dims: &[usize]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_VALUES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_values_are_bounded_and_never_overflow() {
        assert_eq!(tensor_values(&[2, 4, 3, 12, 16]), Some(4608));
        assert_eq!(tensor_values(&[MAX_TENSOR_VALUES]), Some(MAX_TENSOR_VALUES));
        assert_eq!(tensor_values(&[MAX_TENSOR_VALUES, 2]), None);
        assert_eq!(tensor_values(&[usize::MAX, usize::MAX, 0]), None);
        assert_eq!(tensor_values(&[4294967295, 4096, 4096, 3]), None);
    }
}
