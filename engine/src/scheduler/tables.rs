//! numpy-exact helpers for building timestep and σ tables the way diffusers builds them.

use super::{SchedulerConfig, Spacing};

/// numpy's `round` (half to even).
pub(super) fn np_round(x: f64) -> f64 {
    x.round_ties_even()
}

/// numpy's `np.linspace(a, b, n)` in f64.
pub(super) fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![a],
        _ => {
            let step = (b - a) / (n - 1) as f64;
            (0..n)
                .map(|i| if i == n - 1 { b } else { a + step * i as f64 })
                .collect()
        }
    }
}

/// numpy's `np.arange(start, stop, step)` for a negative step.
pub(super) fn arange_down(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let n = ((stop - start) / step).ceil().max(0.0) as usize;
    (0..n).map(|i| start + step * i as f64).collect()
}

/// Inference timesteps for the discrete (DDPM-family) schedulers, as diffusers spaces them.
pub(super) fn spaced_timesteps(
    spacing: Spacing,
    train: usize,
    steps: usize,
    offset: i64,
) -> Vec<f64> {
    let t = train as f64;
    match spacing {
        Spacing::Linspace => linspace(0.0, t - 1.0, steps)
            .into_iter()
            .rev()
            .map(np_round)
            .collect(),
        Spacing::Leading => {
            let ratio = (train / steps) as f64;
            (0..steps)
                .rev()
                .map(|i| i as f64 * ratio + offset as f64)
                .collect()
        }
        Spacing::Trailing => arange_down(t, 0.0, -(t / steps as f64))
            .into_iter()
            .map(|x| np_round(x) - 1.0)
            .collect(),
    }
}

/// numpy's `np.interp(x, arange(len(table)), table)`.
pub(super) fn interp(x: f64, table: &[f64]) -> f64 {
    if x <= 0.0 {
        return table[0];
    }
    let last = table.len() - 1;
    if x >= last as f64 {
        return table[last];
    }
    let i = x.floor() as usize;
    let frac = x - i as f64;
    table[i] + (table[i + 1] - table[i]) * frac
}

/// σ_t = √((1 − ᾱ)/ᾱ) per training timestep, in f32 like diffusers' torch expression.
fn sigma_table(alphas_cumprod: &[f64]) -> Vec<f64> {
    alphas_cumprod
        .iter()
        .map(|&a| {
            let a = a as f32;
            ((1.0 - a) / a).sqrt() as f64
        })
        .collect()
}

/// σ at each inference timestep (interpolated in the training table, rounded to f32), then a final 0.
pub(super) fn sigmas_at(config: &SchedulerConfig, timesteps: &[f64]) -> Vec<f64> {
    let table = sigma_table(&config.alphas_cumprod());
    let mut sigmas: Vec<f64> = timesteps
        .iter()
        .map(|&t| to_f32(interp(t, &table)))
        .collect();
    sigmas.push(0.0);
    sigmas
}

pub(super) fn to_f32(x: f64) -> f64 {
    x as f32 as f64
}

/// The Euler family's inference timesteps, σ per step plus a trailing 0, and the initial noise σ.
#[derive(Debug, Clone)]
pub(super) struct EulerTables {
    pub timesteps: Vec<f64>,
    pub sigmas: Vec<f64>,
    pub init_noise_sigma: f64,
}

/// Builds [`EulerTables`] for `spacing` as `EulerDiscreteScheduler` (and its ancestral variant) do.
pub(super) fn euler_tables(
    config: &SchedulerConfig,
    spacing: Spacing,
    steps: usize,
) -> EulerTables {
    let train = config.num_train_timesteps;
    let mut timesteps = spaced_timesteps(spacing, train, steps, config.steps_offset);
    if spacing == Spacing::Linspace {
        // diffusers builds this one with dtype=float32 and does not round it.
        timesteps = linspace(0.0, train as f64 - 1.0, steps)
            .into_iter()
            .rev()
            .map(to_f32)
            .collect();
    }
    let sigmas = sigmas_at(config, &timesteps);
    let max = sigmas.iter().cloned().fold(0.0, f64::max);
    let init_noise_sigma = match spacing {
        Spacing::Linspace | Spacing::Trailing => max,
        Spacing::Leading => to_f32((max * max + 1.0).sqrt()),
    };
    EulerTables {
        timesteps,
        sigmas,
        init_noise_sigma,
    }
}

/// The Euler family's model input: the sample divided by √(σ² + 1).
pub(super) fn euler_scale(sigma: f64, sample: &[f32]) -> Vec<f32> {
    let scale = to_f32((sigma * sigma + 1.0).sqrt());
    sample.iter().map(|&x| (x as f64 / scale) as f32).collect()
}
