//! The feasibility checker, independent of the solvers.
//!
//! It shares no code with them: durations, setups and machine sequences are derived here from
//! the problem's own data (the alternatives of each operation, the raw setup matrix) and the
//! schedule's own machines, start times and positions. The schedule's end times are not
//! trusted: each operation ends at its start plus the problem's processing time on its machine
//! (a different `end` is itself a violation). So a solver bug in `duration_on`,
//! `Problem::setup`, the sequencing or `Schedule::from_placements` cannot hide from the check
//! (`tests/checker_independence.rs`: a schedule solved for a perturbed copy of an instance
//! fails against the true one, naming the operation).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::problem::{Problem, Time};
use crate::schedule::{OpRef, Schedule, ScheduledOperation};

/// The processing time of operation `o` of job `j` on `machine`, read from the problem's
/// alternatives; `None` when the machine is not eligible (or the operation does not exist).
fn duration(problem: &Problem, j: usize, o: usize, machine: usize) -> Option<Time> {
    let op = problem.jobs.get(j)?.operations.get(o)?;
    let mut found = None;
    for alt in &op.alternatives {
        if alt.machine == machine {
            found = Some(alt.duration);
            break;
        }
    }
    found
}

/// Where an operation really ends: its start plus the problem's time on its machine (the
/// schedule's own `end` when the machine is not eligible, which is reported separately).
fn end(problem: &Problem, so: &ScheduledOperation) -> Time {
    duration(problem, so.job, so.operation, so.machine).map_or(so.end, |d| so.start.saturating_add(d))
}

/// The setup time on `machine` from family `from` to `to`, read from the raw matrix
/// (`(machine * families + from) * families + to`); 0 without setups or out of range.
fn setup(problem: &Problem, machine: usize, from: usize, to: usize) -> Time {
    let Some(m) = &problem.setups else { return 0 };
    let f = m.families;
    if from >= f || to >= f {
        return 0;
    }
    m.times.get((machine * f + from) * f + to).copied().unwrap_or(0)
}

/// Indices into `ops` per machine in processing order: by start, then derived end, then the
/// schedule's position (zero-length ties), then job and operation.
fn sequences(problem: &Problem, ops: &[ScheduledOperation]) -> Vec<Vec<usize>> {
    let mut seqs = vec![Vec::new(); problem.machines];
    for (i, o) in ops.iter().enumerate() {
        if let Some(seq) = seqs.get_mut(o.machine) {
            seq.push(i);
        }
    }
    for seq in &mut seqs {
        seq.sort_by_key(|&i| {
            let o = &ops[i];
            (o.start, end(problem, o), o.position, o.job, o.operation)
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
    /// An operation starts before its machine is ready (`Problem::machine_ready`).
    BeforeReady {
        op: OpRef,
        machine: usize,
        start: Time,
        ready: Time,
    },
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
    /// A machine's first operation starts before the setup from the family the machine is
    /// set up for (`Problem::initial_family`) can end.
    BeforeInitialSetup {
        op: OpRef,
        machine: usize,
        start: Time,
        earliest: Time,
    },
    /// A pinned operation (`Problem::pinned`) is not where its pin holds it.
    PinMoved { op: OpRef, reason: String },
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
            Violation::BeforeReady {
                op,
                machine,
                start,
                ready,
            } => {
                write!(
                    f,
                    "{op}: starts at {start} on machine {machine}, which is ready at {ready}"
                )
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
            Violation::BeforeInitialSetup {
                op,
                machine,
                start,
                earliest,
            } => write!(
                f,
                "{op}: starts at {start}, first on machine {machine}, whose setup from its current family ends at {earliest}"
            ),
            Violation::PinMoved { op, reason } => write!(f, "{op}: pinned, but {reason}"),
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
        match duration(problem, so.job, so.operation, so.machine) {
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
            if so.start < problem.ready(so.machine) {
                v.push(Violation::BeforeReady {
                    op: r,
                    machine: so.machine,
                    start: so.start,
                    ready: problem.ready(so.machine),
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
            pred_end = Some(end(problem, so));
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
    let seqs = sequences(problem, ops);
    // Position of each scheduled entry in its machine sequence, for the setup check.
    let mut next_on_machine: Vec<Option<usize>> = vec![None; ops.len()];
    for seq in &seqs {
        let seq: Vec<usize> = seq.iter().copied().filter(|&i| known(&ops[i])).collect();
        for w in seq.windows(2) {
            let (a, b) = (&ops[w[0]], &ops[w[1]]);
            next_on_machine[w[0]] = Some(w[1]);
            let earliest = end(problem, a) + setup(problem, a.machine, family(a), family(b));
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
    // The first operation of a machine after the setup from its current family.
    for seq in &seqs {
        let Some(&first) = seq.iter().find(|&&i| known(&ops[i])) else {
            continue;
        };
        let o = &ops[first];
        if let Some(Some(from)) = problem.initial_family.get(o.machine) {
            let earliest = problem.ready(o.machine) + setup(problem, o.machine, *from, family(o));
            if o.start < earliest {
                v.push(Violation::BeforeInitialSetup {
                    op: o.op_ref(),
                    machine: o.machine,
                    start: o.start,
                    earliest,
                });
            }
        }
    }
    check_pins(problem, ops, &slot, &seqs, &mut v);
    // Out-of-range machines are already reported as not eligible above,
    // because the problem lists no alternative for them.
    check_setups(problem, schedule, &slot, &next_on_machine, &mut v);
    if v.is_empty() { Ok(()) } else { Err(v) }
}

/// Every pinned operation runs on its machine, at its start if it has one, and the pinned
/// operations of each machine, in the order listed, are the first of its sequence.
fn check_pins(
    problem: &Problem,
    ops: &[ScheduledOperation],
    slot: &[Vec<Option<usize>>],
    seqs: &[Vec<usize>],
    v: &mut Vec<Violation>,
) {
    let mut place = vec![0usize; problem.machines];
    for p in &problem.pinned {
        let op = OpRef {
            job: p.job,
            operation: p.op,
        };
        let Some(i) = slot.get(p.job).and_then(|j| j.get(p.op)).copied().flatten() else {
            continue; // reported as missing or not in the problem
        };
        let o = &ops[i];
        if o.machine != p.machine {
            v.push(Violation::PinMoved {
                op,
                reason: format!("runs on machine {} instead of {}", o.machine, p.machine),
            });
            continue;
        }
        if let Some(start) = p.start
            && o.start != start
        {
            v.push(Violation::PinMoved {
                op,
                reason: format!("starts at {} instead of {start}", o.start),
            });
        }
        let Some(seq) = seqs.get(p.machine) else { continue };
        let k = place[p.machine];
        place[p.machine] += 1;
        if seq.get(k) != Some(&i) {
            let at = seq.iter().position(|&x| x == i).unwrap_or(usize::MAX);
            v.push(Violation::PinMoved {
                op,
                reason: format!(
                    "is at place {at} of machine {}'s sequence instead of {k}, where its pins put it",
                    p.machine
                ),
            });
        }
    }
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
        let want = setup(problem, s.machine, fa, fb);
        if s.end - s.start != want {
            v.push(bad(format!("must last {want}, got {}", s.end - s.start)));
        }
        let a_end = end(problem, &ops[a]);
        if s.start < a_end || s.end > ops[b].start {
            v.push(bad(format!(
                "[{}, {}] does not fit between {} and {}",
                s.start, s.end, a_end, ops[b].start
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
            if setup(problem, oa.machine, fa, fb) > 0 && !listed[a] {
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
