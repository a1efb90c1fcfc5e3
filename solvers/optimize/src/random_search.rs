//! The simplest baseline: independent uniform points, evaluated in parallel
//! batches. Its incumbent is the best observed feasible point.

use crate::evaluation::{Evaluator, IncumbentStep, Objective, Outcome};
use crate::problem::{Problem, ProblemError};
use crate::rng::{Rng, mix};

/// The stream of the run seed that draws the points.
const RANDOM_STREAM: u64 = 0x05EA_04C4;

/// Points per parallel batch. The points do not depend on it (they come from
/// one stream in order), only the batch numbers in the history do.
pub const BATCH: usize = 8;

/// Evaluates `budget` uniform random points.
pub fn minimize<O: Objective + ?Sized>(
    problem: &Problem,
    objective: &O,
    budget: usize,
    seed: u64,
) -> Result<Outcome, ProblemError> {
    if budget == 0 {
        return Err(ProblemError::ZeroBudget);
    }
    let mut rng = Rng::new(mix(seed, RANDOM_STREAM));
    let mut ev = Evaluator::new(problem, objective, seed);
    let mut trace = Vec::with_capacity(budget);
    while ev.history.len() < budget {
        let q = BATCH.min(budget - ev.history.len());
        let batch: Vec<Vec<f64>> = (0..q)
            .map(|_| (0..problem.dim()).map(|_| rng.unit()).collect())
            .collect();
        for i in ev.evaluate_unit(&batch) {
            trace.push(IncumbentStep {
                evaluations: i + 1,
                index: ev.history.best_observed(i + 1),
            });
        }
    }
    Ok(Outcome::best_observed(ev.history, trace, seed))
}
