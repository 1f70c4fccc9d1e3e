//! `scheduler_config.json` → the noise schedule (betas, ᾱ) and the per-kind settings, as diffusers reads them.

use serde_json::{Map, Value};

use super::{Parameterisation, Prediction, SchedulerKind};

/// Largest flow-matching `shift` (real models use 1 to about 17).
const MAX_SHIFT: f64 = 1000.0;

/// How training noise levels were spread over the 1000 training timesteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetaSchedule {
    Linear,
    ScaledLinear,
    SquaredCosCapV2,
}

/// How inference timesteps are picked among the training timesteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    Leading,
    Trailing,
    Linspace,
}

/// UniPC's B(h): `bh1` is h, `bh2` is eʰ − 1 (diffusers reads `midpoint`, `heun` and `logrho` as `bh2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverType {
    Bh1,
    Bh2,
}

/// The σ after the last step of the multistep solvers (`final_sigmas_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalSigma {
    Zero,
    /// The last step's σ again.
    SigmaMin,
}

/// Every `scheduler_config.json` setting the engine honours. Keys a config leaves out take the default of
/// the diffusers class of the chosen kind, as `SchedulerClass.from_config(config)` does.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    pub class_name: String,
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub beta_schedule: BetaSchedule,
    pub trained_betas: Option<Vec<f64>>,
    /// The DDPM-family reading of the denoiser output (`Epsilon` for flow models, where it is unused).
    pub prediction_type: Prediction,
    pub parameterisation: Parameterisation,
    pub spacing: Option<Spacing>,
    pub steps_offset: i64,
    pub clip_sample: Option<bool>,
    pub clip_sample_range: f64,
    pub set_alpha_to_one: bool,
    pub shift: f64,
    pub timestep_scaling: f64,
    pub original_inference_steps: usize,
    /// Multistep order of UniPC (1 to [`MAX_SOLVER_ORDER`]).
    pub solver_order: usize,
    pub solver_type: SolverType,
    pub lower_order_final: bool,
    pub predict_x0: bool,
    /// The steps after which UniPC skips its corrector.
    pub disable_corrector: Vec<usize>,
    pub final_sigmas_type: FinalSigma,
}

/// Highest multistep order the engine solves for (diffusers recommends at most 3).
pub const MAX_SOLVER_ORDER: usize = 3;

fn get_f64(m: &Map<String, Value>, key: &str, default: f64) -> Result<f64, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| format!("`{key}` must be a number, not {v}")),
    }
}

/// A number as JSON writes it (`1e+300`, not 300 digits), for messages.
pub(super) fn number(v: f64) -> String {
    Value::from(v).to_string()
}

fn get_bool(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be true or false, not {v}")),
    }
}

fn get_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be a string, not {v}")),
    }
}

impl SchedulerConfig {
    /// Parses a diffusers scheduler config. Errors are short phrases naming the key (the caller adds the file).
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let m = value.as_object().ok_or("is not a JSON object")?;
        for unsupported in [
            "thresholding",
            "rescale_betas_zero_snr",
            "use_karras_sigmas",
            "use_dynamic_shifting",
            "use_exponential_sigmas",
            "use_beta_sigmas",
        ] {
            if get_bool(m, unsupported)? == Some(true) {
                return Err(format!("`{unsupported}: true` is not supported"));
            }
        }
        let beta_schedule = match get_str(m, "beta_schedule")?.unwrap_or("linear") {
            "linear" => BetaSchedule::Linear,
            "scaled_linear" => BetaSchedule::ScaledLinear,
            "squaredcos_cap_v2" => BetaSchedule::SquaredCosCapV2,
            other => return Err(format!("beta_schedule `{other}` is not supported")),
        };
        let spacing = match get_str(m, "timestep_spacing")? {
            None => None,
            Some("leading") => Some(Spacing::Leading),
            Some("trailing") => Some(Spacing::Trailing),
            Some("linspace") => Some(Spacing::Linspace),
            Some(other) => return Err(format!("timestep_spacing `{other}` is not supported")),
        };
        let class_name = get_str(m, "_class_name")?.unwrap_or("");
        let (prediction_type, parameterisation) =
            match get_str(m, "prediction_type")?.unwrap_or("epsilon") {
                "epsilon" => (Prediction::Epsilon, Parameterisation::Epsilon),
                "v_prediction" => (Prediction::VPrediction, Parameterisation::VPrediction),
                "sample" => (Prediction::Sample, Parameterisation::Sample),
                "flow_prediction" => (Prediction::Epsilon, Parameterisation::Flow),
                other => return Err(format!("prediction_type `{other}` is not supported")),
            };
        // Flow-matching classes have no prediction_type; UniPC and DPM-Solver switch to flow with a flag.
        let flow_class = class_name == "FlowMatchEulerDiscreteScheduler"
            || get_bool(m, "use_flow_sigmas")? == Some(true);
        let parameterisation = if flow_class {
            Parameterisation::Flow
        } else {
            parameterisation
        };
        let trained_betas = match m.get("trained_betas") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|v| {
                        v.as_f64()
                            .ok_or("`trained_betas` must hold numbers".to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(v) => return Err(format!("`trained_betas` must be a list, not {v}")),
        };
        let num_train_timesteps = get_f64(m, "num_train_timesteps", 1000.0)?;
        if !(2.0..=100_000.0).contains(&num_train_timesteps) || num_train_timesteps.fract() != 0.0 {
            return Err(format!(
                "num_train_timesteps {num_train_timesteps} is out of range"
            ));
        }
        let num_train_timesteps = num_train_timesteps as usize;
        if trained_betas
            .as_ref()
            .is_some_and(|b| b.len() != num_train_timesteps)
        {
            return Err("`trained_betas` must have num_train_timesteps entries".into());
        }
        // FlowMatchEulerDiscreteScheduler calls it `shift`, UniPC and DPM-Solver `flow_shift`; a config's own
        // `shift` wins, so flow Euler on a UniPC config (Wan's) runs with its `flow_shift`.
        let shift = match m.get("shift") {
            Some(v) if !v.is_null() => get_f64(m, "shift", 1.0)?,
            _ => get_f64(m, "flow_shift", 1.0)?,
        };
        if !(shift > 0.0 && shift <= MAX_SHIFT) {
            return Err(format!(
                "shift {} must be above 0 and at most {MAX_SHIFT}",
                number(shift)
            ));
        }
        let steps_offset = get_f64(m, "steps_offset", 0.0)?;
        if !(0.0..num_train_timesteps as f64).contains(&steps_offset) || steps_offset.fract() != 0.0
        {
            return Err(format!(
                "steps_offset {} must be a whole number from 0 to {}",
                number(steps_offset),
                num_train_timesteps - 1
            ));
        }
        if let Some(v) = m.get("shift_terminal").filter(|v| !v.is_null()) {
            return Err(format!("`shift_terminal: {v}` is not supported"));
        }
        let solver_order = get_f64(m, "solver_order", 2.0)?;
        if !(1.0..=MAX_SOLVER_ORDER as f64).contains(&solver_order) || solver_order.fract() != 0.0 {
            return Err(format!(
                "solver_order {} must be a whole number from 1 to {MAX_SOLVER_ORDER}",
                number(solver_order)
            ));
        }
        let solver_type = match get_str(m, "solver_type")?.unwrap_or("bh2") {
            "bh1" => SolverType::Bh1,
            "bh2" | "midpoint" | "heun" | "logrho" => SolverType::Bh2,
            other => return Err(format!("solver_type `{other}` is not supported")),
        };
        let final_sigmas_type = match get_str(m, "final_sigmas_type")?.unwrap_or("zero") {
            "zero" => FinalSigma::Zero,
            "sigma_min" => FinalSigma::SigmaMin,
            other => return Err(format!("final_sigmas_type `{other}` is not supported")),
        };
        let disable_corrector = match m.get("disable_corrector") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| {
                            format!("`disable_corrector` must hold step numbers, not {v}")
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(v) => return Err(format!("`disable_corrector` must be a list, not {v}")),
        };
        let positive = |key: &str, default: f64| -> Result<f64, String> {
            let v = get_f64(m, key, default)?;
            if !(v > 0.0 && (v as f32).is_normal()) {
                return Err(format!("`{key}` {} must be a positive number", number(v)));
            }
            Ok(v)
        };
        let config = Self {
            class_name: class_name.to_string(),
            num_train_timesteps,
            beta_start: get_f64(m, "beta_start", 0.0001)?,
            beta_end: get_f64(m, "beta_end", 0.02)?,
            beta_schedule,
            trained_betas,
            prediction_type,
            parameterisation,
            spacing,
            steps_offset: steps_offset as i64,
            clip_sample: get_bool(m, "clip_sample")?,
            clip_sample_range: positive("clip_sample_range", 1.0)?,
            set_alpha_to_one: get_bool(m, "set_alpha_to_one")?.unwrap_or(true),
            shift,
            timestep_scaling: positive("timestep_scaling", 10.0)?,
            original_inference_steps: get_f64(m, "original_inference_steps", 50.0)? as usize,
            solver_order: solver_order as usize,
            solver_type,
            lower_order_final: get_bool(m, "lower_order_final")?.unwrap_or(true),
            predict_x0: get_bool(m, "predict_x0")?.unwrap_or(true),
            disable_corrector,
            final_sigmas_type,
        };
        config.check_betas()?;
        Ok(config)
    }

    /// The noise schedule must be usable in f32, as it is computed: every β strictly between 0 and 1 (the
    /// linear ones from `beta_start` up to `beta_end`), and every ᾱ a normal positive f32, or the denoising
    /// divides by zero and the frames come out black or NaN.
    fn check_betas(&self) -> Result<(), String> {
        let unit = |b: f64| (b as f32) > 0.0 && (b as f32) < 1.0;
        match (&self.trained_betas, self.beta_schedule) {
            (Some(betas), _) => {
                if let Some(b) = betas.iter().find(|&&b| !unit(b)) {
                    return Err(format!(
                        "`trained_betas` hold {}, outside 0 < β < 1",
                        number(*b)
                    ));
                }
            }
            (None, BetaSchedule::Linear | BetaSchedule::ScaledLinear) => {
                let (start, end) = (self.beta_start, self.beta_end);
                if !(unit(start) && unit(end) && (start as f32) < (end as f32)) {
                    return Err(format!(
                        "beta_start {} and beta_end {} must satisfy 0 < beta_start < beta_end < 1",
                        number(start),
                        number(end)
                    ));
                }
            }
            (None, BetaSchedule::SquaredCosCapV2) => {}
        }
        if let Some(t) = self
            .alphas_cumprod()
            .into_iter()
            .position(|a| !(a as f32).is_normal())
        {
            return Err(format!(
                "ᾱ at training timestep {t} is too small to compute with (the betas are too large)"
            ));
        }
        Ok(())
    }

    /// The kind whose diffusers class the config names; unknown classes fall back to DDIM.
    pub fn native_kind(&self) -> Option<SchedulerKind> {
        match self.class_name.as_str() {
            "DDIMScheduler" => Some(SchedulerKind::Ddim),
            "EulerDiscreteScheduler" => Some(SchedulerKind::Euler),
            "EulerAncestralDiscreteScheduler" => Some(SchedulerKind::EulerAncestral),
            "DPMSolverMultistepScheduler" => Some(SchedulerKind::DpmPp2m),
            "LCMScheduler" => Some(SchedulerKind::Lcm),
            "FlowMatchEulerDiscreteScheduler" => Some(SchedulerKind::FlowEuler),
            "UniPCMultistepScheduler" => Some(SchedulerKind::UniPc),
            _ => None,
        }
    }

    /// The kinds that handle this config's parameterisation, in [`SchedulerKind::ALL`] order.
    pub fn valid_kinds(&self) -> Vec<SchedulerKind> {
        SchedulerKind::ALL
            .into_iter()
            .filter(|k| k.handles(self.parameterisation))
            .collect()
    }

    /// The kind a package runs by default: its config's class when that handles the parameterisation,
    /// else the first kind that does.
    pub fn default_kind(&self) -> SchedulerKind {
        self.native_kind()
            .filter(|k| k.handles(self.parameterisation))
            .or_else(|| self.valid_kinds().first().copied())
            .unwrap_or(SchedulerKind::Ddim)
    }

    /// `Ok` when `kind` handles this config's parameterisation, else a message naming both and the valid kinds.
    pub fn check_kind(&self, kind: SchedulerKind) -> Result<(), String> {
        if kind.handles(self.parameterisation) {
            return Ok(());
        }
        let valid: Vec<_> = self.valid_kinds().iter().map(|k| k.label()).collect();
        Err(format!(
            "the {kind} scheduler does not handle this model's {}; choose one of {}",
            self.parameterisation,
            valid.join(", ")
        ))
    }

    /// The timestep spacing the chosen kind uses: the config's, else the diffusers class default.
    pub fn spacing_for(&self, kind: SchedulerKind) -> Spacing {
        self.spacing.unwrap_or(match kind {
            SchedulerKind::Ddim | SchedulerKind::Lcm => Spacing::Leading,
            _ => Spacing::Linspace,
        })
    }

    /// ᾱ_t for every training timestep, computed in f32 like diffusers' torch code (betas, 1 − β, cumprod).
    pub fn alphas_cumprod(&self) -> Vec<f64> {
        let n = self.num_train_timesteps;
        let linspace =
            |a: f64, b: f64| (0..n).map(move |i| a + (b - a) * i as f64 / (n - 1) as f64);
        let betas: Vec<f32> = match (&self.trained_betas, self.beta_schedule) {
            (Some(b), _) => b.iter().map(|&x| x as f32).collect(),
            (None, BetaSchedule::Linear) => linspace(self.beta_start, self.beta_end)
                .map(|x| x as f32)
                .collect(),
            (None, BetaSchedule::ScaledLinear) => {
                linspace(self.beta_start.sqrt(), self.beta_end.sqrt())
                    .map(|x| {
                        let r = x as f32;
                        r * r
                    })
                    .collect()
            }
            (None, BetaSchedule::SquaredCosCapV2) => {
                let alpha_bar = |t: f64| {
                    ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..n)
                    .map(|i| {
                        let (t1, t2) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
                    })
                    .collect()
            }
        };
        let mut acc = 1.0f32;
        betas
            .iter()
            .map(|&b| {
                acc *= 1.0 - b;
                acc as f64
            })
            .collect()
    }
}
