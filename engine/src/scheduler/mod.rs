//! Denoising schedulers, numerically matching their diffusers counterparts, one module each: DDIM, Euler,
//! Euler ancestral, DPM-Solver++ 2M, LCM, flow-matching Euler, UniPC (flow). Each declares the model parameterisations it
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
mod unipc;

pub use config::{
    BetaSchedule, FinalSigma, SchedulerConfig, SolverType, Spacing, MAX_SOLVER_ORDER,
};
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

    /// The weights (a, b) of the clean sample and of unit noise in the latents at `step`'s noise level:
    /// x = a·x̂₀ + b·ε, as diffusers' `add_noise` (`scale_noise` for flow matching) mixes them.
    fn noise_weights(&self, step: usize) -> (f64, f64);

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

/// Clean latents `x0` noised with unit noise `noise` to `step`'s level (where video-to-video starts, and
/// what a kept first frame is at each step), per element in f64.
pub fn add_noise(scheduler: &dyn Scheduler, step: usize, x0: &[f32], noise: &[f32]) -> Vec<f32> {
    let (a, b) = scheduler.noise_weights(step);
    x0.iter()
        .zip(noise)
        .map(|(&x, &e)| (a * x as f64 + b * e as f64) as f32)
        .collect()
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
            SchedulerKind::UniPc => Box::new(unipc::UniPc::new(config, steps)?),
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
        assert_eq!(
            err(serde_json::json!({"solver_order": 4})),
            "solver_order 4.0 must be a whole number from 1 to 3"
        );
        assert_eq!(
            err(serde_json::json!({"solver_type": "bh3"})),
            "solver_type `bh3` is not supported"
        );
        assert_eq!(
            err(serde_json::json!({"final_sigmas_type": "one"})),
            "final_sigmas_type `one` is not supported"
        );
        assert_eq!(
            err(serde_json::json!({"disable_corrector": [-1]})),
            "`disable_corrector` must hold step numbers, not -1"
        );
        assert_eq!(
            err(serde_json::json!({"shift_terminal": 0.1})),
            "`shift_terminal: 0.1` is not supported"
        );
        assert_eq!(
            err(serde_json::json!({"use_exponential_sigmas": true})),
            "`use_exponential_sigmas: true` is not supported"
        );
    }

    /// Wan's scheduler config (UniPC over flow sigmas) runs UniPC by default and offers only the flow kinds.
    #[test]
    fn wan_configs_default_to_unipc() {
        let wan = SchedulerConfig::from_json(&serde_json::json!({
            "_class_name": "UniPCMultistepScheduler",
            "prediction_type": "flow_prediction",
            "use_flow_sigmas": true,
            "flow_shift": 5.0,
            "solver_type": "bh2",
        }))
        .unwrap();
        assert_eq!(wan.default_kind(), SchedulerKind::UniPc);
        assert_eq!(
            wan.valid_kinds(),
            [SchedulerKind::FlowEuler, SchedulerKind::UniPc]
        );
        assert_eq!(wan.shift, 5.0);
        // A UniPC config for a noise-prediction model: the engine's UniPC runs flow models only.
        let eps = SchedulerConfig::from_json(&serde_json::json!({
            "_class_name": "UniPCMultistepScheduler"
        }))
        .unwrap();
        assert_eq!(eps.default_kind(), SchedulerKind::Ddim);
        assert_eq!(
            eps.check_kind(SchedulerKind::UniPc).unwrap_err(),
            "the UniPC scheduler does not handle this model's epsilon prediction; \
             choose one of DDIM, Euler, Euler a, DPM++ 2M, LCM"
        );
    }

    #[test]
    fn a_configs_own_shift_wins_over_flow_shift() {
        let cfg = |v| SchedulerConfig::from_json(&v).unwrap().shift;
        assert_eq!(
            cfg(serde_json::json!({"shift": 2.0, "flow_shift": 5.0})),
            2.0
        );
        assert_eq!(cfg(serde_json::json!({"flow_shift": 5.0})), 5.0);
        assert_eq!(cfg(serde_json::json!({})), 1.0);
    }

    /// Settings under which diffusers' UniPC divides by zero on the last step (NaN frames) are refused.
    #[test]
    fn unipc_refuses_settings_that_divide_by_zero() {
        let build = |v: serde_json::Value, steps| {
            let cfg = SchedulerConfig::from_json(&v).unwrap();
            SchedulerKind::UniPc.build(&cfg, steps).map(|_| ())
        };
        assert_eq!(
            build(serde_json::json!({"lower_order_final": false}), 4).unwrap_err(),
            "UniPC needs `lower_order_final: true` (its last step divides by zero otherwise)"
        );
        assert_eq!(
            build(serde_json::json!({"solver_type": "bh1"}), 4).unwrap_err(),
            "UniPC's `solver_type: bh1` needs `final_sigmas_type: sigma_min` (its last step to σ 0 \
             divides by zero)"
        );
        assert_eq!(
            build(serde_json::json!({"flow_shift": 1e-300}), 4).unwrap_err(),
            "shift 1e-300 leaves UniPC no usable noise levels for 4 steps"
        );
        let fine = serde_json::json!({"solver_order": 1, "lower_order_final": false});
        assert_eq!(build(fine, 4), Ok(()));
    }

    #[test]
    fn unipc_refuses_predicting_noise_with_flow() {
        let cfg = SchedulerConfig::from_json(&serde_json::json!({
            "prediction_type": "flow_prediction",
            "use_flow_sigmas": true,
            "predict_x0": false,
        }))
        .unwrap();
        assert_eq!(
            SchedulerKind::UniPc.build(&cfg, 4).unwrap_err(),
            "UniPC with `predict_x0: false` does not handle flow prediction"
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
