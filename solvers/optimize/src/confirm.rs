//! The confirmation step: re-evaluate a chosen point `k` times and report its
//! mean with a 95% confidence interval, so that a recommendation made on a
//! noisy objective carries its own error bar.

use crate::evaluation::{Objective, Outcome};
use crate::problem::Problem;
use crate::rng::mix;

/// The stream of a run's seed that keys confirmation evaluations, apart from
/// the optimizer's own streams.
const CONFIRM_STREAM: u64 = 0xC0F1_A4E0;

/// The result of [`confirm`].
#[derive(Clone, Debug, PartialEq)]
pub struct Confirmation {
    /// The point re-evaluated (in the variables' units).
    pub x: Vec<f64>,
    /// The number of evaluations.
    pub k: usize,
    /// The mean observed value.
    pub mean: f64,
    /// The sample standard deviation (0 when `k == 1`).
    pub sd: f64,
    /// The half width of the 95% confidence interval of the mean (Student t
    /// with `k − 1` degrees of freedom; infinite when `k == 1`).
    pub half_width_95: f64,
    /// The fraction of evaluations that were feasible.
    pub feasible_fraction: f64,
}

/// The two-sided 95% Student-t quantile for `df` degrees of freedom: a table
/// to 30, then the first Cornish–Fisher correction of 1.96.
pub fn t_quantile_95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => 1.959_964 + 2.372 / df as f64,
    }
}

/// Re-evaluates `x` `k` times as one parallel batch, appends the evaluations
/// to the outcome's history (they count as evaluations) and summarizes them.
pub fn confirm<O: Objective + ?Sized>(
    problem: &Problem,
    objective: &O,
    outcome: &mut Outcome,
    x: &[f64],
    k: usize,
) -> Confirmation {
    let history = std::mem::take(&mut outcome.history);
    let seed = mix(outcome.seed, CONFIRM_STREAM);
    let mut ev = crate::evaluation::Evaluator::resume(problem, objective, seed, history);
    let x = problem.from_unit(&problem.to_unit(x));
    let range = ev.evaluate(vec![x.clone(); k]);
    outcome.history = ev.history;
    let records = &outcome.history.records[range];
    let n = records.len().max(1) as f64;
    let mean = records.iter().map(|r| r.value).sum::<f64>() / n;
    let sd = if k > 1 {
        (records.iter().map(|r| (r.value - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let half_width_95 = if k > 1 {
        t_quantile_95(k - 1) * sd / n.sqrt()
    } else {
        f64::INFINITY
    };
    let feasible_fraction = records.iter().filter(|r| r.is_feasible()).count() as f64 / n;
    Confirmation {
        x,
        k,
        mean,
        sd,
        half_width_95,
        feasible_fraction,
    }
}
