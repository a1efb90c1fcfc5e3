//! Gaussian-process Bayesian optimization.
//!
//! The loop: a Latin-hypercube design; then, until the budget is spent, fit a
//! GP to the objective and one to each constraint (warm-started maximum
//! likelihood), propose a batch of `q` points that maximize expected
//! improvement × probability of feasibility (kriging believer within the
//! batch), and evaluate the batch in parallel. At the end the incumbent is
//! polished on the model's mean.

use rayon::prelude::*;

use crate::acquisition::{expected_improvement, probability_feasible};
use crate::design::{default_size, latin_hypercube};
use crate::evaluation::{Evaluator, History, IncumbentStep, Objective, Outcome};
use crate::gp::{Gp, Hyper, NoiseModel};
use crate::nelder_mead::{self, Stop};
use crate::problem::{Problem, ProblemError};
use crate::rng::{Rng, mix};

/// The stream of the run seed that drives the optimizer's own decisions.
const BO_STREAM: u64 = 0x00B0_0001;

/// The settings of [`minimize`]. The defaults are the one setting used for
/// every function in the bench; nothing is tuned per problem.
#[derive(Clone, Debug, PartialEq)]
pub struct BoSettings {
    /// Points proposed (and evaluated in parallel) per iteration, `q`.
    pub batch_size: usize,
    /// The Latin-hypercube size; `None` means `max(2d + 1, 5)`.
    pub initial_design: Option<usize>,
    /// Uniform random candidates scored per proposal.
    pub random_candidates: usize,
    /// Candidates drawn around the incumbent (Gaussian, three scales).
    pub local_candidates: usize,
    /// The best candidates polished with Nelder–Mead per proposal.
    pub polish_starts: usize,
    /// Random restarts of the likelihood maximization per fit (besides the
    /// warm start and a default start; the first fit gets three more).
    pub hyper_restarts: usize,
    /// Every this many batches, the batch's first point minimizes the
    /// posterior mean instead of maximizing EI (a greedy step that puts
    /// evaluations where the model expects the optimum; for noisy objectives
    /// that matters because the incumbent must be an evaluated point); 0 never.
    pub greedy_every: usize,
}

impl Default for BoSettings {
    fn default() -> Self {
        BoSettings {
            batch_size: 1,
            initial_design: None,
            random_candidates: 2000,
            local_candidates: 600,
            polish_starts: 4,
            hyper_restarts: 1,
            greedy_every: 3,
        }
    }
}

/// The models of one iteration.
struct Models {
    objective: Gp,
    constraints: Vec<Gp>,
}

impl Models {
    fn feasibility(&self, u: &[f64]) -> f64 {
        self.constraints
            .iter()
            .map(|g| {
                let p = g.predict(u);
                probability_feasible(p.mean, p.sd())
            })
            .product()
    }

    /// EI × P(feasible), or P(feasible) alone while nothing is feasible.
    ///
    /// With a learned noise term EI is multiplied by the augmentation factor
    /// `1 − σ_n / √(s² + σ_n²)` of Huang et al. (2006): where the model already
    /// knows the function to well within the noise, another evaluation
    /// would mostly measure noise, so it is worth less. Without it EI keeps
    /// resampling the incumbent's neighbourhood.
    fn acquisition(&self, u: &[f64], best: Option<f64>, noisy: bool) -> f64 {
        let pof = self.feasibility(u);
        match best {
            Some(best) => {
                let p = self.objective.predict(u);
                let ei = expected_improvement(p.mean, p.sd(), best);
                let augment = if noisy {
                    let sn = self.objective.noise_sd();
                    1.0 - sn / (p.var + sn * sn).sqrt()
                } else {
                    1.0
                };
                ei * augment * pof
            }
            None => pof,
        }
    }

    fn with_fantasy(&self, u: &[f64]) -> Option<Models> {
        let believe = |g: &Gp| g.with_fantasy(u, g.predict(u).mean);
        Some(Models {
            objective: believe(&self.objective)?,
            constraints: self.constraints.iter().map(believe).collect::<Option<_>>()?,
        })
    }
}

/// Minimizes `objective` over `problem` with at most `budget` evaluations
/// (the initial design included). The same `seed` gives the same history on
/// any number of threads.
pub fn minimize<O: Objective + ?Sized>(
    problem: &Problem,
    objective: &O,
    budget: usize,
    settings: &BoSettings,
    seed: u64,
) -> Result<Outcome, ProblemError> {
    if budget == 0 {
        return Err(ProblemError::ZeroBudget);
    }
    let d = problem.dim();
    let mut rng = Rng::new(mix(seed, BO_STREAM));
    let mut ev = Evaluator::new(problem, objective, seed);
    let n0 = settings
        .initial_design
        .unwrap_or_else(|| default_size(d))
        .clamp(1, budget);
    let design: Vec<Vec<f64>> = latin_hypercube(n0, d, &mut rng)
        .iter()
        .map(|u| problem.snap_unit(u))
        .collect();
    let mut last = ev.evaluate_unit(&design);
    let noisy = ev.history.records.iter().any(|r| r.noise_sd.is_some_and(|s| s > 0.0));
    let noise = if noisy { NoiseModel::Learned } else { NoiseModel::Nugget };
    let mut trace = Vec::new();
    let mut warm: Vec<Option<Hyper>> = Vec::new();
    let mut iteration = 0usize;
    loop {
        let units: Vec<Vec<f64>> = ev.history.records.iter().map(|r| problem.to_unit(&r.x)).collect();
        let models = fit_models(&ev.history, &units, noise, &mut warm, settings, &mut rng);
        let incumbent = incumbent(&ev.history, &units, models.as_ref(), noisy);
        if noisy {
            trace.push(IncumbentStep {
                evaluations: ev.history.len(),
                index: incumbent,
            });
        } else {
            for i in last.clone() {
                trace.push(IncumbentStep {
                    evaluations: i + 1,
                    index: ev.history.best_observed(i + 1),
                });
            }
        }
        let spent = ev.history.len();
        if spent >= budget {
            let recommended = incumbent.map(|i| match &models {
                Some(m) => polish(problem, m, &units[i]),
                None => ev.history.records[i].x.clone(),
            });
            return Ok(Outcome {
                history: ev.history,
                trace,
                incumbent,
                recommended,
                seed,
            });
        }
        let q = settings.batch_size.max(1).min(budget - spent);
        let batch = match &models {
            Some(m) => {
                let best = incumbent.map(|i| incumbent_value(&ev.history, &units, m, i, noisy));
                let anchor = incumbent.map(|i| units[i].clone());
                let every = settings.greedy_every;
                let greedy = every > 0 && iteration % every == every - 1;
                let first = match (&anchor, greedy) {
                    (Some(a), true) => greedy_point(problem, m, a, &units, noisy, &mut rng),
                    _ => None,
                };
                propose(problem, m, first, best, anchor.as_deref(), q, noisy, settings, &mut rng)
            }
            None => (0..q).map(|_| problem.snap_unit(&random_unit(d, &mut rng))).collect(),
        };
        last = ev.evaluate_unit(&batch);
        iteration += 1;
    }
}

fn random_unit(d: usize, rng: &mut Rng) -> Vec<f64> {
    (0..d).map(|_| rng.unit()).collect()
}

/// Fits the objective's and every constraint's GP, warm-started from the
/// previous iteration's hyperparameters.
fn fit_models(
    history: &History,
    units: &[Vec<f64>],
    noise: NoiseModel,
    warm: &mut Vec<Option<Hyper>>,
    settings: &BoSettings,
    rng: &mut Rng,
) -> Option<Models> {
    let m = history.records.iter().map(|r| r.constraints.len()).min().unwrap_or(0);
    warm.resize(m + 1, None);
    let mut fit = |k: usize, y: Vec<f64>| {
        let restarts = settings.hyper_restarts + if warm[k].is_none() { 3 } else { 0 };
        let gp = Gp::fit(units, &y, noise, warm[k].as_ref(), restarts, rng)?;
        warm[k] = Some(gp.hyper().clone());
        Some(gp)
    };
    let objective = fit(0, history.records.iter().map(|r| r.value).collect())?;
    let mut constraints = Vec::with_capacity(m);
    for j in 0..m {
        constraints.push(fit(j + 1, history.records.iter().map(|r| r.constraints[j]).collect())?);
    }
    Some(Models { objective, constraints })
}

/// The incumbent: the best observed feasible point, or for noisy objectives
/// the feasible point with the lowest posterior mean.
fn incumbent(history: &History, units: &[Vec<f64>], models: Option<&Models>, noisy: bool) -> Option<usize> {
    match (noisy, models) {
        (true, Some(m)) => history
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_feasible())
            .map(|(i, _)| (i, m.objective.predict(&units[i]).mean))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i),
        _ => history.best_observed(history.len()),
    }
}

/// The value EI improves on: the observation for noise-free objectives, the
/// posterior mean (the "plug-in" incumbent of noisy EI) for noisy ones.
fn incumbent_value(history: &History, units: &[Vec<f64>], m: &Models, i: usize, noisy: bool) -> f64 {
    if noisy {
        m.objective.predict(&units[i]).mean
    } else {
        history.records[i].value
    }
}

/// Proposes `q` points: maximize the acquisition, add the model's own mean
/// there as a fantasy observation (kriging believer), repeat. A given `first`
/// point (the greedy step) takes the first slot.
#[expect(clippy::too_many_arguments, reason = "one call site; the loop's state, passed as is")]
fn propose(
    problem: &Problem,
    models: &Models,
    first: Option<Vec<f64>>,
    best: Option<f64>,
    anchor: Option<&[f64]>,
    q: usize,
    noisy: bool,
    settings: &BoSettings,
    rng: &mut Rng,
) -> Vec<Vec<f64>> {
    let mut batch = Vec::with_capacity(q);
    let mut believed: Option<Models> = None;
    for _ in 0..q {
        let m = believed.as_ref().unwrap_or(models);
        let u = match (&first, batch.is_empty()) {
            (Some(f), true) => f.clone(),
            _ => maximize_acquisition(problem, m, best, anchor, noisy, settings, rng),
        };
        if batch.len() + 1 < q {
            believed = m.with_fantasy(&u);
        }
        batch.push(u);
        if believed.is_none() && batch.len() < q {
            // The fantasy could not be factorized (a repeated point): fill the
            // batch with random points rather than repeat this one.
            while batch.len() < q {
                batch.push(problem.snap_unit(&random_unit(problem.dim(), rng)));
            }
        }
    }
    batch
}

/// Many random and local candidates, the best few polished by Nelder–Mead.
fn maximize_acquisition(
    problem: &Problem,
    models: &Models,
    best: Option<f64>,
    anchor: Option<&[f64]>,
    noisy: bool,
    settings: &BoSettings,
    rng: &mut Rng,
) -> Vec<f64> {
    let d = problem.dim();
    let mut candidates: Vec<Vec<f64>> = (0..settings.random_candidates).map(|_| random_unit(d, rng)).collect();
    if let Some(a) = anchor {
        const SCALES: [f64; 3] = [0.2, 0.05, 0.01];
        for k in 0..settings.local_candidates {
            let s = SCALES[k % SCALES.len()];
            candidates.push(a.iter().map(|x| (x + s * rng.normal()).clamp(0.0, 1.0)).collect());
        }
    }
    let acq = |u: &[f64]| models.acquisition(&problem.snap_unit(u), best, noisy);
    let scores: Vec<f64> = candidates.par_iter().map(|u| acq(u)).collect();
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    if scores[order[0]] <= 0.0 {
        // Expected improvement underflowed everywhere: explore where the
        // model knows least (among points likely to be feasible).
        let spread = |u: &[f64]| models.objective.predict(u).sd() * models.feasibility(u);
        let i = (0..candidates.len()).max_by(|&a, &b| {
            spread(&candidates[a])
                .total_cmp(&spread(&candidates[b]))
                .then(b.cmp(&a))
        });
        return problem.snap_unit(&candidates[i.unwrap_or(0)]);
    }
    let (lo, hi) = (vec![0.0; d], vec![1.0; d]);
    let stop = Stop {
        max_evals: 25 * (d + 1),
        f_tol: 0.0,
        x_tol: 1e-6,
    };
    let polished: Vec<nelder_mead::Minimum> = order[..settings.polish_starts.clamp(1, order.len())]
        .par_iter()
        .map(|&i| nelder_mead::minimize(|u| -acq(u), &candidates[i], 0.02, &lo, &hi, stop))
        .collect();
    let winner = polished
        .iter()
        .min_by(|a, b| a.value.total_cmp(&b.value))
        .expect("at least one start");
    problem.snap_unit(&winner.x)
}

/// The greedy step: the minimizer of the posterior mean (probability of
/// feasibility at least one half) over the whole cube, polished from the
/// incumbent and from the best of a few hundred random points. `None` for a
/// noise-free objective when it would repeat an evaluated point.
fn greedy_point(
    problem: &Problem,
    models: &Models,
    incumbent: &[f64],
    units: &[Vec<f64>],
    noisy: bool,
    rng: &mut Rng,
) -> Option<Vec<f64>> {
    let d = problem.dim();
    let value = |u: &[f64]| {
        let u = problem.snap_unit(u);
        let penalty = (0.5 - models.feasibility(&u)).max(0.0) * 1e6;
        models.objective.predict(&u).mean + penalty
    };
    let candidates: Vec<Vec<f64>> = (0..200 * d).map(|_| random_unit(d, rng)).collect();
    let scores: Vec<f64> = candidates.par_iter().map(|u| value(u)).collect();
    let best = (0..candidates.len()).min_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)))?;
    let (lo, hi) = (vec![0.0; d], vec![1.0; d]);
    let stop = Stop {
        max_evals: 50 * (d + 1),
        f_tol: 1e-12,
        x_tol: 1e-7,
    };
    let starts = [incumbent.to_vec(), candidates[best].clone()];
    let found: Vec<nelder_mead::Minimum> = starts
        .par_iter()
        .map(|s| nelder_mead::minimize(value, s, 0.05, &lo, &hi, stop))
        .collect();
    let winner = found.iter().min_by(|a, b| a.value.total_cmp(&b.value))?;
    let u = problem.snap_unit(&winner.x);
    let repeats = units
        .iter()
        .any(|v| v.iter().zip(&u).all(|(a, b)| (a - b).abs() < 1e-4));
    if repeats && !noisy { None } else { Some(u) }
}

/// Minimizes the posterior mean near the incumbent (a box of half width 0.1
/// in unit coordinates), keeping the probability of feasibility at least one
/// half; returns the better of the polished point and the incumbent.
fn polish(problem: &Problem, models: &Models, start: &[f64]) -> Vec<f64> {
    let d = problem.dim();
    let lo: Vec<f64> = start.iter().map(|x| (x - 0.1).max(0.0)).collect();
    let hi: Vec<f64> = start.iter().map(|x| (x + 0.1).min(1.0)).collect();
    let value = |u: &[f64]| {
        let u = problem.snap_unit(u);
        let penalty = (0.5 - models.feasibility(&u)).max(0.0) * 1e6;
        models.objective.predict(&u).mean + penalty
    };
    let stop = Stop {
        max_evals: 50 * (d + 1),
        f_tol: 1e-12,
        x_tol: 1e-7,
    };
    let m = nelder_mead::minimize(value, start, 0.02, &lo, &hi, stop);
    let best = if m.value < value(start) {
        problem.snap_unit(&m.x)
    } else {
        start.to_vec()
    };
    problem.from_unit(&best)
}
