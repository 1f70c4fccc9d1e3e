//! ONNX Runtime: one environment per process (loaded from a given shared library), session options, and the
//! process-wide registry that loads each model package once.

use std::path::{Path, PathBuf};
use std::sync::Once;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use parking_lot::Mutex;

use crate::error::EngineError;
use crate::gpu_memory::{self, GpuArena};
use crate::{cuda, runtime_info, session_memory, threads};

/// Where sessions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// The CUDA execution provider; falls back to the CPU when the ONNX Runtime build or the machine lacks it.
    Cuda,
}

/// How sessions are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RuntimeOptions {
    pub device: Device,
    /// Which GPU [`Device::Cuda`] runs on (CUDA's device index).
    pub gpu_index: u32,
    /// Fail instead of falling back to the CPU when [`Device::Cuda`] cannot be used (render farms).
    pub strict: bool,
    /// Most GPU memory the CUDA provider takes, in bytes; 0: no limit (see [`crate::gpu_memory`]).
    pub gpu_memory_limit: u64,
    /// How the CUDA provider's memory arena grows.
    pub gpu_arena: GpuArena,
    /// Threads of a pool of this model's own; 0 shares the process's pool (see [`crate::threads`]).
    pub intra_threads: usize,
    /// Whether the text encoder stays loaded between generations.
    pub text_encoder: Residency,
}

/// Whether a model's text encoder stays loaded. Prompts are encoded once (the embeddings are cached), so a
/// released encoder is loaded again only for a prompt not encoded before; while it is released, the
/// denoiser and decoder run without its weights beside them (Wan's UMT5-XXL is 11 GB in fp16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Residency {
    /// Released when its files are larger than [`RELEASE_TEXT_ENCODER_ABOVE`], else kept.
    #[default]
    Auto,
    /// Loaded with the model and kept.
    Kept,
    /// Loaded with the model to check it, then released; loaded again only to encode a new prompt and
    /// released right after.
    Released,
}

/// [`Residency::Auto`] releases text encoders whose files (graph and external weights) are larger than
/// this: UMT5-XXL (5.7 B parameters) is, CLIP text encoders (at most 1.4 GB in fp32) are not.
pub const RELEASE_TEXT_ENCODER_ABOVE: u64 = 2 << 30;

/// The environment variable that turns strict device mode on for every render ("1").
pub const STRICT_DEVICE_ENV: &str = "T2V_STRICT_DEVICE";

/// Strict device mode as `T2V_STRICT_DEVICE` (`value`, unset: `None`) asks: "1" on, "0" or empty off.
pub fn strict_device_from(value: Option<&str>) -> Result<bool, String> {
    match value.map(str::trim) {
        None | Some("") | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(format!(
            "{STRICT_DEVICE_ENV}={other:?} is neither 1 (fail when the GPU cannot be used) nor 0"
        )),
    }
}

/// Strict device mode as this process's `T2V_STRICT_DEVICE` asks.
pub fn strict_device() -> Result<bool, String> {
    strict_device_from(std::env::var(STRICT_DEVICE_ENV).ok().as_deref())
}

struct Runtime {
    library: PathBuf,
    env: Environment,
}

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

/// Turns ONNX Runtime's telemetry off for this process. The PyPI build records usage by default on Linux
/// (a persistent device id and a database under `~/.cache/Microsoft`, a fixed-name `/tmp/.ses` that
/// follows symlinks) unless `ORT_DISABLE_TELEMETRY` is set when the library loads, so this must run before
/// it loads; hosts should call it early (the plugin does at its load action, while the host is still
/// single-threaded as far as we are concerned) because changing the environment races with other threads
/// reading it. [`init_onnx_runtime`] calls it too. Idempotent.
pub fn disable_onnx_runtime_telemetry() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var("ORT_DISABLE_TELEMETRY", "1"));
}

/// Loads ONNX Runtime from `library` once per process, with its telemetry off and one thread pool shared
/// by all sessions (sized by `T2V_THREADS`, see [`crate::threads`]). The first successful call wins; later calls with
/// another path are ignored (and logged). A failed call leaves the runtime unloaded, so another path can be tried.
pub fn init_onnx_runtime(library: &Path) -> Result<(), EngineError> {
    let mut slot = RUNTIME.lock();
    if let Some(rt) = slot.as_ref() {
        if rt.library != library {
            log::info!(
                "ONNX Runtime already loaded from {}; ignoring {}",
                rt.library.display(),
                library.display()
            );
        }
        return Ok(());
    }
    if !library.is_file() {
        return Err(EngineError::Runtime(format!(
            "library {} does not exist",
            library.display()
        )));
    }
    let threads = threads::threads().map_err(EngineError::Runtime)?;
    disable_onnx_runtime_telemetry();
    // The library first: building the thread-pool options calls into ONNX Runtime, which would otherwise
    // load a default library by name (whatever `onnxruntime.dll` / `libonnxruntime.so` the loader finds).
    let builder = ort::init_from(library)
        .map_err(|e| EngineError::Runtime(format!("cannot load {}: {e}", library.display())))?;
    let pool = threads::global_pool(threads)
        .map_err(|e| EngineError::Runtime(format!("cannot set up its thread pool: {e}")))?;
    let env = builder
        .with_name("text-to-video")
        .with_telemetry(false) // Windows builds send ETW telemetry events unless told not to
        .with_logger(runtime_info::onnx_runtime_logger())
        .with_global_thread_pool(pool)
        .build()
        .map_err(|e| EngineError::Runtime(format!("cannot start {}: {e}", library.display())))?;
    env.set_log_level(runtime_info::onnx_runtime_log_level());
    log::info!(
        "ONNX Runtime {}: {threads} shared threads",
        library.display()
    );
    runtime_info::remember_version(library);
    *slot = Some(Runtime {
        library: library.to_path_buf(),
        env,
    });
    Ok(())
}

/// The loaded environment and its library, or an error telling the caller to load ONNX Runtime first.
pub(crate) fn environment() -> Result<(Environment, PathBuf), EngineError> {
    RUNTIME
        .lock()
        .as_ref()
        .map(|rt| (rt.env.clone(), rt.library.clone()))
        .ok_or_else(|| EngineError::Runtime("not loaded (init_onnx_runtime was not called)".into()))
}

/// A session plus the device it really runs on and why it differs from the one asked for.
pub(crate) struct LoadedSession {
    pub session: Session,
    pub device: Device,
    pub fallback: Option<String>,
}

fn builder(
    env: &Environment,
    options: &RuntimeOptions,
) -> Result<ort::session::builder::SessionBuilder, String> {
    let mut b = session_memory::lean(Session::builder(env).map_err(|e| e.to_string())?)?;
    if options.intra_threads > 0 {
        let text = |e: ort::Error<_>| e.to_string();
        b = b.with_independent_thread_pool().map_err(text)?;
        b = b.with_intra_threads(options.intra_threads).map_err(text)?;
        b = b.with_intra_op_spinning(false).map_err(text)?;
    }
    Ok(b)
}

/// Opens `dir/rel` with the requested device, falling back to the CPU (with the reason) when CUDA is
/// unusable, or failing with the reason in strict mode.
pub(crate) fn load_session(
    dir: &Path,
    rel: &str,
    options: &RuntimeOptions,
) -> Result<LoadedSession, EngineError> {
    let (env, library) = environment()?;
    let path = dir.join(rel);
    let fail = |e: String| EngineError::package(dir, format!("{rel} cannot be loaded: {e}"));
    let mut fallback = None;
    if options.device == Device::Cuda {
        match cuda_session(&env, &library, options, &path) {
            Ok(session) => {
                return Ok(LoadedSession {
                    session,
                    device: Device::Cuda,
                    fallback: None,
                })
            }
            Err(why) if options.strict => {
                return Err(EngineError::Runtime(format!(
                    "strict device mode: {why}; not running on the CPU"
                )))
            }
            Err(why) => {
                log::warn!("{rel}: {why}; running on the CPU");
                fallback = Some(format!("{why}; running on the CPU"));
            }
        }
    }
    let session = builder(&env, options)
        .map_err(&fail)?
        .commit_from_file(&path)
        .map_err(|e| fail(e.to_string()))?;
    Ok(LoadedSession {
        session,
        device: Device::Cpu,
        fallback,
    })
}

/// A session of `path` on GPU `options.gpu_index`, or why CUDA cannot be used.
fn cuda_session(
    env: &Environment,
    library: &Path,
    options: &RuntimeOptions,
    path: &Path,
) -> Result<Session, String> {
    cuda::ready(library)?;
    if !ep::CUDA::is_available().unwrap_or(false) {
        return Err("CUDA unavailable: ONNX Runtime does not offer its CUDA provider".into());
    }
    let index = i32::try_from(options.gpu_index)
        .map_err(|_| format!("GPU index {} is out of range", options.gpu_index))?;
    let cuda = ep::CUDA::default().with_device_id(index);
    let provider = gpu_memory::configure(cuda, options.gpu_memory_limit, options.gpu_arena)
        .build()
        .error_on_failure();
    builder(env, options)
        .and_then(|b| {
            b.with_execution_providers([provider])
                .map_err(|e| e.to_string())?
                .commit_from_file(path)
                .map_err(|e| e.to_string())
        })
        .map_err(|e| format!("CUDA could not be used on GPU {index} ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_device_mode_reads_one_or_zero() {
        assert_eq!(strict_device_from(None), Ok(false));
        assert_eq!(strict_device_from(Some("")), Ok(false));
        assert_eq!(strict_device_from(Some("0")), Ok(false));
        assert_eq!(strict_device_from(Some(" 1 ")), Ok(true));
        assert_eq!(
            strict_device_from(Some("yes")),
            Err(
                "T2V_STRICT_DEVICE=\"yes\" is neither 1 (fail when the GPU cannot be used) nor 0"
                    .into()
            )
        );
    }
}
