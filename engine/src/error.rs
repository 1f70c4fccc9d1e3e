//! The engine's error type. Display texts are shown to users as they are (the plugin puts them in its status
//! and error messages), so they say what is wrong and where in plain words.

use std::any::Any;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model folder is incomplete or inconsistent; `message` names the file inside it.
    #[error("model folder {}: {message}", dir.display())]
    Package { dir: PathBuf, message: String },
    /// ONNX Runtime could not be loaded or is not loaded yet.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// A request value is out of range for this model.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// ONNX Runtime failed while running one of the package's models.
    #[error("{model} failed: {message}")]
    Inference {
        model: &'static str,
        message: String,
    },
    /// A model or a denoising step produced NaN or infinity (broken weights, settings out of their sane range):
    /// the frames would be garbage, so nothing is returned (nor cached).
    #[error("{0} produced NaN or infinite values; the model or its settings are broken")]
    NotFinite(String),
    /// The progress callback asked to stop.
    #[error("generation cancelled")]
    Cancelled,
}

impl EngineError {
    pub(crate) fn package(dir: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        EngineError::Package {
            dir: dir.into(),
            message: message.into(),
        }
    }
}

/// The text a panic was raised with (`panic!` gives a `&str` or a `String`), for turning a contained panic into a
/// message.
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("no details")
}
