//! Standard test functions with known optima (Surjanovic and Bingham's
//! Virtual Library of Simulation Experiments gives the same definitions),
//! used by the bench and the tests.

use std::f64::consts::PI;

use crate::evaluation::{Evaluation, Objective};
use crate::problem::Problem;
use crate::rng::Rng;

/// The global minimum of [`branin`]: `f* = 0.397887`, reached at
/// `(−π, 12.275)`, `(π, 2.275)` and `(9.42478, 2.475)`.
pub const BRANIN_MIN: f64 = 0.397_887;

/// The global minimum of [`hartmann6`]: `f* = −3.32237`, reached at
/// `(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)`.
pub const HARTMANN6_MIN: f64 = -3.322_37;

/// The Branin–Hoo function on `x₁ ∈ [−5, 10]`, `x₂ ∈ [0, 15]`:
/// `(x₂ − 5.1 x₁²/(4π²) + 5 x₁/π − 6)² + 10 (1 − 1/(8π)) cos x₁ + 10`.
pub fn branin(x: &[f64]) -> f64 {
    let (x1, x2) = (x[0], x[1]);
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

/// Branin's domain.
pub fn branin_problem() -> Problem {
    Problem::continuous(&[(-5.0, 10.0), (0.0, 15.0)]).expect("valid bounds")
}

const H6_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const H6_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const H6_P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];

/// The six-dimensional Hartmann function on `[0, 1]⁶`:
/// `−Σᵢ αᵢ exp(−Σⱼ Aᵢⱼ (xⱼ − Pᵢⱼ)²)`.
pub fn hartmann6(x: &[f64]) -> f64 {
    -(0..4)
        .map(|i| {
            let e: f64 = (0..6).map(|j| H6_A[i][j] * (x[j] - H6_P[i][j]).powi(2)).sum();
            H6_ALPHA[i] * (-e).exp()
        })
        .sum::<f64>()
}

/// Hartmann6's domain.
pub fn hartmann6_problem() -> Problem {
    Problem::continuous(&[(0.0, 1.0); 6]).expect("valid bounds")
}

/// [`hartmann6`] plus Gaussian noise of standard deviation `sd`, drawn from
/// the crate's generator keyed by the evaluation (so a run reproduces on any
/// thread count, and re-evaluating a point draws fresh noise). The noise-free
/// optimum is [`HARTMANN6_MIN`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoisyHartmann6 {
    /// The noise standard deviation (0.1 in the bench).
    pub sd: f64,
}

impl Objective for NoisyHartmann6 {
    fn evaluate(&self, x: &[f64], key: u64) -> Evaluation {
        let noise = self.sd * Rng::new(key).normal();
        Evaluation::new(hartmann6(x) + noise).with_noise_sd(self.sd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optima_are_where_the_literature_says() {
        for x in [[-PI, 12.275], [PI, 2.275], [9.424_78, 2.475]] {
            assert!((branin(&x) - BRANIN_MIN).abs() < 1e-5, "{x:?}");
        }
        let h = hartmann6(&[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]);
        assert!((h - HARTMANN6_MIN).abs() < 1e-5, "{h}");
    }
}
