//! Euler, as diffusers' `EulerDiscreteScheduler` (no Karras σ, no churn).

use super::prediction::DDPM_FAMILY;
use super::tables::{euler_scale, euler_tables, EulerTables};
use super::{Parameterisation, Prediction, Scheduler, SchedulerConfig, SchedulerKind};
use crate::noise::NoiseStream;

pub(super) const HANDLES: &[Parameterisation] = DDPM_FAMILY;

#[derive(Debug, Clone)]
pub(super) struct Euler {
    prediction: Prediction,
    tables: EulerTables,
}

impl Euler {
    pub(super) fn new(config: &SchedulerConfig, steps: usize) -> Self {
        let spacing = config.spacing_for(SchedulerKind::Euler);
        Euler {
            prediction: config.prediction_type,
            tables: euler_tables(config, spacing, steps),
        }
    }
}

impl Scheduler for Euler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Euler
    }

    fn timesteps(&self) -> &[f64] {
        &self.tables.timesteps
    }

    fn sigmas(&self) -> &[f64] {
        &self.tables.sigmas
    }

    fn init_noise_sigma(&self) -> f64 {
        self.tables.init_noise_sigma
    }

    fn scale_model_input(&self, step: usize, sample: &[f32]) -> Vec<f32> {
        euler_scale(self.tables.sigmas[step], sample)
    }

    fn noise_weights(&self, step: usize) -> (f64, f64) {
        (1.0, self.tables.sigmas[step])
    }

    fn step(&mut self, step: usize, model_output: &[f32], sample: &mut [f32], _: &mut NoiseStream) {
        let (sigma, next) = (self.tables.sigmas[step], self.tables.sigmas[step + 1]);
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let xv = *x as f64;
            let x0 = self.prediction.x0_from_sigma(sigma, xv, m as f64);
            *x = (xv + (xv - x0) / sigma * (next - sigma)) as f32;
        }
    }
}
