//! Objectives and simple lower bounds, so every result can state its gap.

use crate::problem::{Problem, Time};
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a solver minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Completion time of the last operation, C_max.
    #[default]
    Makespan,
    /// Σ w_j · max(0, C_j − d_j) over jobs with a due date.
    Twt,
    /// max_j (C_j − d_j) over jobs with a due date; 0 when no job has one.
    Lmax,
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Objective::Makespan => "makespan",
            Objective::Twt => "twt",
            Objective::Lmax => "lmax",
        })
    }
}

impl FromStr for Objective {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "makespan" | "cmax" => Ok(Objective::Makespan),
            "twt" => Ok(Objective::Twt),
            "lmax" => Ok(Objective::Lmax),
            _ => Err(format!("unknown objective '{s}', expected makespan, twt or lmax")),
        }
    }
}

impl Objective {
    /// The objective value of given job completion times [time unit, or
    /// weight × time unit for twt].
    pub fn of_completions(self, problem: &Problem, completions: &[Time]) -> i64 {
        match self {
            Objective::Makespan => completions.iter().copied().max().unwrap_or(0),
            Objective::Twt => problem
                .jobs
                .iter()
                .zip(completions)
                .filter_map(|(j, &c)| j.due.map(|d| j.weight * (c - d).max(0)))
                .sum(),
            Objective::Lmax => problem
                .jobs
                .iter()
                .zip(completions)
                .filter_map(|(j, &c)| j.due.map(|d| c - d))
                .max()
                .unwrap_or(0),
        }
    }

    /// The objective value of a schedule.
    pub fn evaluate(self, problem: &Problem, schedule: &Schedule) -> i64 {
        self.of_completions(problem, &schedule.job_completions(problem.jobs.len()))
    }
}

/// Earliest possible completion of each job if it had the shop to itself:
/// release plus the shortest processing times of its operations.
fn job_alone(problem: &Problem) -> Vec<Time> {
    problem
        .jobs
        .iter()
        .map(|j| j.release + j.operations.iter().map(|o| o.min_duration()).sum::<Time>())
        .collect()
}

/// A lower bound on the makespan.
///
/// It is the largest of three relaxations, each valid for flexible shops with
/// setups (setups are dropped, which only loosens them):
/// * the longest job alone (release plus shortest times);
/// * for each machine, the operations that can *only* run there: smallest
///   head + their total time + smallest tail, heads and tails from shortest
///   times. For a classical job shop this is the one-machine bound;
/// * total shortest work divided over all machines, plus the smallest release.
pub fn makespan_lower_bound(problem: &Problem) -> Time {
    let mut lb = job_alone(problem).into_iter().max().unwrap_or(0);
    let m = problem.machines.max(1);
    let mut load = vec![0 as Time; m];
    let mut min_head = vec![Time::MAX; m];
    let mut min_tail = vec![Time::MAX; m];
    let mut total = 0;
    for job in &problem.jobs {
        let len: Time = job.operations.iter().map(|o| o.min_duration()).sum();
        let mut head = job.release;
        for op in &job.operations {
            let p = op.min_duration();
            total += p;
            if let [a] = op.alternatives.as_slice() {
                let tail = len - (head - job.release) - p;
                load[a.machine] += a.duration;
                min_head[a.machine] = min_head[a.machine].min(head);
                min_tail[a.machine] = min_tail[a.machine].min(tail);
            }
            head += p;
        }
    }
    for k in 0..m {
        if load[k] > 0 {
            lb = lb.max(min_head[k] + load[k] + min_tail[k]);
        }
    }
    let min_release = problem.jobs.iter().map(|j| j.release).min().unwrap_or(0);
    lb.max(min_release + (total + m as Time - 1) / m as Time)
}

/// A lower bound on `objective` (each job's completion can be no earlier than
/// when it runs alone; for makespan, [`makespan_lower_bound`]).
pub fn lower_bound(problem: &Problem, objective: Objective) -> i64 {
    match objective {
        Objective::Makespan => makespan_lower_bound(problem),
        _ => objective.of_completions(problem, &job_alone(problem)),
    }
}

/// Relative gap `(value − bound) / bound` in percent; `None` when the bound is
/// not positive, where a relative gap is meaningless.
pub fn gap_percent(value: i64, bound: i64) -> Option<f64> {
    (bound > 0).then(|| 100.0 * (value - bound) as f64 / bound as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::parse_jssp;

    #[test]
    fn ft06_bound_is_below_optimum() {
        let p = parse_jssp(include_str!("../tests/data/ft06.txt")).unwrap();
        let lb = makespan_lower_bound(&p);
        assert!((43..=55).contains(&lb), "lb {lb}");
    }

    #[test]
    fn twt_and_lmax_from_completions() {
        let mut p = parse_jssp("2 1\n0 3\n0 2\n").unwrap();
        p.jobs[0].due = Some(2);
        p.jobs[0].weight = 3;
        p.jobs[1].due = Some(10);
        assert_eq!(Objective::Twt.of_completions(&p, &[5, 7]), 9);
        assert_eq!(Objective::Lmax.of_completions(&p, &[5, 7]), 3);
        assert_eq!(Objective::Makespan.of_completions(&p, &[5, 7]), 7);
    }
}
