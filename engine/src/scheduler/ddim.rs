//! DDIM (η = 0), as diffusers' `DDIMScheduler`.

use super::ddpm::{check_indexable, Alphas};
use super::prediction::DDPM_FAMILY;
use super::tables::spaced_timesteps;
use super::{Parameterisation, Prediction, Scheduler, SchedulerConfig, SchedulerKind};
use crate::noise::NoiseStream;

pub(super) const HANDLES: &[Parameterisation] = DDPM_FAMILY;

#[derive(Debug, Clone)]
pub(super) struct Ddim {
    alphas: Alphas,
    final_alpha_cumprod: f64,
    train: usize,
    timesteps: Vec<f64>,
}

impl Ddim {
    pub(super) fn new(config: &SchedulerConfig, steps: usize) -> Result<Self, String> {
        let alphas = Alphas::new(config, true);
        let train = config.num_train_timesteps;
        let spacing = config.spacing_for(SchedulerKind::Ddim);
        let timesteps = spaced_timesteps(spacing, train, steps, config.steps_offset);
        check_indexable(&timesteps, config)?;
        Ok(Ddim {
            final_alpha_cumprod: if config.set_alpha_to_one {
                1.0
            } else {
                alphas.first()
            },
            alphas,
            train,
            timesteps,
        })
    }
}

impl Scheduler for Ddim {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Ddim
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn noise_weights(&self, step: usize) -> (f64, f64) {
        let a = self.alphas.at(self.timesteps[step]);
        (a.sqrt(), (1.0 - a).sqrt())
    }

    fn step(&mut self, step: usize, model_output: &[f32], sample: &mut [f32], _: &mut NoiseStream) {
        let t = self.timesteps[step];
        let prev = t - (self.train / self.timesteps.len()) as f64;
        let a = self.alphas.at(t);
        let a_prev = if prev >= 0.0 {
            self.alphas.at(prev)
        } else {
            self.final_alpha_cumprod
        };
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let (xv, mv) = (*x as f64, m as f64);
            let x0 = self.alphas.x0(a, xv, mv);
            let eps = match self.alphas.prediction {
                Prediction::Epsilon => mv,
                Prediction::VPrediction => a.sqrt() * mv + (1.0 - a).sqrt() * xv,
                Prediction::Sample => (xv - a.sqrt() * x0) / (1.0 - a).sqrt(),
            };
            let x0 = self.alphas.clip(x0);
            *x = (a_prev.sqrt() * x0 + (1.0 - a_prev).sqrt() * eps) as f32;
        }
    }
}
