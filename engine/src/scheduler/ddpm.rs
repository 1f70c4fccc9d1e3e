//! What the schedulers that index ᾱ by timestep (DDIM, LCM) share: the ᾱ table, the prediction reading and
//! `clip_sample`.

use super::{Prediction, SchedulerConfig};

#[derive(Debug, Clone)]
pub(super) struct Alphas {
    cumprod: Vec<f64>,
    pub(super) prediction: Prediction,
    clip: Option<f64>,
}

impl Alphas {
    /// `clip_default`: the diffusers class default of `clip_sample` (true for DDIM, false for LCM).
    pub(super) fn new(config: &SchedulerConfig, clip_default: bool) -> Self {
        Alphas {
            cumprod: config.alphas_cumprod(),
            prediction: config.prediction_type,
            clip: config
                .clip_sample
                .unwrap_or(clip_default)
                .then_some(config.clip_sample_range),
        }
    }

    /// ᾱ at training timestep `t` (checked in range by [`check_indexable`]).
    pub(super) fn at(&self, t: f64) -> f64 {
        self.cumprod[t as usize]
    }

    /// ᾱ at timestep 0, the final ᾱ when `set_alpha_to_one` is false.
    pub(super) fn first(&self) -> f64 {
        self.cumprod[0]
    }

    pub(super) fn x0(&self, alpha: f64, x: f64, m: f64) -> f64 {
        self.prediction.x0_from_alpha(alpha, x, m)
    }

    pub(super) fn clip(&self, x0: f64) -> f64 {
        match self.clip {
            Some(r) => x0.clamp(-r, r),
            None => x0,
        }
    }
}

/// Every timestep must index the ᾱ table (`steps_offset` can push the leading spacing past its end).
pub(super) fn check_indexable(timesteps: &[f64], config: &SchedulerConfig) -> Result<(), String> {
    let train = config.num_train_timesteps;
    if timesteps.iter().any(|&t| t < 0.0 || t >= train as f64) {
        return Err(format!(
            "steps_offset {} puts timesteps outside 0..{train}",
            config.steps_offset
        ));
    }
    Ok(())
}
