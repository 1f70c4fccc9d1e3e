//! UniPC multistep, as diffusers' `UniPCMultistepScheduler` runs flow models (Wan's default): flow sigmas with
//! `flow_shift`, x̂₀ = x − σ·v, the UniP predictor and the UniC corrector with B(h) `bh1`/`bh2`, warm-up and
//! lower orders on the last steps. With flow sigmas α = 1 − σ and λ = ln(α/σ). Settings under which diffusers'
//! arithmetic divides by zero (its frames come out NaN) are refused instead.

use std::collections::VecDeque;

use super::config::number;
use super::tables::{linspace, to_f32};
use super::{FinalSigma, Parameterisation, Scheduler, SchedulerConfig, SchedulerKind, SolverType};
use crate::noise::NoiseStream;

pub(super) const HANDLES: &[Parameterisation] = &[Parameterisation::Flow];

#[derive(Debug, Clone)]
pub(super) struct UniPc {
    timesteps: Vec<f64>,
    /// σ per step plus the final σ (0, or the last σ with `final_sigmas_type: sigma_min`).
    sigmas: Vec<f64>,
    solver_order: usize,
    solver_type: SolverType,
    disable_corrector: Vec<usize>,
    /// x̂₀ of the latest steps, newest last (at most `solver_order`).
    x0s: VecDeque<Vec<f32>>,
    /// The sample the last predictor started from and the order it ran at, for the corrector.
    last: Option<(Vec<f32>, usize)>,
}

impl UniPc {
    pub(super) fn new(config: &SchedulerConfig, steps: usize) -> Result<Self, String> {
        if !config.predict_x0 {
            return Err("UniPC with `predict_x0: false` does not handle flow prediction".into());
        }
        // The last step goes to σ = 0 (λ = ∞) or to the same σ again (h = 0): only first order gets there.
        if !config.lower_order_final && config.solver_order > 1 {
            return Err(
                "UniPC needs `lower_order_final: true` (its last step divides by zero otherwise)"
                    .into(),
            );
        }
        if config.solver_type == SolverType::Bh1 && config.final_sigmas_type == FinalSigma::Zero {
            return Err(
                "UniPC's `solver_type: bh1` needs `final_sigmas_type: sigma_min` (its last step to σ 0 \
                 divides by zero)"
                    .into(),
            );
        }
        let t = config.num_train_timesteps as f64;
        let shift = config.shift;
        let mut shifted: Vec<f64> = linspace(1.0, 1.0 / t, steps + 1)
            .into_iter()
            .take(steps)
            .map(|s| shift * s / (1.0 + (shift - 1.0) * s))
            .collect();
        // diffusers keeps the first σ off 1, where α = 0 and λ would be −∞.
        if (shifted[0] - 1.0).abs() < 1e-6 {
            shifted[0] -= 1e-6;
        }
        // int64 truncation, as diffusers casts them.
        let timesteps = shifted.iter().map(|&s| (s * t).trunc()).collect();
        let last = match config.final_sigmas_type {
            FinalSigma::Zero => 0.0,
            FinalSigma::SigmaMin => shifted[steps - 1],
        };
        let sigmas: Vec<f64> = shifted.into_iter().chain([last]).map(to_f32).collect();
        // An extreme shift can push σ to 1 or round it to 0 or two steps' σ together in f32: λ = ±∞ or h = 0.
        let levels = &sigmas[..steps];
        let usable = levels[0] < 1.0 && levels[steps - 1] > 0.0;
        if !usable || levels.windows(2).any(|w| w[1] >= w[0]) {
            return Err(format!(
                "shift {} leaves UniPC no usable noise levels for {steps} steps",
                number(shift)
            ));
        }
        Ok(UniPc {
            timesteps,
            sigmas,
            solver_order: config.solver_order,
            solver_type: config.solver_type,
            disable_corrector: config.disable_corrector.clone(),
            x0s: VecDeque::with_capacity(config.solver_order),
            last: None,
        })
    }

    /// λ = ln α − ln σ with α = 1 − σ.
    fn lambda(&self, index: usize) -> f64 {
        let sigma = self.sigmas[index];
        (1.0 - sigma).ln() - sigma.ln()
    }

    /// The coefficients of one UniP/UniC update from σ at `from` to σ at `to`, with the earlier x̂₀ at the σ
    /// indices `earlier` (most recent first).
    fn update(&self, from: usize, to: usize, earlier: impl Iterator<Item = usize>) -> Update {
        let (sigma_s0, sigma_t) = (self.sigmas[from], self.sigmas[to]);
        let lambda_s0 = self.lambda(from);
        let h = self.lambda(to) - lambda_s0;
        let mut rks: Vec<f64> = earlier.map(|i| (self.lambda(i) - lambda_s0) / h).collect();
        rks.push(1.0);
        let hh = -h;
        let h_phi_1 = hh.exp_m1();
        let b_h = match self.solver_type {
            SolverType::Bh1 => hh,
            SolverType::Bh2 => hh.exp_m1(),
        };
        let mut h_phi_k = h_phi_1 / hh - 1.0;
        let mut factorial = 1.0;
        let mut b = Vec::with_capacity(rks.len());
        for i in 1..=rks.len() {
            b.push(h_phi_k * factorial / b_h);
            factorial *= (i + 1) as f64;
            h_phi_k = h_phi_k / hh - 1.0 / factorial;
        }
        Update {
            ratio: sigma_t / sigma_s0,
            alpha_t: 1.0 - sigma_t,
            h_phi_1,
            b_h,
            rks,
            b,
        }
    }

    /// The D1 differences (x̂₀ᵢ − x̂₀)/rₖ against the newest stored x̂₀ for the update's earlier x̂₀.
    fn differences(&self, update: &Update) -> Vec<Vec<f64>> {
        let newest = self.x0s.len() - 1;
        let m0 = &self.x0s[newest];
        update.rks[..update.rks.len() - 1]
            .iter()
            .enumerate()
            .map(|(k, &rk)| {
                let mi = &self.x0s[newest - 1 - k];
                mi.iter()
                    .zip(m0)
                    .map(|(&a, &b)| (a as f64 - b as f64) / rk)
                    .collect()
            })
            .collect()
    }

    /// UniC: corrects `sample` (the last predictor's result at this step) with this step's x̂₀.
    fn correct(
        &self,
        step: usize,
        x0: &[f32],
        last_sample: &[f32],
        order: usize,
        sample: &mut [f32],
    ) {
        let update = self.update(step - 1, step, (1..order).map(|i| step - 1 - i));
        let rhos = if order == 1 {
            vec![0.5]
        } else {
            update.rhos(order)
        };
        let d1s = self.differences(&update);
        let m0 = &self.x0s[self.x0s.len() - 1];
        for (e, x) in sample.iter_mut().enumerate() {
            let res: f64 = d1s.iter().zip(&rhos).map(|(d, r)| r * d[e]).sum::<f64>()
                + rhos[order - 1] * (x0[e] as f64 - m0[e] as f64);
            *x = update.apply(last_sample[e], m0[e], res);
        }
    }

    /// UniP: advances `sample` from this step's σ to the next one's.
    fn predict(&self, step: usize, order: usize, sample: &mut [f32]) {
        let update = self.update(step, step + 1, (1..order).map(|i| step - i));
        let d1s = self.differences(&update);
        let rhos = match order {
            1 => vec![],
            2 => vec![0.5],
            _ => update.rhos(order - 1),
        };
        let m0 = &self.x0s[self.x0s.len() - 1];
        for (e, x) in sample.iter_mut().enumerate() {
            let res: f64 = d1s.iter().zip(&rhos).map(|(d, r)| r * d[e]).sum();
            *x = update.apply(*x, m0[e], res);
        }
    }
}

/// One UniP/UniC update's scalars: x ← (σₜ/σₛ)·x − αₜ·hφ₁·x̂₀ − αₜ·B(h)·Σ ρₖ·D1ₖ.
struct Update {
    ratio: f64,
    alpha_t: f64,
    h_phi_1: f64,
    b_h: f64,
    /// rₖ of the earlier x̂₀, then 1.
    rks: Vec<f64>,
    b: Vec<f64>,
}

impl Update {
    fn apply(&self, x: f32, m0: f32, res: f64) -> f32 {
        (self.ratio * x as f64
            - self.alpha_t * self.h_phi_1 * m0 as f64
            - self.alpha_t * self.b_h * res) as f32
    }

    /// ρ solving R·ρ = b on the first `n` rows and columns, Rᵢₖ = rₖ^i.
    fn rhos(&self, n: usize) -> Vec<f64> {
        let matrix: Vec<Vec<f64>> = (0..n)
            .map(|i| self.rks[..n].iter().map(|r| r.powi(i as i32)).collect())
            .collect();
        solve(matrix, self.b[..n].to_vec())
    }
}

/// Gaussian elimination with partial pivoting for the tiny (≤ 3×3) UniPC systems.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            let (above, below) = a.split_at_mut(row);
            for (x, &p) in below[0][col..].iter_mut().zip(&above[col][col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x
}

impl Scheduler for UniPc {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::UniPc
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// Flow matching: x = (1 − σ)·x̂₀ + σ·ε.
    fn noise_weights(&self, step: usize) -> (f64, f64) {
        let sigma = self.sigmas[step];
        (1.0 - sigma, sigma)
    }

    /// Corrects the previous step's prediction with this step's x̂₀ (UniC), then predicts the next sample (UniP).
    fn step(&mut self, step: usize, model_output: &[f32], sample: &mut [f32], _: &mut NoiseStream) {
        let sigma = self.sigmas[step];
        let x0: Vec<f32> = sample
            .iter()
            .zip(model_output)
            .map(|(&x, &v)| (x as f64 - sigma * v as f64) as f32)
            .collect();
        if let Some((last_sample, order)) = self.last.take() {
            if !self.disable_corrector.contains(&(step - 1)) {
                self.correct(step, &x0, &last_sample, order, sample);
            }
        }
        if self.x0s.len() == self.solver_order {
            self.x0s.pop_front();
        }
        self.x0s.push_back(x0);
        // Lower orders on the last steps (`lower_order_final`) and while warming up (no more earlier x̂₀
        // than have been seen).
        let remaining = self.timesteps.len() - step;
        let order = self.solver_order.min(remaining).min(self.x0s.len());
        self.last = Some((sample.to_vec(), order));
        self.predict(step, order, sample);
    }
}
