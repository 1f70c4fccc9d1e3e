//! What a generation is asked for and what it returns, and the checks of a request against a package.

use std::sync::Arc;

use crate::error::EngineError;
use crate::family::{nearest_frames, nearest_multiple};
use crate::limits::{
    tensor_values, MAX_FRAMES, MAX_GUIDANCE, MAX_SIDE, MAX_STEPS, MAX_TENSOR_VALUES,
};
use crate::package::{Defaults, ModelPackage};
use crate::scheduler::SchedulerKind;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub prompt: String,
    /// The unconditional text of classifier-free guidance (empty: the empty prompt).
    pub negative_prompt: String,
    pub seed: u64,
    pub steps: u32,
    /// Classifier-free guidance scale; at most 1 runs the UNet once per step without guidance.
    pub guidance: f32,
    pub scheduler: SchedulerKind,
    pub width: u32,
    pub height: u32,
    /// Frames of the clip. Above the package's `max_frames` the clip is generated in overlapping windows
    /// of its default frame count (see `window`), up to [`crate::limits::MAX_FRAMES`].
    pub frames: u32,
    /// Video-to-video: the clip to start from and how far from it to go.
    pub source: Option<SourceVideo>,
    /// The image the clip starts from (its first frame): `width` × `height` RGB interleaved in 0..1.
    pub start_image: Option<Arc<[f32]>>,
}

/// Source frames for video-to-video (SDEdit): the source is encoded, noised to the step `strength` maps
/// to, and denoised with the prompt from there.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceVideo {
    /// Exactly the request's `frames`, each `width` × `height` RGB interleaved in 0..1 (as [`Video`]).
    pub frames: Vec<Arc<[f32]>>,
    /// 0 gives the source back (through the VAE), 1 is pure generation (the source is not read); the
    /// last `⌊steps · strength⌋` steps run, as diffusers' video-to-video pipelines count them.
    pub strength: f32,
}

impl SourceVideo {
    /// Whether the source decides any pixel: a strength below 1.
    pub fn is_used(&self) -> bool {
        self.strength < 1.0
    }
}

impl Request {
    /// Whether classifier-free guidance runs: a scale above 1. At most 1 the denoiser runs once per step on
    /// the prompt alone and reads neither the scale nor the negative prompt.
    pub fn is_guided(&self) -> bool {
        self.guidance > 1.0
    }

    /// A request for `prompt` with the package's defaults for everything else.
    pub fn with_defaults(defaults: &Defaults, prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            negative_prompt: String::new(),
            seed: 0,
            steps: defaults.steps,
            guidance: defaults.guidance,
            scheduler: defaults.scheduler,
            width: defaults.width,
            height: defaults.height,
            frames: defaults.frames,
            source: None,
            start_image: None,
        }
    }
}

/// Generated frames: RGB interleaved, 0..1, display-referred (sRGB), top row first.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    pub width: u32,
    pub height: u32,
    pub frames: Vec<Vec<f32>>,
}

/// Reported once before the first denoising step (`step` 0) and after every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepProgress {
    pub step: u32,
    pub steps: u32,
}

/// What the progress callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Cancel,
}

impl ModelPackage {
    /// Checks a request against this package's limits, with the texts users see.
    pub fn validate(&self, r: &Request) -> Result<(), EngineError> {
        let bad = |m: String| Err(EngineError::InvalidRequest(m));
        if !(1..=MAX_STEPS).contains(&r.steps) {
            return bad(format!(
                "steps must be between 1 and {MAX_STEPS} (got {})",
                r.steps
            ));
        }
        if !(1..=MAX_FRAMES).contains(&r.frames) {
            return bad(format!(
                "frames must be between 1 and {MAX_FRAMES} (got {})",
                r.frames
            ));
        }
        self.family_impl()
            .check_request(r)
            .map_err(EngineError::InvalidRequest)?;
        let m = self.shapes().size_multiple;
        for (name, v) in [("width", r.width), ("height", r.height)] {
            if v == 0 || v % m != 0 || v > MAX_SIDE {
                return bad(format!(
                    "{name} must be a multiple of {m} between {m} and {} (got {v})",
                    MAX_SIDE
                ));
            }
        }
        if !r.guidance.is_finite() {
            return bad(format!(
                "guidance must be a finite number (got {})",
                r.guidance
            ));
        }
        if !(0.0..=MAX_GUIDANCE).contains(&r.guidance) {
            return bad(format!(
                "guidance must be between 0 and {MAX_GUIDANCE} (got {})",
                r.guidance
            ));
        }
        self.check_tensor_sizes(r.width, r.height, r.frames)
            .map_err(EngineError::InvalidRequest)?;
        self.check_conditioning(r)
            .map_err(EngineError::InvalidRequest)?;
        crate::prompt_schedule::parse(&r.prompt).map_err(EngineError::InvalidRequest)?;
        let config = self.scheduler_config();
        config
            .check_kind(r.scheduler)
            .map_err(EngineError::InvalidRequest)?;
        r.scheduler
            .build(config, r.steps as usize)
            .map_err(EngineError::InvalidRequest)?;
        Ok(())
    }

    /// Checks the source video and the start image: strength 0 to 1, one frame of the request's size per
    /// clip frame, finite values, and a package that can encode them.
    fn check_conditioning(&self, r: &Request) -> Result<(), String> {
        let values = r.width as usize * r.height as usize * 3;
        let frame_ok = |f: &[f32]| f.len() == values && f.iter().all(|v| v.is_finite());
        let mut needs_encoder = r.start_image.is_some();
        if let Some(source) = &r.source {
            let s = source.strength;
            if !(0.0..=1.0).contains(&s) {
                return Err(format!("source strength must be from 0 to 1 (got {s})"));
            }
            if source.is_used() {
                needs_encoder = true;
                if source.frames.len() != r.frames as usize {
                    return Err(format!(
                        "the source has {} frames; the clip has {}",
                        source.frames.len(),
                        r.frames
                    ));
                }
                if !source.frames.iter().all(|f| frame_ok(f)) {
                    return Err(format!(
                        "source frames must be {}×{} RGB with finite values",
                        r.width, r.height
                    ));
                }
            }
        }
        if let Some(image) = &r.start_image {
            if !frame_ok(image) {
                return Err(format!(
                    "the start image must be {}×{} RGB with finite values",
                    r.width, r.height
                ));
            }
        }
        if needs_encoder && !self.can_encode() {
            return Err(format!(
                "{} has no VAE encoder (vae_encoder/), which video-to-video and start images need; \
                 export it again with models/export_{}.py",
                self.name(),
                if self.family() == "wan" { "wan" } else { "diffusers" }
            ));
        }
        Ok(())
    }

    /// Whether the package has a VAE encoder, so it can start from a source clip or an image.
    pub fn can_encode(&self) -> bool {
        self.family_impl().has_encoder()
    }

    /// Whether a clip of `frames` is generated in overlapping windows (longer than `max_frames`; each
    /// window is the package's default frame count).
    pub fn is_windowed(&self, frames: u32) -> bool {
        frames > self.defaults().max_frames
    }

    /// Checks that every tensor a generation of this size allocates (the family names them: the denoiser
    /// input with two copies of the latents under guidance, the text context, the decoded clip, ...) stays
    /// within [`MAX_TENSOR_VALUES`].
    pub(crate) fn check_tensor_sizes(
        &self,
        width: u32,
        height: u32,
        frames: u32,
    ) -> Result<(), String> {
        for (what, dims) in self.family_impl().tensors(width, height, frames) {
            if tensor_values(&dims).is_none() {
                return Err(format!(
                    "{what} {dims:?} would hold more than {MAX_TENSOR_VALUES} values (the engine's \
                     limit); ask for fewer frames or a smaller size"
                ));
            }
        }
        Ok(())
    }

    /// The initial latent tensor's shape for a request: [1, channels, latent frames, height/f, width/f].
    pub fn latent_shape(&self, r: &Request) -> [usize; 5] {
        self.family_impl().latent_shape(r)
    }

    /// The nearest frame count the family accepts, within 1 to [`MAX_FRAMES`] (ModelScope: any; Wan: 4k+1,
    /// 80 → 81, as diffusers rounds): what the plugin offers instead of a count that would be refused.
    pub fn fit_frames(&self, frames: u32) -> u32 {
        let step = self.family_impl().frame_step();
        nearest_frames(frames, step).clamp(1, (MAX_FRAMES - 1) / step * step + 1)
    }

    /// The nearest width or height the family accepts: a multiple of the size multiple (halves round
    /// up), from one multiple up to [`MAX_SIDE`].
    pub fn fit_side(&self, side: u32) -> u32 {
        let m = self.shapes().size_multiple;
        nearest_multiple(side, m).clamp(m, MAX_SIDE / m * m)
    }
}
