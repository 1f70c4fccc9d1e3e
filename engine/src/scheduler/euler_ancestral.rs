//! Euler ancestral ("Euler a"), as diffusers' `EulerAncestralDiscreteScheduler` (η = 1).

use super::prediction::DDPM_FAMILY;
use super::tables::{euler_scale, euler_tables, EulerTables};
use super::{Parameterisation, Prediction, Scheduler, SchedulerConfig, SchedulerKind};
use crate::noise::NoiseStream;

pub(super) const HANDLES: &[Parameterisation] = DDPM_FAMILY;

#[derive(Debug, Clone)]
pub(super) struct EulerAncestral {
    prediction: Prediction,
    tables: EulerTables,
}

impl EulerAncestral {
    pub(super) fn new(config: &SchedulerConfig, steps: usize) -> Self {
        let spacing = config.spacing_for(SchedulerKind::EulerAncestral);
        EulerAncestral {
            prediction: config.prediction_type,
            tables: euler_tables(config, spacing, steps),
        }
    }
}

impl Scheduler for EulerAncestral {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::EulerAncestral
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

    /// Draws one noise value per element, in order.
    fn noise_weights(&self, step: usize) -> (f64, f64) {
        (1.0, self.tables.sigmas[step])
    }

    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut NoiseStream,
    ) {
        let (from, to) = (self.tables.sigmas[step], self.tables.sigmas[step + 1]);
        let up = (to * to * (from * from - to * to) / (from * from)).sqrt();
        let down = (to * to - up * up).sqrt();
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let xv = *x as f64;
            let x0 = self.prediction.x0_from_sigma(from, xv, m as f64);
            let moved = (xv + (xv - x0) / from * (down - from)) as f32;
            *x = (moved as f64 + noise.next_normal() as f64 * up) as f32;
        }
    }
}
