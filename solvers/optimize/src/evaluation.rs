//! Objectives, evaluations and the history every optimizer records.
//!
//! An [`Objective`] maps a point to an [`Evaluation`]. Batches are evaluated
//! in parallel on rayon's pool by an [`Evaluator`], which appends each result
//! to the [`History`] in proposal order, so the history is the same whatever
//! the thread count.

use std::io::{self, Write};

use rayon::prelude::*;

use crate::problem::Problem;
use crate::rng::mix;

/// What the objective returns for one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The objective value (minimized).
    pub value: f64,
    /// The standard deviation of the value's noise, if the objective is
    /// stochastic and knows it; any `Some(sd > 0)` makes the optimizer treat
    /// the problem as noisy.
    pub noise_sd: Option<f64>,
    /// Constraint values `g_i(x)`; the point is feasible when every `g_i <= 0`.
    pub constraints: Vec<f64>,
}

impl Evaluation {
    /// A noise-free, unconstrained value.
    pub fn new(value: f64) -> Self {
        Evaluation {
            value,
            noise_sd: None,
            constraints: Vec::new(),
        }
    }

    /// The same evaluation, declared noisy with standard deviation `sd`.
    pub fn with_noise_sd(mut self, sd: f64) -> Self {
        self.noise_sd = Some(sd);
        self
    }

    /// The same evaluation with constraint values (`<= 0` is feasible).
    pub fn with_constraints(mut self, constraints: Vec<f64>) -> Self {
        self.constraints = constraints;
        self
    }
}

/// A black-box function to minimize.
///
/// Every closure `Fn(&[f64]) -> Evaluation + Sync` is one (write the argument
/// type: `|x: &[f64]| ...`). A stochastic objective implements the trait itself
/// and draws its noise from `key`, which the optimizer derives from the run
/// seed and the evaluation's index in the history: the noise then belongs to
/// the evaluation, not to the thread that ran it.
pub trait Objective: Sync {
    /// Evaluates the point `x` (in the variables' own units).
    fn evaluate(&self, x: &[f64], key: u64) -> Evaluation;
}

impl<F: Fn(&[f64]) -> Evaluation + Sync> Objective for F {
    fn evaluate(&self, x: &[f64], _key: u64) -> Evaluation {
        self(x)
    }
}

/// One evaluation as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The point, in the variables' own units.
    pub x: Vec<f64>,
    /// The observed value.
    pub value: f64,
    /// The noise standard deviation the objective reported.
    pub noise_sd: Option<f64>,
    /// The constraint values.
    pub constraints: Vec<f64>,
    /// The batch the point was proposed in (0 is the initial design).
    pub batch: usize,
}

impl Record {
    /// True when every constraint is `<= 0`.
    pub fn is_feasible(&self) -> bool {
        self.constraints.iter().all(|&g| g <= 0.0)
    }

    /// The sum of positive constraint values (0 for a feasible point).
    pub fn violation(&self) -> f64 {
        self.constraints.iter().map(|g| g.max(0.0)).sum()
    }
}

/// Every evaluation of a run, in the order proposed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The records, index = evaluation number (0-based).
    pub records: Vec<Record>,
}

impl History {
    /// The number of evaluations.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True before the first evaluation.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The index of the best observed feasible record among the first `n`
    /// (the lowest index wins ties), if any is feasible.
    pub fn best_observed(&self, n: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, r) in self.records.iter().take(n).enumerate() {
            if r.is_feasible() && best.is_none_or(|b| r.value < self.records[b].value) {
                best = Some(i);
            }
        }
        best
    }

    /// Writes the history as CSV: `index,batch,x0..,value,noise_sd,g0..`.
    pub fn write_csv(&self, w: &mut impl Write) -> io::Result<()> {
        let d = self.records.first().map_or(0, |r| r.x.len());
        let m = self.records.iter().map(|r| r.constraints.len()).max().unwrap_or(0);
        write!(w, "index,batch")?;
        for j in 0..d {
            write!(w, ",x{j}")?;
        }
        write!(w, ",value,noise_sd")?;
        for j in 0..m {
            write!(w, ",g{j}")?;
        }
        writeln!(w)?;
        for (i, r) in self.records.iter().enumerate() {
            write!(w, "{i},{}", r.batch)?;
            for x in &r.x {
                write!(w, ",{x}")?;
            }
            write!(w, ",{},", r.value)?;
            if let Some(sd) = r.noise_sd {
                write!(w, "{sd}")?;
            }
            for j in 0..m {
                write!(w, ",")?;
                if let Some(g) = r.constraints.get(j) {
                    write!(w, "{g}")?;
                }
            }
            writeln!(w)?;
        }
        Ok(())
    }
}

/// The incumbent after a given number of evaluations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IncumbentStep {
    /// Evaluations spent so far (initial design included).
    pub evaluations: usize,
    /// The history index of the incumbent (`None` while no point is feasible).
    pub index: Option<usize>,
}

/// Evaluates batches in parallel and records them.
pub struct Evaluator<'a, O: Objective + ?Sized> {
    problem: &'a Problem,
    objective: &'a O,
    seed: u64,
    batches: usize,
    /// Everything evaluated so far.
    pub history: History,
}

impl<'a, O: Objective + ?Sized> Evaluator<'a, O> {
    /// An evaluator with an empty history; `seed` keys the objective's noise.
    pub fn new(problem: &'a Problem, objective: &'a O, seed: u64) -> Self {
        Evaluator {
            problem,
            objective,
            seed,
            batches: 0,
            history: History::default(),
        }
    }

    /// Continues an existing history (for [`confirm`](crate::confirm())).
    pub fn resume(problem: &'a Problem, objective: &'a O, seed: u64, history: History) -> Self {
        let batches = history.records.last().map_or(0, |r| r.batch + 1);
        Evaluator {
            problem,
            objective,
            seed,
            batches,
            history,
        }
    }

    /// Evaluates unit-cube points as one batch (in parallel) and returns the
    /// history indices of the new records.
    pub fn evaluate_unit(&mut self, points: &[Vec<f64>]) -> std::ops::Range<usize> {
        let xs: Vec<Vec<f64>> = points.iter().map(|u| self.problem.from_unit(u)).collect();
        self.evaluate(xs)
    }

    /// Evaluates points (in the variables' units) as one batch, in parallel.
    pub fn evaluate(&mut self, xs: Vec<Vec<f64>>) -> std::ops::Range<usize> {
        let start = self.history.len();
        let (objective, seed) = (self.objective, self.seed);
        let evaluations: Vec<Evaluation> = xs
            .par_iter()
            .enumerate()
            .map(|(k, x)| objective.evaluate(x, mix(seed, (start + k) as u64)))
            .collect();
        let batch = self.batches;
        self.batches += 1;
        for (x, e) in xs.into_iter().zip(evaluations) {
            self.history.records.push(Record {
                x,
                value: e.value,
                noise_sd: e.noise_sd,
                constraints: e.constraints,
                batch,
            });
        }
        start..self.history.len()
    }
}

/// What an optimizer returns: the record of the whole run and its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Every evaluation, initial design included.
    pub history: History,
    /// The incumbent after each evaluation (each batch, for noisy Bayesian
    /// optimization, whose incumbent comes from the model).
    pub trace: Vec<IncumbentStep>,
    /// The final incumbent's history index; `None` when no evaluated point is
    /// feasible (a domain outcome, not an error).
    pub incumbent: Option<usize>,
    /// The recommended point (variables' units): the incumbent after a local
    /// polish on the model for Bayesian optimization, the incumbent itself for
    /// the baselines; `None` when nothing feasible was found.
    pub recommended: Option<Vec<f64>>,
    /// The seed of the run (keys the noise of [`confirm`](crate::confirm())).
    pub seed: u64,
}

impl Outcome {
    /// The outcome of a method without a model (the baselines): the best observed feasible
    /// point of `history` is both the incumbent and the recommendation.
    pub fn best_observed(history: History, trace: Vec<IncumbentStep>, seed: u64) -> Outcome {
        let incumbent = history.best_observed(history.len());
        let recommended = incumbent.map(|i| history.records[i].x.clone());
        Outcome {
            history,
            trace,
            incumbent,
            recommended,
            seed,
        }
    }

    /// The incumbent's record.
    pub fn incumbent_record(&self) -> Option<&Record> {
        self.incumbent.map(|i| &self.history.records[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_csv_has_one_row_per_evaluation_with_its_batch() {
        let problem = Problem::continuous(&[(0.0, 1.0), (0.0, 2.0)]).unwrap();
        let f = |x: &[f64]| Evaluation::new(x[0] + x[1]).with_constraints(vec![x[0] - 0.5]);
        let mut ev = Evaluator::new(&problem, &f, 1);
        ev.evaluate_unit(&[vec![0.0, 0.5], vec![1.0, 1.0]]);
        ev.evaluate(vec![vec![0.25, 0.0]]);
        let mut out = Vec::new();
        ev.history.write_csv(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "index,batch,x0,x1,value,noise_sd,g0\n0,0,0,1,1,,-0.5\n1,0,1,2,3,,0.5\n2,1,0.25,0,0.25,,-0.25\n"
        );
        assert_eq!(ev.history.best_observed(3), Some(2));
    }
}
