//! Latent consistency (LCM) multistep sampling, as diffusers' `LCMScheduler`.

use super::ddpm::{check_indexable, Alphas};
use super::prediction::DDPM_FAMILY;
use super::tables::linspace;
use super::{Parameterisation, Scheduler, SchedulerConfig, SchedulerKind};
use crate::noise::NoiseStream;

pub(super) const HANDLES: &[Parameterisation] = DDPM_FAMILY;

#[derive(Debug, Clone)]
pub(super) struct Lcm {
    alphas: Alphas,
    timestep_scaling: f64,
    timesteps: Vec<f64>,
}

impl Lcm {
    pub(super) fn new(config: &SchedulerConfig, steps: usize) -> Result<Self, String> {
        let train = config.num_train_timesteps;
        let original = config.original_inference_steps;
        if original == 0 || original > train {
            return Err(format!(
                "original_inference_steps {original} is out of range"
            ));
        }
        if steps > original {
            return Err(format!("LCM takes at most {original} steps (got {steps})"));
        }
        let k = train / original;
        let origin: Vec<f64> = (1..=original).rev().map(|i| (i * k) as f64 - 1.0).collect();
        let timesteps: Vec<f64> = linspace(0.0, original as f64, steps + 1)
            .into_iter()
            .take(steps)
            .map(|x| origin[x.floor() as usize])
            .collect();
        check_indexable(&timesteps, config)?;
        Ok(Lcm {
            alphas: Alphas::new(config, false),
            timestep_scaling: config.timestep_scaling,
            timesteps,
        })
    }
}

impl Scheduler for Lcm {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Lcm
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn noise_weights(&self, step: usize) -> (f64, f64) {
        let a = self.alphas.at(self.timesteps[step]);
        (a.sqrt(), (1.0 - a).sqrt())
    }

    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut NoiseStream,
    ) {
        let n = self.timesteps.len();
        let t = self.timesteps[step];
        let prev = if step + 1 < n {
            self.timesteps[step + 1]
        } else {
            t
        };
        let (a, a_prev) = (self.alphas.at(t), self.alphas.at(prev));
        let scaled = t * self.timestep_scaling;
        let c_skip = 0.25 / (scaled * scaled + 0.25);
        let c_out = scaled / (scaled * scaled + 0.25).sqrt();
        let last = step + 1 == n;
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let xv = *x as f64;
            let x0 = self.alphas.clip(self.alphas.x0(a, xv, m as f64));
            let denoised = (c_out * x0 + c_skip * xv) as f32 as f64;
            *x = if last {
                denoised as f32
            } else {
                (a_prev.sqrt() * denoised + (1.0 - a_prev).sqrt() * noise.next_normal() as f64)
                    as f32
            };
        }
    }
}
