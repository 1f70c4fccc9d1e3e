//! The process's one ONNX Runtime thread pool. Every session shares it (ONNX Runtime otherwise gives each
//! session its own pool sized to every core) and its threads sleep instead of spinning when idle, so a
//! loaded model costs the host nothing between renders. Its size comes from `T2V_THREADS`; the default
//! leaves one core to the host and uses no more threads than physical cores (a core's second hardware
//! thread adds little to ONNX Runtime's kernels and takes from the host's).

use ort::environment::GlobalThreadPoolOptions;

/// The environment variable that sizes the pool.
pub const THREADS_ENV: &str = "T2V_THREADS";

/// The pool size for a process that may use `logical` hardware threads on `physical` cores: one left to
/// the host, at most one per physical core, at least one.
pub fn default_threads(logical: usize, physical: usize) -> usize {
    logical.saturating_sub(1).min(physical).max(1)
}

/// The pool size `T2V_THREADS` asks for (`value`, unset: `None`) for `logical` hardware threads on
/// `physical` cores.
pub fn threads_from(value: Option<&str>, logical: usize, physical: usize) -> Result<usize, String> {
    let default = default_threads(logical, physical);
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{THREADS_ENV}={text:?} is not a number of threads (1 or more); unset it to use {default}"
            )),
        },
    }
}

/// The pool size for this process, from `T2V_THREADS`, the hardware threads this process may use and
/// the machine's physical cores.
pub fn threads() -> Result<usize, String> {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    threads_from(
        std::env::var(THREADS_ENV).ok().as_deref(),
        logical,
        num_cpus::get_physical(),
    )
}

/// The global pool's options: `threads` intra-op threads, one inter-op thread (sessions run their
/// operators in order), no spinning.
pub(crate) fn global_pool(threads: usize) -> ort::Result<GlobalThreadPoolOptions> {
    GlobalThreadPoolOptions::default()
        .with_intra_threads(threads)?
        .with_inter_threads(1)?
        .with_spin_control(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_leaves_one_core_to_the_host() {
        assert_eq!(threads_from(None, 8, 8), Ok(7));
        assert_eq!(threads_from(Some(" "), 8, 8), Ok(7));
        assert_eq!(threads_from(None, 1, 1), Ok(1));
        assert_eq!(threads_from(None, 0, 0), Ok(1));
    }

    #[test]
    fn default_takes_one_thread_per_physical_core() {
        // 16 cores with two hardware threads each: the host keeps the second threads.
        assert_eq!(threads_from(None, 32, 16), Ok(16));
        // A process confined to 4 of them (affinity, container quota).
        assert_eq!(threads_from(None, 4, 16), Ok(3));
    }

    #[test]
    fn the_variable_sets_the_size() {
        assert_eq!(threads_from(Some("3"), 8, 4), Ok(3));
        assert_eq!(threads_from(Some(" 12 "), 8, 4), Ok(12));
    }

    #[test]
    fn a_bad_value_is_named_with_the_default() {
        for bad in ["0", "-2", "four", "1.5"] {
            assert_eq!(
                threads_from(Some(bad), 4, 4),
                Err(format!(
                    "T2V_THREADS=\"{bad}\" is not a number of threads (1 or more); unset it to use 3"
                ))
            );
        }
    }
}
