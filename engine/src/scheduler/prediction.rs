//! What the denoiser predicts: the family of parameterisations a scheduler declares it handles, and the
//! x̂₀ conversions the DDPM-family schedulers share.

/// The model parameterisations schedulers are matched against (read from `scheduler_config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parameterisation {
    /// The noise ε (`prediction_type: epsilon`).
    Epsilon,
    /// v = √ᾱ·ε − √(1−ᾱ)·x₀ (`prediction_type: v_prediction`).
    VPrediction,
    /// x₀ itself (`prediction_type: sample`).
    Sample,
    /// The flow-matching velocity (`flow_prediction`, or a flow-matching scheduler class).
    Flow,
}

impl Parameterisation {
    /// How users read it in messages.
    pub fn label(self) -> &'static str {
        match self {
            Parameterisation::Epsilon => "epsilon prediction",
            Parameterisation::VPrediction => "v-prediction",
            Parameterisation::Sample => "sample prediction",
            Parameterisation::Flow => "flow prediction",
        }
    }
}

impl std::fmt::Display for Parameterisation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What a DDPM-family (noise-schedule) denoiser predicts; flow models have no such reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    Epsilon,
    VPrediction,
    Sample,
}

/// The parameterisations a DDPM-family scheduler handles.
pub(super) const DDPM_FAMILY: &[Parameterisation] = &[
    Parameterisation::Epsilon,
    Parameterisation::VPrediction,
    Parameterisation::Sample,
];

impl Prediction {
    /// x̂₀ from the denoiser output `m` at sample `x` for a noise level ᾱ.
    pub(super) fn x0_from_alpha(self, alpha: f64, x: f64, m: f64) -> f64 {
        let beta = 1.0 - alpha;
        match self {
            Prediction::Epsilon => (x - beta.sqrt() * m) / alpha.sqrt(),
            Prediction::VPrediction => alpha.sqrt() * x - beta.sqrt() * m,
            Prediction::Sample => m,
        }
    }

    /// x̂₀ from the denoiser output `m` at sample `x` for a Karras noise level σ (Euler family).
    pub(super) fn x0_from_sigma(self, sigma: f64, x: f64, m: f64) -> f64 {
        match self {
            Prediction::Epsilon => x - sigma * m,
            Prediction::VPrediction => {
                m * (-sigma / (sigma * sigma + 1.0).sqrt()) + x / (sigma * sigma + 1.0)
            }
            Prediction::Sample => m,
        }
    }
}
