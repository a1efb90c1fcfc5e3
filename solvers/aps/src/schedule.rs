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

/// One way a schedule breaks the problem's rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Violation {
    /// An operation of the problem is not in the schedule.
    Missing(OpRef),
    /// An operation appears more than once.
    Duplicate(OpRef),
    /// The schedule names an operation the problem does not have.
    Unknown(OpRef),
    /// The operation runs on a machine it is not eligible for.
    NotEligible { op: OpRef, machine: usize },
    /// `end - start` differs from the processing time on the chosen machine.
    WrongDuration { op: OpRef, expected: Time, got: Time },
    /// The job's first operation starts before the release date.
    BeforeRelease { op: OpRef, start: Time, release: Time },
    /// An operation starts before its job predecessor ends.
    Precedence { op: OpRef, start: Time, pred_end: Time },
    /// Two operations on a machine are closer than their setup allows.
    Overlap {
        machine: usize,
        first: OpRef,
        second: OpRef,
        earliest: Time,
        start: Time,
    },
    /// A listed setup interval does not match the machine sequence.
    BadSetup { index: usize, reason: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Missing(o) => write!(f, "{o}: missing from the schedule"),
            Violation::Duplicate(o) => write!(f, "{o}: scheduled more than once"),
            Violation::Unknown(o) => write!(f, "{o}: not in the problem"),
            Violation::NotEligible { op, machine } => {
                write!(f, "{op}: machine {machine} is not eligible")
            }
            Violation::WrongDuration { op, expected, got } => {
                write!(f, "{op}: duration must be {expected}, got {got}")
            }
            Violation::BeforeRelease { op, start, release } => {
                write!(f, "{op}: starts at {start} before release {release}")
            }
            Violation::Precedence { op, start, pred_end } => {
                write!(f, "{op}: starts at {start} before its predecessor ends at {pred_end}")
            }
            Violation::Overlap {
                machine,
                first,
                second,
                earliest,
                start,
            } => write!(
                f,
                "machine {machine}: {second} starts at {start}, but after {first} and its setup the earliest start is {earliest}"
            ),
            Violation::BadSetup { index, reason } => write!(f, "setup {index}: {reason}"),
        }
    }
}

/// Checks every rule of `problem` against `schedule`; returns all violations.
pub fn check(problem: &Problem, schedule: &Schedule) -> Result<(), Vec<Violation>> {
    let mut v = Vec::new();
    // Index the schedule by (job, operation) without trusting its order.
    let mut slot: Vec<Vec<Option<usize>>> = problem.jobs.iter().map(|j| vec![None; j.operations.len()]).collect();
    for (i, so) in schedule.operations.iter().enumerate() {
        let r = so.op_ref();
        let Some(cell) = slot.get_mut(so.job).and_then(|j| j.get_mut(so.operation)) else {
            v.push(Violation::Unknown(r));
            continue;
        };
        if cell.is_some() {
            v.push(Violation::Duplicate(r));
            continue;
        }
        *cell = Some(i);
        let op = &problem.jobs[so.job].operations[so.operation];
        match op.duration_on(so.machine) {
            None => v.push(Violation::NotEligible {
                op: r,
                machine: so.machine,
            }),
            Some(d) if so.end - so.start != d => v.push(Violation::WrongDuration {
                op: r,
                expected: d,
                got: so.end - so.start,
            }),
            Some(_) => {}
        }
    }
    for (j, job) in problem.jobs.iter().enumerate() {
        let mut pred_end: Option<Time> = None;
        for (o, entry) in slot[j].iter().enumerate() {
            let r = OpRef { job: j, operation: o };
            let Some(i) = *entry else {
                v.push(Violation::Missing(r));
                pred_end = None;
                continue;
            };
            let so = &schedule.operations[i];
            if so.start < job.release {
                v.push(Violation::BeforeRelease {
                    op: r,
                    start: so.start,
                    release: job.release,
                });
            }
            if let Some(pe) = pred_end
                && so.start < pe
            {
                v.push(Violation::Precedence {
                    op: r,
                    start: so.start,
                    pred_end: pe,
                });
            }
            pred_end = Some(so.end);
        }
    }
    let family = |o: &ScheduledOperation| problem.jobs[o.job].operations[o.operation].family;
    let known = |o: &ScheduledOperation| {
        problem
            .jobs
            .get(o.job)
            .is_some_and(|j| o.operation < j.operations.len())
    };
    let ops = &schedule.operations;
    let seqs = machine_sequences(problem.machines, ops);
    // Position of each scheduled entry in its machine sequence, for the setup check.
    let mut next_on_machine: Vec<Option<usize>> = vec![None; ops.len()];
    for seq in &seqs {
        let seq: Vec<usize> = seq.iter().copied().filter(|&i| known(&ops[i])).collect();
        for w in seq.windows(2) {
            let (a, b) = (&ops[w[0]], &ops[w[1]]);
            next_on_machine[w[0]] = Some(w[1]);
            let earliest = a.end + problem.setup(a.machine, family(a), family(b));
            if b.start < earliest {
                v.push(Violation::Overlap {
                    machine: a.machine,
                    first: a.op_ref(),
                    second: b.op_ref(),
                    earliest,
                    start: b.start,
                });
            }
        }
    }
    // Out-of-range machines are already reported as not eligible above,
    // because `duration_on` finds no alternative for them.
    check_setups(problem, schedule, &slot, &next_on_machine, &mut v);
    if v.is_empty() { Ok(()) } else { Err(v) }
}

/// Each listed setup must join two consecutive operations of its machine,
/// last exactly the matrix time and fit between them; each positive setup of
/// the sequence must be listed once.
fn check_setups(
    problem: &Problem,
    schedule: &Schedule,
    slot: &[Vec<Option<usize>>],
    next_on_machine: &[Option<usize>],
    v: &mut Vec<Violation>,
) {
    let ops = &schedule.operations;
    let lookup = |r: OpRef| slot.get(r.job).and_then(|j| j.get(r.operation)).copied().flatten();
    let mut listed = vec![false; ops.len()];
    for (index, s) in schedule.setups.iter().enumerate() {
        let bad = |reason: String| Violation::BadSetup { index, reason };
        let (Some(a), Some(b)) = (lookup(s.from), lookup(s.to)) else {
            v.push(bad("names an operation that is not scheduled".into()));
            continue;
        };
        if next_on_machine[a] != Some(b) || ops[a].machine != s.machine {
            v.push(bad(format!(
                "{} and {} are not consecutive on machine {}",
                s.from, s.to, s.machine
            )));
            continue;
        }
        let fa = problem.jobs[s.from.job].operations[s.from.operation].family;
        let fb = problem.jobs[s.to.job].operations[s.to.operation].family;
        let want = problem.setup(s.machine, fa, fb);
        if s.end - s.start != want {
            v.push(bad(format!("must last {want}, got {}", s.end - s.start)));
        }
        if s.start < ops[a].end || s.end > ops[b].start {
            v.push(bad(format!(
                "[{}, {}] does not fit between {} and {}",
                s.start, s.end, ops[a].end, ops[b].start
            )));
        }
        if std::mem::replace(&mut listed[a], true) {
            v.push(bad("listed twice".into()));
        }
    }
    for (a, next) in next_on_machine.iter().enumerate() {
        if let Some(b) = *next {
            let (oa, ob) = (&ops[a], &ops[b]);
            let fa = problem.jobs[oa.job].operations[oa.operation].family;
            let fb = problem.jobs[ob.job].operations[ob.operation].family;
            if problem.setup(oa.machine, fa, fb) > 0 && !listed[a] {
                v.push(Violation::BadSetup {
                    index: schedule.setups.len(),
                    reason: format!(
                        "missing setup on machine {} between {} and {}",
                        oa.machine,
                        oa.op_ref(),
                        ob.op_ref()
                    ),
                });
            }
        }
    }
}

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
