//! Flow-matching Euler, as diffusers' `FlowMatchEulerDiscreteScheduler` (static `shift`).

use super::tables::{linspace, to_f32};
use super::{Parameterisation, Scheduler, SchedulerConfig, SchedulerKind};
use crate::noise::NoiseStream;

pub(super) const HANDLES: &[Parameterisation] = &[Parameterisation::Flow];

#[derive(Debug, Clone)]
pub(super) struct FlowEuler {
    timesteps: Vec<f64>,
    /// σ per step plus a trailing 0.
    sigmas: Vec<f64>,
}

impl FlowEuler {
    pub(super) fn new(config: &SchedulerConfig, steps: usize) -> Self {
        let t = config.num_train_timesteps as f64;
        let shift = |sig: f64| config.shift * sig / (1.0 + (config.shift - 1.0) * sig);
        let shift32 = |sig: f32| {
            let sh = config.shift as f32;
            sh * sig / (1.0 + (sh - 1.0) * sig)
        };
        // Training σ runs from 1 (t = T) down to 1/T.
        let sigma_max = shift32(1.0) as f64;
        let sigma_min = shift32(1.0f32 / t as f32) as f64;
        let mut sigmas: Vec<f64> = linspace(sigma_max * t, sigma_min * t, steps)
            .into_iter()
            .map(|x| to_f32(shift(x / t)))
            .collect();
        let timesteps = sigmas
            .iter()
            .map(|&sig| (sig as f32 * t as f32) as f64)
            .collect();
        sigmas.push(0.0);
        FlowEuler { timesteps, sigmas }
    }
}

impl Scheduler for FlowEuler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::FlowEuler
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// The model output is a velocity: x ← x + (σₙₑₓₜ − σ)·v.
    /// Flow matching: x = (1 − σ)·x̂₀ + σ·ε.
    fn noise_weights(&self, step: usize) -> (f64, f64) {
        let sigma = self.sigmas[step];
        (1.0 - sigma, sigma)
    }

    fn step(&mut self, step: usize, model_output: &[f32], sample: &mut [f32], _: &mut NoiseStream) {
        let dt = self.sigmas[step + 1] - self.sigmas[step];
        for (x, &m) in sample.iter_mut().zip(model_output) {
            *x = (*x as f64 + dt * m as f64) as f32;
        }
    }
}
