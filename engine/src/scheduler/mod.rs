//! Denoising schedulers, numerically matching their diffusers counterparts (DDIM, Euler, Euler ancestral,
//! DPM-Solver++ 2M, LCM, flow-matching Euler). Tables are computed the way diffusers computes them (f32 where
//! diffusers uses torch f32, f64 where it uses numpy); the update rules run in f64 per element.

mod config;
mod kind;
mod tables;

pub use config::{BetaSchedule, Prediction, SchedulerConfig, Spacing};
pub use kind::SchedulerKind;

use crate::noise::NoiseStream;
use tables::{arange_down, interp, linspace, np_round, sigma_table, spaced_timesteps, to_f32};

/// One configured scheduler for one generation (`steps` inference steps).
#[derive(Debug, Clone)]
pub struct Scheduler {
    kind: SchedulerKind,
    prediction: Prediction,
    alphas_cumprod: Vec<f64>,
    final_alpha_cumprod: f64,
    clip_sample: Option<f64>,
    train: usize,
    timesteps: Vec<f64>,
    /// σ per step plus a trailing final σ (Euler family, DPM, flow); empty for DDIM and LCM.
    sigmas: Vec<f64>,
    init_noise_sigma: f64,
    timestep_scaling: f64,
    /// DPM-Solver++: the previous step's x̂₀ prediction.
    previous_x0: Option<Vec<f64>>,
}

impl Scheduler {
    /// Configures `kind` from a package's scheduler config for `steps` steps. Errors are user-facing phrases.
    pub fn new(
        kind: SchedulerKind,
        config: &SchedulerConfig,
        steps: usize,
    ) -> Result<Self, String> {
        let train = config.num_train_timesteps;
        if steps == 0 || steps > train {
            return Err(format!("steps must be between 1 and {train} (got {steps})"));
        }
        let alphas_cumprod = config.alphas_cumprod();
        let spacing = config.spacing_for(kind);
        let clip_default = matches!(kind, SchedulerKind::Ddim);
        let mut s = Scheduler {
            kind,
            prediction: config.prediction_type,
            final_alpha_cumprod: if config.set_alpha_to_one {
                1.0
            } else {
                alphas_cumprod[0]
            },
            clip_sample: config
                .clip_sample
                .unwrap_or(clip_default)
                .then_some(config.clip_sample_range),
            alphas_cumprod,
            train,
            timesteps: vec![],
            sigmas: vec![],
            init_noise_sigma: 1.0,
            timestep_scaling: config.timestep_scaling,
            previous_x0: None,
        };
        match kind {
            SchedulerKind::Ddim => {
                s.timesteps = spaced_timesteps(spacing, train, steps, config.steps_offset);
            }
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let mut ts = spaced_timesteps(spacing, train, steps, config.steps_offset);
                if spacing == Spacing::Linspace {
                    // diffusers builds this one with dtype=float32 and does not round it.
                    ts = linspace(0.0, train as f64 - 1.0, steps)
                        .into_iter()
                        .rev()
                        .map(to_f32)
                        .collect();
                }
                let table = sigma_table(&s.alphas_cumprod);
                s.sigmas = ts.iter().map(|&t| to_f32(interp(t, &table))).collect();
                s.sigmas.push(0.0);
                let max = s.sigmas.iter().cloned().fold(0.0, f64::max);
                s.init_noise_sigma = match spacing {
                    Spacing::Linspace | Spacing::Trailing => max,
                    Spacing::Leading => to_f32((max * max + 1.0).sqrt()),
                };
                s.timesteps = ts;
            }
            SchedulerKind::DpmPp2m => {
                let t = train as f64;
                let ts: Vec<f64> = match spacing {
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
                let table = sigma_table(&s.alphas_cumprod);
                s.sigmas = ts.iter().map(|&t| to_f32(interp(t, &table))).collect();
                s.sigmas.push(0.0);
                s.timesteps = ts;
            }
            SchedulerKind::Lcm => {
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
                s.timesteps = linspace(0.0, original as f64, steps + 1)
                    .into_iter()
                    .take(steps)
                    .map(|x| origin[x.floor() as usize])
                    .collect();
            }
            SchedulerKind::FlowEuler => {
                let t = train as f64;
                let shift = |sig: f64| config.shift * sig / (1.0 + (config.shift - 1.0) * sig);
                let shift32 = |sig: f32| {
                    let sh = config.shift as f32;
                    sh * sig / (1.0 + (sh - 1.0) * sig)
                };
                // Training σ runs from 1 (t = T) down to 1/T.
                let sigma_max = shift32(1.0) as f64;
                let sigma_min = shift32(1.0f32 / t as f32) as f64;
                s.sigmas = linspace(sigma_max * t, sigma_min * t, steps)
                    .into_iter()
                    .map(|x| to_f32(shift(x / t)))
                    .collect();
                s.timesteps = s
                    .sigmas
                    .iter()
                    .map(|&sig| (sig as f32 * t as f32) as f64)
                    .collect();
                s.sigmas.push(0.0);
            }
        }
        let indexes_alphas = matches!(kind, SchedulerKind::Ddim | SchedulerKind::Lcm);
        if indexes_alphas && s.timesteps.iter().any(|&t| t < 0.0 || t >= train as f64) {
            return Err(format!(
                "steps_offset {} puts timesteps outside 0..{train}",
                config.steps_offset
            ));
        }
        Ok(s)
    }

    pub fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// The timestep the denoiser receives at each step.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    /// σ per step followed by the final σ (Euler family, DPM-Solver, flow matching); empty otherwise.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// What unit-variance initial noise is multiplied by.
    pub fn init_noise_sigma(&self) -> f64 {
        self.init_noise_sigma
    }

    /// Scales the latents into the denoiser's input at `step` (only the Euler family changes them).
    pub fn scale_model_input(&self, step: usize, sample: &[f32]) -> Vec<f32> {
        match self.kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let sigma = self.sigmas[step];
                let scale = to_f32((sigma * sigma + 1.0).sqrt());
                sample.iter().map(|&x| (x as f64 / scale) as f32).collect()
            }
            _ => sample.to_vec(),
        }
    }

    fn alpha(&self, t: f64) -> f64 {
        self.alphas_cumprod[t as usize]
    }

    /// x̂₀ from the denoiser output for a DDPM-family noise level ᾱ.
    fn x0_from_alpha(&self, alpha: f64, x: f64, m: f64) -> f64 {
        let beta = 1.0 - alpha;
        match self.prediction {
            Prediction::Epsilon => (x - beta.sqrt() * m) / alpha.sqrt(),
            Prediction::VPrediction => alpha.sqrt() * x - beta.sqrt() * m,
            Prediction::Sample => m,
        }
    }

    fn clip(&self, x0: f64) -> f64 {
        match self.clip_sample {
            Some(r) => x0.clamp(-r, r),
            None => x0,
        }
    }

    /// x̂₀ from the denoiser output for a Karras noise level σ (Euler family).
    fn x0_from_sigma(&self, sigma: f64, x: f64, m: f64) -> f64 {
        match self.prediction {
            Prediction::Epsilon => x - sigma * m,
            Prediction::VPrediction => {
                m * (-sigma / (sigma * sigma + 1.0).sqrt()) + x / (sigma * sigma + 1.0)
            }
            Prediction::Sample => m,
        }
    }

    /// Advances `sample` in place by one step given the (guided) denoiser output. Ancestral kinds draw their
    /// noise from `noise` (one value per element, in order).
    pub fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut NoiseStream,
    ) {
        debug_assert_eq!(model_output.len(), sample.len());
        let n = self.timesteps.len();
        match self.kind {
            SchedulerKind::Ddim => {
                let t = self.timesteps[step];
                let prev = t - (self.train / n) as f64;
                let a = self.alpha(t);
                let a_prev = if prev >= 0.0 {
                    self.alpha(prev)
                } else {
                    self.final_alpha_cumprod
                };
                for (x, &m) in sample.iter_mut().zip(model_output) {
                    let (xv, mv) = (*x as f64, m as f64);
                    let x0 = self.x0_from_alpha(a, xv, mv);
                    let eps = match self.prediction {
                        Prediction::Epsilon => mv,
                        Prediction::VPrediction => a.sqrt() * mv + (1.0 - a).sqrt() * xv,
                        Prediction::Sample => (xv - a.sqrt() * x0) / (1.0 - a).sqrt(),
                    };
                    let x0 = self.clip(x0);
                    *x = (a_prev.sqrt() * x0 + (1.0 - a_prev).sqrt() * eps) as f32;
                }
            }
            SchedulerKind::Euler => {
                let (sigma, next) = (self.sigmas[step], self.sigmas[step + 1]);
                for (x, &m) in sample.iter_mut().zip(model_output) {
                    let xv = *x as f64;
                    let x0 = self.x0_from_sigma(sigma, xv, m as f64);
                    *x = (xv + (xv - x0) / sigma * (next - sigma)) as f32;
                }
            }
            SchedulerKind::EulerAncestral => {
                let (from, to) = (self.sigmas[step], self.sigmas[step + 1]);
                let up = (to * to * (from * from - to * to) / (from * from)).sqrt();
                let down = (to * to - up * up).sqrt();
                for (x, &m) in sample.iter_mut().zip(model_output) {
                    let xv = *x as f64;
                    let x0 = self.x0_from_sigma(from, xv, m as f64);
                    let moved = (xv + (xv - x0) / from * (down - from)) as f32;
                    *x = (moved as f64 + noise.next_normal() as f64 * up) as f32;
                }
            }
            SchedulerKind::DpmPp2m => self.dpm_step(step, model_output, sample),
            SchedulerKind::Lcm => {
                let t = self.timesteps[step];
                let prev = if step + 1 < n {
                    self.timesteps[step + 1]
                } else {
                    t
                };
                let (a, a_prev) = (self.alpha(t), self.alpha(prev));
                let scaled = t * self.timestep_scaling;
                let c_skip = 0.25 / (scaled * scaled + 0.25);
                let c_out = scaled / (scaled * scaled + 0.25).sqrt();
                let last = step + 1 == n;
                for (x, &m) in sample.iter_mut().zip(model_output) {
                    let xv = *x as f64;
                    let x0 = self.clip(self.x0_from_alpha(a, xv, m as f64));
                    let denoised = (c_out * x0 + c_skip * xv) as f32 as f64;
                    *x = if last {
                        denoised as f32
                    } else {
                        (a_prev.sqrt() * denoised
                            + (1.0 - a_prev).sqrt() * noise.next_normal() as f64)
                            as f32
                    };
                }
            }
            SchedulerKind::FlowEuler => {
                let dt = self.sigmas[step + 1] - self.sigmas[step];
                for (x, &m) in sample.iter_mut().zip(model_output) {
                    *x = (*x as f64 + dt * m as f64) as f32;
                }
            }
        }
    }

    /// DPM-Solver++ (2M, midpoint): first order on the first step and on the last (final σ is zero).
    fn dpm_step(&mut self, step: usize, model_output: &[f32], sample: &mut [f32]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_labels_are_distinct() {
        for k in SchedulerKind::ALL {
            assert_eq!(SchedulerKind::from_name(k.name()), Some(k));
        }
        assert_eq!(SchedulerKind::from_name("pndm"), None);
        assert_eq!(SchedulerKind::EulerAncestral.label(), "Euler a");
        assert_eq!(SchedulerKind::DpmPp2m.to_string(), "DPM++ 2M");
    }

    #[test]
    fn bad_configs_name_the_key() {
        let err = |v: serde_json::Value| SchedulerConfig::from_json(&v).unwrap_err();
        assert_eq!(
            err(serde_json::json!({"beta_schedule": "sigmoid"})),
            "beta_schedule `sigmoid` is not supported"
        );
        assert_eq!(
            err(serde_json::json!({"prediction_type": "x"})),
            "prediction_type `x` is not supported"
        );
        assert_eq!(
            err(serde_json::json!({"thresholding": true})),
            "`thresholding: true` is not supported"
        );
        assert_eq!(
            err(serde_json::json!({"steps_offset": "1"})),
            "`steps_offset` must be a number, not \"1\""
        );
    }

    #[test]
    fn step_counts_are_bounded() {
        let cfg = SchedulerConfig::from_json(&serde_json::json!({})).unwrap();
        assert_eq!(
            Scheduler::new(SchedulerKind::Ddim, &cfg, 0).unwrap_err(),
            "steps must be between 1 and 1000 (got 0)"
        );
        assert_eq!(
            Scheduler::new(SchedulerKind::Lcm, &cfg, 51).unwrap_err(),
            "LCM takes at most 50 steps (got 51)"
        );
        assert_eq!(
            Scheduler::new(SchedulerKind::Ddim, &cfg, 1000)
                .unwrap()
                .timesteps()
                .len(),
            1000
        );
    }
}
