//! Denoising schedulers, numerically matching their diffusers counterparts, one module each: DDIM, Euler,
//! Euler ancestral, DPM-Solver++ 2M, LCM, flow-matching Euler. Each declares the model parameterisations it
//! handles ([`SchedulerKind::parameterisations`]). Tables are computed the way diffusers computes them (f32
//! where diffusers uses torch f32, f64 where it uses numpy); the update rules run in f64 per element.

mod config;
mod ddim;
mod ddpm;
mod dpmpp_2m;
mod euler;
mod euler_ancestral;
mod flow_euler;
mod kind;
mod lcm;
mod prediction;
mod tables;

pub use config::{BetaSchedule, SchedulerConfig, Spacing};
pub use kind::SchedulerKind;
pub use prediction::{Parameterisation, Prediction};

use crate::noise::NoiseStream;

/// One configured scheduler for one generation: its timesteps and its update rule.
pub trait Scheduler: Send + std::fmt::Debug {
    fn kind(&self) -> SchedulerKind;

    /// The timestep the denoiser receives at each step.
    fn timesteps(&self) -> &[f64];

    /// σ per step followed by the final σ (Euler family, DPM-Solver, flow matching); empty otherwise.
    fn sigmas(&self) -> &[f64] {
        &[]
    }

    /// What unit-variance initial noise is multiplied by.
    fn init_noise_sigma(&self) -> f64 {
        1.0
    }

    /// Scales the latents into the denoiser's input at `step` (only the Euler family changes them).
    fn scale_model_input(&self, _step: usize, sample: &[f32]) -> Vec<f32> {
        sample.to_vec()
    }

    /// Advances `sample` in place by one step given the (guided) denoiser output. Stochastic kinds draw their
    /// noise from `noise` (one value per element, in order).
    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut NoiseStream,
    );
}

impl SchedulerKind {
    /// Configures this kind from a package's scheduler config for `steps` steps. It does not check the
    /// parameterisation (see [`SchedulerConfig::check_kind`]). Errors are user-facing phrases.
    pub fn build(
        self,
        config: &SchedulerConfig,
        steps: usize,
    ) -> Result<Box<dyn Scheduler>, String> {
        let train = config.num_train_timesteps;
        if steps == 0 || steps > train {
            return Err(format!("steps must be between 1 and {train} (got {steps})"));
        }
        Ok(match self {
            SchedulerKind::Ddim => Box::new(ddim::Ddim::new(config, steps)?),
            SchedulerKind::Euler => Box::new(euler::Euler::new(config, steps)),
            SchedulerKind::EulerAncestral => {
                Box::new(euler_ancestral::EulerAncestral::new(config, steps))
            }
            SchedulerKind::DpmPp2m => Box::new(dpmpp_2m::DpmPp2m::new(config, steps)),
            SchedulerKind::Lcm => Box::new(lcm::Lcm::new(config, steps)?),
            SchedulerKind::FlowEuler => Box::new(flow_euler::FlowEuler::new(config, steps)),
        })
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
            SchedulerKind::Ddim.build(&cfg, 0).unwrap_err(),
            "steps must be between 1 and 1000 (got 0)"
        );
        assert_eq!(
            SchedulerKind::Lcm.build(&cfg, 51).unwrap_err(),
            "LCM takes at most 50 steps (got 51)"
        );
        assert_eq!(
            SchedulerKind::Ddim
                .build(&cfg, 1000)
                .unwrap()
                .timesteps()
                .len(),
            1000
        );
    }
}
