//! What a log line or a clip's provenance says about the runtime: the loaded ONNX Runtime's version, the
//! device and execution provider a model really runs on, and ONNX Runtime's own log lines routed into the
//! `log` facade (so they land in the host application's log, beside ours).

use std::ffi::CStr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use ort::logging::{LogLevel, LoggerFunction};

use crate::runtime::Device;

static VERSION: OnceLock<String> = OnceLock::new();

/// The version of the ONNX Runtime this process loaded ("1.31.1"), once [`crate::init_onnx_runtime`]
/// succeeded.
pub fn onnx_runtime_version() -> Option<&'static str> {
    VERSION.get().map(String::as_str)
}

/// Asks the library `init_onnx_runtime` just loaded for its version (ort keeps its own handle private).
pub(crate) fn remember_version(library: &Path) {
    // SAFETY: the library is already loaded (by ort): opening it again only takes another reference, and
    // `OrtGetApiBase` / `GetVersionString` take no arguments and return static data.
    let version = unsafe {
        libloading::Library::new(library).ok().and_then(|lib| {
            let get_base = lib
                .get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase")
                .ok()?;
            let base = get_base();
            if base.is_null() {
                return None;
            }
            let text = ((*base).GetVersionString)();
            (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
        })
    };
    if let Some(version) = version {
        let _ = VERSION.set(version);
    }
}

impl Device {
    /// How logs and `clip.json` name it.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }

    /// The ONNX Runtime execution provider sessions on this device use.
    pub fn execution_provider(self) -> &'static str {
        match self {
            Device::Cpu => "CPUExecutionProvider",
            Device::Cuda => "CUDAExecutionProvider",
        }
    }
}

/// ONNX Runtime's logger: each of its lines becomes a `log` record with target `onnxruntime`.
pub(crate) fn onnx_runtime_logger() -> LoggerFunction {
    Arc::new(|level, category, _id, location, message| {
        let level = match level {
            LogLevel::Verbose => log::Level::Trace,
            LogLevel::Info => log::Level::Info,
            LogLevel::Warning => log::Level::Warn,
            LogLevel::Error | LogLevel::Fatal => log::Level::Error,
        };
        // Its category is nearly always "onnxruntime", already the target.
        match category {
            "onnxruntime" | "" => log::log!(target: "onnxruntime", level, "{location}: {message}"),
            _ => log::log!(target: "onnxruntime", level, "[{category}] {location}: {message}"),
        }
    })
}

/// The least severe ONNX Runtime line worth producing at the `log` facade's current level (ONNX Runtime
/// formats every line it is allowed to, so it is told not to at all); its Info lines are chatty, so they
/// only come at Debug.
pub(crate) fn onnx_runtime_log_level() -> LogLevel {
    match log::max_level() {
        log::LevelFilter::Trace => LogLevel::Verbose,
        log::LevelFilter::Debug => LogLevel::Info,
        log::LevelFilter::Info | log::LevelFilter::Warn => LogLevel::Warning,
        log::LevelFilter::Error | log::LevelFilter::Off => LogLevel::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_name_their_execution_provider() {
        assert_eq!(
            (Device::Cpu.name(), Device::Cpu.execution_provider()),
            ("cpu", "CPUExecutionProvider")
        );
        assert_eq!(
            (Device::Cuda.name(), Device::Cuda.execution_provider()),
            ("cuda", "CUDAExecutionProvider")
        );
    }
}
