//! What a generation is asked for and what it returns, and the checks of a request against a package.

use crate::error::EngineError;
use crate::package::{Defaults, ModelPackage, MAX_SIDE};
use crate::scheduler::{Scheduler, SchedulerKind};

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
    pub frames: u32,
}

impl Request {
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
        if !(1..=1000).contains(&r.steps) {
            return bad(format!(
                "steps must be between 1 and 1000 (got {})",
                r.steps
            ));
        }
        let max_frames = self.defaults().max_frames;
        if !(1..=max_frames).contains(&r.frames) {
            return bad(format!(
                "frames must be between 1 and {max_frames} (got {})",
                r.frames
            ));
        }
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
        Scheduler::new(r.scheduler, self.scheduler_config(), r.steps as usize)
            .map_err(EngineError::InvalidRequest)?;
        Ok(())
    }

    /// The initial latent tensor's shape for a request: [1, channels, frames, height/f, width/f].
    pub fn latent_shape(&self, r: &Request) -> [usize; 5] {
        let s = self.shapes();
        let f = s.vae_factor;
        [
            1,
            s.latent_channels,
            r.frames as usize,
            (r.height / f) as usize,
            (r.width / f) as usize,
        ]
    }
}
