//! How much GPU memory the CUDA provider may take and how its arena grows. Inside an editor the GPU is
//! shared with the host's own playback and effects, so a limit keeps the model from taking it all; the
//! exact-growth arena trades a little speed for no over-allocation (ONNX Runtime's default doubles).

use ort::ep::{self, ArenaExtendStrategy};

/// The environment variable that limits the CUDA provider's memory (GB of 2^30 bytes) when the render
/// does not.
pub const GPU_MEMORY_ENV: &str = "T2V_GPU_MEMORY_GB";
/// The environment variable that chooses how the CUDA provider's arena grows: `grow` or `exact`.
pub const GPU_ARENA_ENV: &str = "T2V_GPU_ARENA";

/// Most GPU memory a limit may ask for, in GB: more than any GPU holds, small enough for a `usize`.
const MAX_GB: f64 = 1_048_576.0;

/// How the CUDA provider's memory arena grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GpuArena {
    /// Each extension doubles (ONNX Runtime's default): fewer allocations, more memory held.
    #[default]
    Grow,
    /// Each extension is what was asked for: the least memory held.
    Exact,
}

/// The limit in bytes for `gb` GB (0: none), or why it cannot be one.
pub fn gpu_memory_limit(gb: f64) -> Result<u64, String> {
    if !(0.0..=MAX_GB).contains(&gb) {
        return Err(format!(
            "a GPU memory limit of {gb} GB is not between 0 (no limit) and {MAX_GB}"
        ));
    }
    Ok((gb * (1u64 << 30) as f64) as u64)
}

/// The limit `T2V_GPU_MEMORY_GB` (`value`, unset: `None`) asks for, in bytes (0: none).
pub fn gpu_memory_from(value: Option<&str>) -> Result<u64, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(0),
        Some(text) => {
            let gb = text
                .parse::<f64>()
                .map_err(|_| format!("{GPU_MEMORY_ENV}={text:?} is not a number of GB"))?;
            gpu_memory_limit(gb).map_err(|e| format!("{GPU_MEMORY_ENV}: {e}"))
        }
    }
}

/// The arena `T2V_GPU_ARENA` (`value`, unset: `None`) asks for.
pub fn gpu_arena_from(value: Option<&str>) -> Result<GpuArena, String> {
    match value.map(str::trim) {
        None | Some("") | Some("grow") => Ok(GpuArena::Grow),
        Some("exact") => Ok(GpuArena::Exact),
        Some(other) => Err(format!(
            "{GPU_ARENA_ENV}={other:?} is neither grow (doubling, ONNX Runtime's default) nor exact"
        )),
    }
}

/// The CUDA provider with `limit` bytes (0: none) and `arena`.
pub(crate) fn configure(cuda: ep::CUDA, limit: u64, arena: GpuArena) -> ep::CUDA {
    let cuda = match arena {
        GpuArena::Grow => cuda.with_arena_extend_strategy(ArenaExtendStrategy::NextPowerOfTwo),
        GpuArena::Exact => cuda.with_arena_extend_strategy(ArenaExtendStrategy::SameAsRequested),
    };
    match usize::try_from(limit) {
        Ok(bytes) if bytes > 0 => cuda.with_memory_limit(bytes),
        _ => cuda,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_gigabytes_of_two_to_the_thirty_bytes() {
        assert_eq!(gpu_memory_from(None), Ok(0));
        assert_eq!(gpu_memory_from(Some(" ")), Ok(0));
        assert_eq!(gpu_memory_from(Some("12")), Ok(12 << 30));
        assert_eq!(gpu_memory_from(Some("0.5")), Ok(1 << 29));
        assert_eq!(
            gpu_memory_from(Some("lots")),
            Err("T2V_GPU_MEMORY_GB=\"lots\" is not a number of GB".into())
        );
        assert_eq!(
            gpu_memory_from(Some("-1")),
            Err("T2V_GPU_MEMORY_GB: a GPU memory limit of -1 GB is not between 0 (no limit) and 1048576".into())
        );
        assert!(gpu_memory_limit(f64::NAN).is_err());
    }

    #[test]
    fn the_arena_grows_by_doubling_unless_exact_is_asked_for() {
        assert_eq!(gpu_arena_from(None), Ok(GpuArena::Grow));
        assert_eq!(gpu_arena_from(Some("exact")), Ok(GpuArena::Exact));
        assert_eq!(
            gpu_arena_from(Some("small")),
            Err("T2V_GPU_ARENA=\"small\" is neither grow (doubling, ONNX Runtime's default) nor exact".into())
        );
    }

    /// The options reach the provider as ONNX Runtime's own keys.
    #[test]
    fn the_provider_gets_the_limit_and_the_strategy() {
        let options = |limit, arena| format!("{:?}", configure(ep::CUDA::default(), limit, arena));
        let limited = options(12 << 30, GpuArena::Exact);
        assert!(
            limited.contains("\"gpu_mem_limit\": \"12884901888\""),
            "{limited}"
        );
        assert!(
            limited.contains("\"arena_extend_strategy\": \"kSameAsRequested\""),
            "{limited}"
        );
        let plain = options(0, GpuArena::Grow);
        assert!(!plain.contains("gpu_mem_limit"), "{plain}");
        assert!(
            plain.contains("\"arena_extend_strategy\": \"kNextPowerOfTwo\""),
            "{plain}"
        );
    }
}
