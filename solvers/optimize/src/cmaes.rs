//! CMA-ES, the evolution-strategy baseline: the standard (μ/μ_w, λ) strategy
//! with cumulative step-size adaptation and rank-one plus rank-μ covariance
//! updates (Hansen's tutorial, 2016, default parameters), run in the unit
//! cube. Samples outside the cube are repaired by clipping and the repaired
//! point enters the update, so the mean never leaves the box. Each
//! generation is one parallel batch; feasible points rank before infeasible
//! ones, which rank by total violation.

use nalgebra::{DMatrix, DVector};

use crate::evaluation::{Evaluator, IncumbentStep, Objective, Outcome, Record};
use crate::problem::{Problem, ProblemError};
use crate::rng::{Rng, mix};

/// The stream of the run seed that drives the strategy.
const CMA_STREAM: u64 = 0x000C_3AE5;

/// The settings of [`minimize`].
#[derive(Clone, Debug, PartialEq)]
pub struct CmaSettings {
    /// The initial step size, in unit-cube units.
    pub sigma0: f64,
    /// The population size; `None` means `4 + ⌊3 ln d⌋`.
    pub lambda: Option<usize>,
}

impl Default for CmaSettings {
    fn default() -> Self {
        CmaSettings {
            sigma0: 0.3,
            lambda: None,
        }
    }
}

/// Feasible first (by value), then infeasible by violation.
fn rank_key(r: &Record) -> (bool, f64) {
    if r.is_feasible() {
        (false, r.value)
    } else {
        (true, r.violation())
    }
}

/// Minimizes with CMA-ES from a random mean for at most `budget` evaluations
/// (the last generation is cut to fit).
pub fn minimize<O: Objective + ?Sized>(
    problem: &Problem,
    objective: &O,
    budget: usize,
    settings: &CmaSettings,
    seed: u64,
) -> Result<Outcome, ProblemError> {
    if budget == 0 {
        return Err(ProblemError::ZeroBudget);
    }
    let n = problem.dim();
    let nf = n as f64;
    let mut rng = Rng::new(mix(seed, CMA_STREAM));
    let lambda = settings.lambda.unwrap_or(4 + (3.0 * nf.ln()).floor() as usize).max(2);
    let mu = lambda / 2;
    let raw: Vec<f64> = (1..=mu).map(|i| ((mu as f64) + 0.5).ln() - (i as f64).ln()).collect();
    let wsum: f64 = raw.iter().sum();
    let w: Vec<f64> = raw.iter().map(|x| x / wsum).collect();
    let mu_eff = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
    let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
    let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
    let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
    let c1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
    let c_mu = (1.0 - c1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
    let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));

    let mut mean = DVector::from_iterator(n, (0..n).map(|_| rng.unit()));
    let mut sigma = settings.sigma0;
    let mut cov = DMatrix::<f64>::identity(n, n);
    let mut p_sigma = DVector::<f64>::zeros(n);
    let mut p_c = DVector::<f64>::zeros(n);
    let mut ev = Evaluator::new(problem, objective, seed);
    let mut trace = Vec::with_capacity(budget);
    let mut generation = 0i32;
    while ev.history.len() < budget {
        let eig = nalgebra::SymmetricEigen::new(cov.clone());
        let sqrt_d = eig.eigenvalues.map(|v| v.max(1e-20).sqrt());
        let b = &eig.eigenvectors;
        let q = lambda.min(budget - ev.history.len());
        let mut steps = Vec::with_capacity(q);
        let mut points = Vec::with_capacity(q);
        for _ in 0..q {
            let z = DVector::from_iterator(n, (0..n).map(|_| rng.normal()));
            let x = (&mean + sigma * (b * z.component_mul(&sqrt_d))).map(|v| v.clamp(0.0, 1.0));
            // The repaired step, so the update sees where the point really is.
            steps.push((&x - &mean) / sigma);
            points.push(x.iter().copied().collect::<Vec<f64>>());
        }
        let range = ev.evaluate_unit(&points);
        for i in range.clone() {
            trace.push(IncumbentStep {
                evaluations: i + 1,
                index: ev.history.best_observed(i + 1),
            });
        }
        if q < lambda {
            break;
        }
        let records = &ev.history.records[range];
        let mut order: Vec<usize> = (0..q).collect();
        order.sort_by(|&a, &b| {
            let (ka, kb) = (rank_key(&records[a]), rank_key(&records[b]));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(a.cmp(&b))
        });
        let mut y_w = DVector::<f64>::zeros(n);
        for (wi, &k) in w.iter().zip(&order) {
            y_w += *wi * &steps[k];
        }
        mean += sigma * &y_w;
        // C^{-1/2} y_w = B D^{-1} Bᵀ y_w.
        let inv_sqrt_c_y = b * (b.transpose() * &y_w).component_div(&sqrt_d);
        p_sigma = (1.0 - c_sigma) * &p_sigma + (c_sigma * (2.0 - c_sigma) * mu_eff).sqrt() * inv_sqrt_c_y;
        generation += 1;
        let ps_norm = p_sigma.norm();
        let h_sigma = ps_norm / (1.0 - (1.0 - c_sigma).powi(2 * generation)).sqrt() < (1.4 + 2.0 / (nf + 1.0)) * chi_n;
        let hs = if h_sigma { 1.0 } else { 0.0 };
        p_c = (1.0 - c_c) * &p_c + hs * (c_c * (2.0 - c_c) * mu_eff).sqrt() * &y_w;
        let mut rank_mu = DMatrix::<f64>::zeros(n, n);
        for (wi, &k) in w.iter().zip(&order) {
            rank_mu += *wi * &steps[k] * steps[k].transpose();
        }
        cov = (1.0 - c1 - c_mu) * &cov
            + c1 * (&p_c * p_c.transpose() + (1.0 - hs) * c_c * (2.0 - c_c) * &cov)
            + c_mu * rank_mu;
        cov = 0.5 * (&cov + cov.transpose());
        sigma *= ((c_sigma / d_sigma) * (ps_norm / chi_n - 1.0)).exp();
        sigma = sigma.clamp(1e-14, 1.0);
    }
    Ok(Outcome::best_observed(ev.history, trace, seed))
}
