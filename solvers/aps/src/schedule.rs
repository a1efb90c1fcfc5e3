//! The schedule a solver returns, and an independent feasibility checker.
//!
//! Architecture invariant: [`check`] shares no code with the solvers. It
//! works from the [`Problem`] and the start/end times alone, sorting each
//! machine's operations by time, so a bug in the disjunctive-graph code of a
//! solver cannot hide itself here.

use crate::problem::{Problem, Time};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Names one operation: job index and position within the job, both 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpRef {
    /// Job index.
    pub job: usize,
    /// Operation index within the job.
    pub operation: usize,
}

impl fmt::Display for OpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {} operation {}", self.job, self.operation)
    }
}

/// Where and when one operation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledOperation {
    /// Job index.
    pub job: usize,
    /// Operation index within the job.
    pub operation: usize,
    /// Machine index, 0-based.
    pub machine: usize,
    /// Start time [time unit].
    pub start: Time,
    /// End time [time unit]; `end - start` is the processing time on `machine`.
    pub end: Time,
    /// Place in the machine's processing order, 0-based. Times alone fix the
    /// order except among zero-length operations at the same instant, where
    /// the order still decides which setups apply; this breaks those ties.
    #[serde(default)]
    pub position: usize,
}

impl ScheduledOperation {
    /// The operation this entry schedules.
    pub fn op_ref(&self) -> OpRef {
        OpRef {
            job: self.job,
            operation: self.operation,
        }
    }
}

/// A changeover on a machine between two consecutive operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupInterval {
    /// Machine index, 0-based.
    pub machine: usize,
    /// Start of the changeover [time unit].
    pub start: Time,
    /// End of the changeover [time unit].
    pub end: Time,
    /// The operation the machine is set up from.
    pub from: OpRef,
    /// The operation the machine is set up for.
    pub to: OpRef,
}

/// A complete schedule: every operation placed once, plus the setups between them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// One entry per operation, in job order.
    pub operations: Vec<ScheduledOperation>,
    /// One entry per positive setup, placed just before the operation it prepares.
    pub setups: Vec<SetupInterval>,
}

impl Schedule {
    /// Builds a schedule from per-operation (machine, start) pairs in job order
    /// (the layout of [`Problem::jobs`] flattened) and derives the setups.
    /// Ties between zero-length operations are ordered by job, then operation.
    pub fn from_starts(problem: &Problem, placed: &[(usize, Time)]) -> Schedule {
        let with_pos: Vec<(usize, Time, usize)> = placed.iter().map(|&(m, t)| (m, t, 0)).collect();
        let mut s = Schedule::from_placements(problem, &with_pos);
        for seq in machine_sequences(problem.machines, &s.operations) {
            for (k, i) in seq.into_iter().enumerate() {
                s.operations[i].position = k;
            }
        }
        s.setups = derive_setups(problem, &s.operations);
        s
    }

    /// Builds a schedule from per-operation (machine, start, position in the
    /// machine order) triples in job order, and derives the setups.
    ///
    /// Durations come from the problem; an ineligible machine gets duration 0
    /// so that [`check`] reports it rather than this function panicking.
    pub fn from_placements(problem: &Problem, placed: &[(usize, Time, usize)]) -> Schedule {
        let mut operations = Vec::with_capacity(placed.len());
        let mut k = 0;
        for (j, job) in problem.jobs.iter().enumerate() {
            for (o, op) in job.operations.iter().enumerate() {
                let (machine, start, position) = placed[k];
                k += 1;
                let d = op.duration_on(machine).unwrap_or(0);
                operations.push(ScheduledOperation {
                    job: j,
                    operation: o,
                    machine,
                    start,
                    end: start + d,
                    position,
                });
            }
        }
        let setups = derive_setups(problem, &operations);
        Schedule { operations, setups }
    }

    /// Completion time of the last operation [time unit]; 0 when empty.
    pub fn makespan(&self) -> Time {
        self.operations.iter().map(|o| o.end).max().unwrap_or(0)
    }

    /// Completion time of each job [time unit] (its latest operation end).
    pub fn job_completions(&self, jobs: usize) -> Vec<Time> {
        let mut c = vec![0; jobs];
        for o in &self.operations {
            if o.job < jobs {
                c[o.job] = c[o.job].max(o.end);
            }
        }
        c
    }
}

/// One setup interval per consecutive pair with a positive setup, placed
/// just before the operation it prepares.
fn derive_setups(problem: &Problem, operations: &[ScheduledOperation]) -> Vec<SetupInterval> {
    let mut setups = Vec::new();
    if problem.setups.is_none() {
        return setups;
    }
    for seq in machine_sequences(problem.machines, operations) {
        for w in seq.windows(2) {
            let (a, b) = (&operations[w[0]], &operations[w[1]]);
            let s = problem.setup(
                a.machine,
                problem.jobs[a.job].operations[a.operation].family,
                problem.jobs[b.job].operations[b.operation].family,
            );
            if s > 0 {
                setups.push(SetupInterval {
                    machine: a.machine,
                    start: b.start - s,
                    end: b.start,
                    from: a.op_ref(),
                    to: b.op_ref(),
                });
            }
        }
    }
    setups
}

/// Indices into `ops` per machine, sorted by (start, end, position). Machines
/// out of range are skipped; the checker reports them separately.
fn machine_sequences(machines: usize, ops: &[ScheduledOperation]) -> Vec<Vec<usize>> {
    let mut seqs = vec![Vec::new(); machines];
    for (i, o) in ops.iter().enumerate() {
        if o.machine < machines {
            seqs[o.machine].push(i);
        }
    }
    for s in &mut seqs {
        s.sort_by_key(|&i| {
            let o = &ops[i];
            (o.start, o.end, o.position, o.job, o.operation)
        });
    }
    seqs
}

pub use crate::check::{Violation, check};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::parse_jssp;

    fn two_jobs() -> Problem {
        parse_jssp("2 2\n0 3 1 2\n0 2 1 4\n").unwrap()
    }

    #[test]
    fn accepts_a_feasible_schedule() {
        let p = two_jobs();
        let s = Schedule::from_starts(&p, &[(0, 0), (1, 3), (0, 3), (1, 5)]);
        assert_eq!(check(&p, &s), Ok(()));
        assert_eq!(s.makespan(), 9);
    }

    #[test]
    fn catches_overlap_precedence_and_duration() {
        let p = two_jobs();
        let mut s = Schedule::from_starts(&p, &[(0, 0), (1, 2), (0, 2), (1, 5)]);
        s.operations[3].end += 1;
        let v = check(&p, &s).unwrap_err();
        assert!(v.iter().any(|x| matches!(x, Violation::Overlap { .. })));
        assert!(v.iter().any(|x| matches!(x, Violation::Precedence { .. })));
        assert!(v.iter().any(|x| matches!(x, Violation::WrongDuration { .. })));
    }

    #[test]
    fn catches_missing_setup_gap_and_release() {
        let mut p = two_jobs();
        p.jobs[1].operations[0].family = 1;
        let mut m = crate::problem::SetupMatrix::zeros(2, 2);
        m.set(0, 0, 1, 5);
        p.setups = Some(m);
        p.jobs[0].release = 1;
        let s = Schedule::from_starts(&p, &[(0, 0), (1, 3), (0, 3), (1, 5)]);
        let v = check(&p, &s).unwrap_err();
        assert!(v.iter().any(|x| matches!(x, Violation::BeforeRelease { .. })));
        assert!(v.iter().any(|x| matches!(x, Violation::Overlap { earliest: 8, .. })));
        let ok = Schedule::from_starts(&p, &[(0, 1), (1, 4), (0, 9), (1, 11)]);
        assert_eq!(check(&p, &ok), Ok(()));
        assert_eq!(ok.setups.len(), 1);
    }

    /// Regression (found by proptest): with zero-length operations at one
    /// instant, times alone do not fix the machine order, yet the order
    /// decides which setups apply. The declared position breaks the tie.
    #[test]
    fn zero_length_ties_follow_the_declared_position() {
        let mut p = crate::problem::parse_jssp("3 1\n0 0\n0 0\n0 0\n").unwrap();
        p.jobs[2].operations[0].family = 1;
        let mut m = crate::problem::SetupMatrix::zeros(1, 2);
        m.set(0, 0, 0, 3);
        p.setups = Some(m);
        // Job 2 (family 1) between the two family-0 jobs needs no setup.
        let ok = Schedule::from_placements(&p, &[(0, 0, 0), (0, 0, 2), (0, 0, 1)]);
        assert_eq!(check(&p, &ok), Ok(()));
        // Jobs 0 and 1 adjacent need a 0 -> 0 setup of 3 between them.
        let bad = Schedule::from_placements(&p, &[(0, 0, 0), (0, 0, 1), (0, 0, 2)]);
        assert!(check(&p, &bad).is_err());
    }
}
