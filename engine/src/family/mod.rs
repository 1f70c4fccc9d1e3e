//! Model families: what differs between the diffusers pipelines the engine runs. A family is chosen by
//! `model_index.json` `_class_name` and owns its package layout and tensor contract (which files, their
//! inputs and outputs, checked when the package opens and when it loads), latent geometry, text
//! conditioning, its denoiser call and its decoder. Everything else (seeded noise, the denoising loop with
//! classifier-free guidance, progress and cancellation, finite checks, stats, the text-embedding cache) is
//! shared and lives in `model.rs`.
//!
//! Adding a family means one module here implementing [`Family`], [`TextEncoder`] and [`Denoiser`], one
//! entry in [`FAMILIES`], an exporter and fixtures.

pub(crate) mod unet3d;
mod wan;
mod wan_prompt;
mod wan_vae;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::binding::DeviceMemory;
use crate::error::EngineError;
use crate::package::{Defaults, Reader, Shapes};
use crate::request::Request;
use crate::runtime::{Device, LoadedSession, RuntimeOptions};
use crate::scheduler::SchedulerConfig;
use crate::stats::GenerationClock;
use crate::tokenizer::PromptTokenizer;

/// Opens the family part of a package from its `Reader` and `model_index.json`.
type Open = fn(&Reader, &Map<String, Value>) -> Result<Box<dyn Family>, EngineError>;

/// A pipeline class the engine runs, and how to open its packages.
struct Entry {
    class_name: &'static str,
    open: Open,
}

/// Every family, by the `_class_name` diffusers writes for it.
const FAMILIES: &[Entry] = &[
    Entry {
        class_name: "TextToVideoSDPipeline",
        open: unet3d::open,
    },
    Entry {
        class_name: "WanPipeline",
        open: wan::open,
    },
];

/// Opens the family part of a package (its files, configs and tokenizer) for `model_index.json` `index`.
pub(crate) fn open(r: &Reader, index: &Map<String, Value>) -> Result<Box<dyn Family>, EngineError> {
    let known: Vec<_> = FAMILIES.iter().map(|f| f.class_name).collect();
    let known = known.join(", ");
    let class = match index.get("_class_name") {
        Some(Value::String(class)) => class,
        None => {
            return Err(r.err(format!(
                "model_index.json has no `_class_name` (the engine runs {known})"
            )))
        }
        Some(v) => {
            return Err(r.err(format!(
                "model_index.json: `_class_name` must be a string, not {v}"
            )))
        }
    };
    let entry = FAMILIES
        .iter()
        .find(|f| f.class_name == class)
        .ok_or_else(|| {
            r.err(format!(
                "model_index.json: `_class_name` {class:?} is not a pipeline the engine runs ({known})"
            ))
        })?;
    (entry.open)(r, index)
}

/// Token ids of one prompt, padded to the family's text length, and how many of them are real (not
/// padding; framing tokens such as `</s>` count as real).
pub(crate) struct Tokens {
    pub ids: Vec<i64>,
    pub real: usize,
}

/// One denoiser run of the shared loop. Conditioning inputs of later families and modes (initial
/// latents, a first-frame mask, per-token timesteps that differ by token) belong here.
pub(crate) struct Step<'a> {
    /// The scheduler-scaled latents, one copy, [1, C, F', h, w]; the family repeats them per prompt.
    pub latents: &'a [f32],
    pub shape: [usize; 5],
    /// The scheduler's timestep, as diffusers passes it to the denoiser.
    pub timestep: f64,
    /// Which of the contexts bound by [`Denoiser::bind_contexts`] this run takes.
    pub context: usize,
    /// Prompts in `context`: the batch of the run.
    pub batch: usize,
    /// Leading latent frames that hold a clean conditioning image (Wan2.2 TI2V: their tokens get
    /// timestep 0); 0 without one.
    pub clean_frames: usize,
}

impl Step<'_> {
    /// The denoiser's batch: one copy of the latents per prompt, and its shape [batch, C, F', h, w].
    pub fn batched_latents(&self) -> (Vec<f32>, [usize; 5]) {
        let [_, c, f, h, w] = self.shape;
        (self.latents.repeat(self.batch), [self.batch, c, f, h, w])
    }
}

/// The family part of an open package (no ONNX Runtime).
pub(crate) trait Family: Send + Sync + std::fmt::Debug {
    /// Stable name, for the plugin and logs: `modelscope`, `wan`.
    fn name(&self) -> &'static str;

    /// Every ONNX file of the package, relative to its folder.
    fn onnx_files(&self) -> &'static [&'static str];

    /// The text encoder's ONNX file (one of [`Family::onnx_files`]).
    fn text_encoder_file(&self) -> &'static str;

    fn shapes(&self) -> &Shapes;

    fn tokenizer(&self) -> &PromptTokenizer;

    /// What the package generates without `t2v_defaults` (its scheduler: the config's default kind).
    fn defaults(&self, scheduler: &SchedulerConfig) -> Defaults;

    /// Frame counts are `1 + k·frame_step()` (1: any count).
    fn frame_step(&self) -> u32 {
        1
    }

    /// The family's own rules for a request whose values are in the engine's ranges, with texts that
    /// explain and suggest; the shared checks (ranges, size multiple, tensor sizes) follow.
    fn check_request(&self, _r: &Request) -> Result<(), String> {
        Ok(())
    }

    /// The initial latents' shape for a request: [1, C, F', h, w].
    fn latent_shape(&self, r: &Request) -> [usize; 5];

    /// The largest tensors a generation of this size allocates, named for messages: each is checked
    /// against `MAX_TENSOR_VALUES` before anything is allocated.
    fn tensors(&self, width: u32, height: u32, frames: u32) -> Vec<(&'static str, Vec<usize>)>;

    /// The prompt as the pipeline feeds it to its tokenizer (e.g. cleaned); also the embedding cache key.
    fn prompt_text(&self, prompt: &str) -> String {
        prompt.to_string()
    }

    /// Loads and checks the text encoder's session.
    fn load_text_encoder(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
        placement: &mut Placement,
    ) -> Result<Box<dyn TextEncoder>, EngineError>;

    /// Whether the package has a VAE encoder (optional; video-to-video and start images need it).
    fn has_encoder(&self) -> bool;

    /// Loads and checks the VAE encoder's sessions (only when a request needs them).
    fn load_encoder(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
        placement: &mut Placement,
    ) -> Result<Box<dyn Encoder>, EngineError>;

    /// Whether the denoiser itself conditions on clean leading latent frames ([`Step::clean_frames`]:
    /// Wan2.2 TI2V). Elsewhere a start image is kept by noising it to each step's level instead.
    fn conditions_on_clean_frames(&self) -> bool {
        false
    }

    /// Loads and checks the denoiser's and decoder's sessions.
    fn load_denoiser(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
        placement: &mut Placement,
    ) -> Result<Box<dyn Denoiser>, EngineError>;
}

/// A loaded text encoder.
pub(crate) trait TextEncoder: Send {
    /// The embedding of one tokenized prompt, [tokens, hidden], as the denoiser takes it.
    fn encode(
        &mut self,
        clock: &mut GenerationClock,
        tokens: &Tokens,
    ) -> Result<Vec<f32>, EngineError>;
}

/// A loaded VAE encoder.
pub(crate) trait Encoder: Send {
    /// Frames (each `width` × `height` RGB interleaved in 0..1; a count the family takes) → the latents
    /// the denoiser works in, [1, C, F', h, w], normalised or scaled as the pipeline does.
    fn encode(
        &mut self,
        clock: &mut GenerationClock,
        frames: &[Arc<[f32]>],
        width: u32,
        height: u32,
    ) -> Result<Vec<f32>, EngineError>;
}

/// A loaded denoiser and decoder.
pub(crate) trait Denoiser: Send {
    /// Binds a generation's text contexts once, for its steps to take by index ([`Step::context`]): each
    /// holds `batch` [tokens, hidden] embeddings ([negative; prompt] when guided).
    fn bind_contexts(&mut self, contexts: &[Vec<f32>], batch: usize) -> Result<(), EngineError>;

    /// Releases the bound contexts when a generation ends.
    fn release_contexts(&mut self);

    /// The denoiser's output for every prompt of the step, [batch, C, F', h, w].
    fn predict(
        &mut self,
        clock: &mut GenerationClock,
        step: &Step<'_>,
    ) -> Result<Vec<f32>, EngineError>;

    /// Final latents [1, C, F', h, w] → frames of `width` × `height`, RGB interleaved in 0..1.
    fn decode(
        &mut self,
        clock: &mut GenerationClock,
        latents: &[f32],
        shape: [usize; 5],
        width: u32,
        height: u32,
    ) -> Result<Vec<Vec<f32>>, EngineError>;

    /// Frames decoded from `latent_frames` latent frames.
    fn frames(&self, latent_frames: usize) -> usize;
}

/// Where a model's sessions really run, gathered as they load.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    sessions: usize,
    on_cuda: usize,
    /// Why a session runs elsewhere than asked (the first such reason).
    pub note: Option<String>,
}

impl Placement {
    /// Records a loaded session and hands it back.
    pub fn add(&mut self, loaded: LoadedSession) -> ort::session::Session {
        self.sessions += 1;
        if loaded.device == Device::Cuda {
            self.on_cuda += 1;
        }
        if self.note.is_none() {
            self.note = loaded.fallback;
        }
        loaded.session
    }

    /// The memory of [`Placement::device`], for outputs that only feed another run.
    pub fn memory(&self, options: &RuntimeOptions) -> DeviceMemory {
        DeviceMemory {
            device: self.device(),
            gpu_index: options.gpu_index,
        }
    }

    /// CUDA when every session runs there, else the CPU.
    pub fn device(&self) -> Device {
        if self.sessions > 0 && self.on_cuda == self.sessions {
            Device::Cuda
        } else {
            Device::Cpu
        }
    }
}

/// One frame of RGB planes in [-1, 1] → interleaved RGB in [0, 1], as diffusers' `postprocess` maps
/// them: channel `ch` of pixel `p` is `data[start + ch·channel_stride + p]`.
pub(crate) fn planes_to_rgb(
    data: &[f32],
    start: usize,
    channel_stride: usize,
    plane: usize,
) -> Vec<f32> {
    let mut rgb = vec![0.0f32; 3 * plane];
    for p in 0..plane {
        for ch in 0..3 {
            rgb[3 * p + ch] = (data[start + ch * channel_stride + p] / 2.0 + 0.5).clamp(0.0, 1.0);
        }
    }
    rgb
}

/// Frames of interleaved RGB → planes in [-1, 1] as VAE encoders take them (values clamped to 0..1
/// first, as the pipelines' preprocessing leaves them): [3, N, H·W] when `channel_major` (Wan's
/// [1, 3, N, H, W]), else [N, 3, H·W] (ModelScope's [N, 3, H, W]).
pub(crate) fn rgb_to_planes(frames: &[Arc<[f32]>], plane: usize, channel_major: bool) -> Vec<f32> {
    let n = frames.len();
    let mut planes = vec![0.0f32; 3 * n * plane];
    for (k, frame) in frames.iter().enumerate() {
        for ch in 0..3 {
            let start = if channel_major {
                (ch * n + k) * plane
            } else {
                (k * 3 + ch) * plane
            };
            for (p, out) in planes[start..start + plane].iter_mut().enumerate() {
                *out = frame[3 * p + ch].clamp(0.0, 1.0) * 2.0 - 1.0;
            }
        }
    }
    planes
}

/// The frame count `1 + k·step` nearest to `frames` (ties go down, as diffusers' `n // 4 * 4 + 1` rounds).
pub(crate) fn nearest_frames(frames: u32, step: u32) -> u32 {
    let lower = frames.saturating_sub(1) / step * step + 1;
    let upper = lower.saturating_add(step);
    if frames > lower && frames - lower > upper - frames {
        upper
    } else {
        lower
    }
}

/// The multiple of `m` nearest to `v` (halves round up).
pub(crate) fn nearest_multiple(v: u32, m: u32) -> u32 {
    v.saturating_add(m / 2) / m * m
}
