//! Text-to-video engine: a model package (diffusers / Optimum ONNX layout) of one of the model families
//! (ModelScope, Wan) → tokenizer → text encoder (embeddings cached) → denoising loop with classifier-free
//! guidance → VAE decode, over ONNX Runtime loaded at run time.
//! No OpenFX here; the contract with other crates is in docs/ARCHITECTURE.md.

mod binding;
pub mod cuda;
mod embeddings;
mod encoding;
mod error;
mod family;
mod gpu_memory;
mod identity;
mod io;
pub mod limits;
mod model;
pub mod noise;
mod package;
pub mod prompt_schedule;
mod request;
mod runtime;
mod runtime_info;
pub mod scheduler;
mod session_memory;
mod stats;
pub mod threads;
mod tokenizer;
mod walk;
mod window;

pub use encoding::encode_request;
pub use error::{panic_message, EngineError};
pub use gpu_memory::{
    gpu_arena_from, gpu_memory_from, gpu_memory_limit, GpuArena, GPU_ARENA_ENV, GPU_MEMORY_ENV,
};
pub use identity::model_identity;
pub use limits::MAX_SIDE;
pub use model::{Model, Sampled};
pub use noise::NoiseStream;
pub use package::{Defaults, ModelPackage, Shapes, TEXT_ENCODER_FILE, UNET_FILE, VAE_DECODER_FILE};
pub use request::{Flow, Request, SourceVideo, StepProgress, Video};
pub use runtime::{
    disable_onnx_runtime_telemetry, init_onnx_runtime, strict_device, strict_device_from, Device,
    Residency, RuntimeOptions, RELEASE_TEXT_ENCODER_ABOVE, STRICT_DEVICE_ENV,
};
pub use runtime_info::onnx_runtime_version;
pub use scheduler::{Parameterisation, Scheduler, SchedulerConfig, SchedulerKind};
pub use stats::GenerationStats;
pub use tokenizer::PromptTokenizer;

/// The version of the engine's numerics: raise it with any change that alters generated pixels for the
/// same model and request (noise stream, scheduler arithmetic, guidance, colour conversion, tensor
/// layout). Recorded in every cached clip's `clip.json`, so a clip can be traced to the arithmetic that
/// made it.
pub const NUMERICS_VERSION: u32 = 1;
