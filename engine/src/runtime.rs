//! ONNX Runtime: one environment per process (loaded from a given shared library), session options, and the
//! process-wide registry that loads each model package once.

use std::path::{Path, PathBuf};
use std::sync::Once;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use parking_lot::Mutex;

use crate::error::EngineError;
use crate::runtime_info;

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
    /// Threads per operator (intra-op); 0 lets ONNX Runtime decide.
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

/// Loads ONNX Runtime from `library` once per process, with its telemetry off. The first successful call wins; later calls with
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
    disable_onnx_runtime_telemetry();
    let builder = ort::init_from(library)
        .map_err(|e| EngineError::Runtime(format!("cannot load {}: {e}", library.display())))?;
    let env = builder
        .with_name("text-to-video")
        .with_telemetry(false) // Windows builds send ETW telemetry events unless told not to
        .with_logger(runtime_info::onnx_runtime_logger())
        .build()
        .map_err(|e| EngineError::Runtime(format!("cannot start {}: {e}", library.display())))?;
    env.set_log_level(runtime_info::onnx_runtime_log_level());
    runtime_info::remember_version(library);
    *slot = Some(Runtime {
        library: library.to_path_buf(),
        env,
    });
    Ok(())
}

/// The loaded environment, or an error telling the caller to load ONNX Runtime first.
fn environment() -> Result<Environment, EngineError> {
    RUNTIME
        .lock()
        .as_ref()
        .map(|rt| rt.env.clone())
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
    let mut b = Session::builder(env).map_err(|e| e.to_string())?;
    if options.intra_threads > 0 {
        b = b
            .with_intra_threads(options.intra_threads)
            .map_err(|e| e.to_string())?;
    }
    Ok(b)
}

/// Opens `dir/rel` with the requested device, falling back to the CPU (with the reason) when CUDA is unusable.
pub(crate) fn load_session(
    dir: &Path,
    rel: &str,
    options: &RuntimeOptions,
) -> Result<LoadedSession, EngineError> {
    let env = environment()?;
    let path = dir.join(rel);
    let fail = |e: String| EngineError::package(dir, format!("{rel} cannot be loaded: {e}"));
    let mut fallback = None;
    if options.device == Device::Cuda {
        match ep::CUDA::is_available() {
            Ok(true) => {
                let attempt = builder(&env, options).and_then(|b| {
                    b.with_execution_providers([ep::CUDA::default().build().error_on_failure()])
                        .map_err(|e| e.to_string())?
                        .commit_from_file(&path)
                        .map_err(|e| e.to_string())
                });
                match attempt {
                    Ok(session) => {
                        return Ok(LoadedSession {
                            session,
                            device: Device::Cuda,
                            fallback: None,
                        })
                    }
                    Err(e) => {
                        fallback = Some(format!("CUDA could not be used ({e}); running on the CPU"))
                    }
                }
            }
            _ => {
                fallback = Some("this ONNX Runtime has no CUDA support; running on the CPU".into())
            }
        }
        log::warn!("{rel}: {}", fallback.as_deref().unwrap_or_default());
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
