//! DPM-Solver++ 2M (midpoint), as diffusers' `DPMSolverMultistepScheduler` with `solver_order: 2`.

use super::prediction::DDPM_FAMILY;
use super::tables::{arange_down, linspace, np_round, sigmas_at, to_f32};
use super::{Parameterisation, Prediction, Scheduler, SchedulerConfig, SchedulerKind, Spacing};
use crate::noise::NoiseStream;

pub(super) const HANDLES: &[Parameterisation] = DDPM_FAMILY;

#[derive(Debug, Clone)]
pub(super) struct DpmPp2m {
    prediction: Prediction,
    timesteps: Vec<f64>,
    /// σ per step plus a trailing 0.
    sigmas: Vec<f64>,
    /// The previous step's x̂₀ prediction.
    previous_x0: Option<Vec<f64>>,
}

impl DpmPp2m {
    pub(super) fn new(config: &SchedulerConfig, steps: usize) -> Self {
        let train = config.num_train_timesteps;
        let t = train as f64;
        let timesteps: Vec<f64> = match config.spacing_for(SchedulerKind::DpmPp2m) {
            Spacing::Linspace => {
                let all = linspace(0.0, t - 1.0, steps + 1);
                all.into_iter().rev().take(steps).map(np_round).collect()
            }
            Spacing::Leading => {
                let ratio = (train / (steps + 1)) as f64;
                (1..=steps)
                    .rev()
                    .map(|i| i as f64 * ratio + config.steps_offset as f64)
                    .collect()
            }
            Spacing::Trailing => arange_down(t, 0.0, -(t / steps as f64))
                .into_iter()
                .map(|x| np_round(x) - 1.0)
                .collect(),
        };
        let sigmas = sigmas_at(config, &timesteps);
        DpmPp2m {
            prediction: config.prediction_type,
            timesteps,
            sigmas,
            previous_x0: None,
        }
    }
}

impl Scheduler for DpmPp2m {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::DpmPp2m
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// Variance preserving: α = 1/√(σ² + 1), σ_t = σ·α.
    fn noise_weights(&self, step: usize) -> (f64, f64) {
        let sigma = self.sigmas[step];
        let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
        (alpha, sigma * alpha)
    }

    /// First order on the first step and on the last (the final σ is zero).
    fn step(&mut self, step: usize, model_output: &[f32], sample: &mut [f32], _: &mut NoiseStream) {
        let n = self.timesteps.len();
        let alpha_sigma = |sig: f64| {
            let a = 1.0 / (sig * sig + 1.0).sqrt();
            (a, sig * a)
        };
        let (a_s0, s_s0) = alpha_sigma(self.sigmas[step]);
        let (a_t, s_t) = alpha_sigma(self.sigmas[step + 1]);
        let lambda = |a: f64, s: f64| a.ln() - s.ln();
        let h = lambda(a_t, s_t) - lambda(a_s0, s_s0);
        let x0: Vec<f64> = sample
            .iter()
            .zip(model_output)
            .map(|(&x, &m)| {
                let (xv, mv) = (x as f64, m as f64);
                match self.prediction {
                    Prediction::Epsilon => (xv - s_s0 * mv) / a_s0,
                    Prediction::VPrediction => a_s0 * xv - s_s0 * mv,
                    Prediction::Sample => mv,
                }
            })
            .map(to_f32)
            .collect();
        let previous = self.previous_x0.take().filter(|_| step + 1 < n);
        let ratio = s_t / s_s0;
        let em1 = (-h).exp() - 1.0;
        if let Some(prev) = previous {
            let (a_s1, s_s1) = alpha_sigma(self.sigmas[step - 1]);
            let r0 = (lambda(a_s0, s_s0) - lambda(a_s1, s_s1)) / h;
            for ((x, &m0), &m1) in sample.iter_mut().zip(&x0).zip(&prev) {
                let d1 = (m0 - m1) / r0;
                *x = (ratio * *x as f64 - a_t * em1 * m0 - 0.5 * a_t * em1 * d1) as f32;
            }
        } else {
            for (x, &d) in sample.iter_mut().zip(&x0) {
                *x = (ratio * *x as f64 - a_t * em1 * d) as f32;
            }
        }
        self.previous_x0 = Some(x0);
    }
}
