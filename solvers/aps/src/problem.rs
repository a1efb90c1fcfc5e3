//! The scheduling problem: jobs made of operations that run on one of their
//! eligible machines, with optional sequence-dependent setups, release dates,
//! due dates and weights.
//!
//! A plant maps onto this model as follows: a *work order* is a [`Job`], a
//! routing step is an [`Operation`], the work centres able to do the step are
//! its [`Alternative`]s, and the product family of the step is
//! [`Operation::family`]. Changeovers between families on a machine are the
//! [`SetupMatrix`], indexed `[machine][from_family][to_family]`.

mod format;

pub use format::{ParseError, parse_fjsp, parse_jssp};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A point or span on the schedule's integer time axis [time unit].
///
/// The benchmark files are unitless; a plant maps its own unit (typically
/// seconds or minutes) onto it. Integers keep every objective exact and make
/// results bit-for-bit reproducible.
pub type Time = i64;

/// One machine an operation may run on, and how long it takes there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    /// Machine index, 0-based.
    pub machine: usize,
    /// Processing time on that machine [time unit].
    pub duration: Time,
}

/// A routing step of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Eligible machines; a classical job shop has exactly one.
    pub alternatives: Vec<Alternative>,
    /// Setup family (product family) of the step; indexes the setup matrix.
    #[serde(default)]
    pub family: usize,
}

impl Operation {
    /// The processing time on `machine`, or `None` if it is not eligible.
    pub fn duration_on(&self, machine: usize) -> Option<Time> {
        self.alternatives
            .iter()
            .find(|a| a.machine == machine)
            .map(|a| a.duration)
    }

    /// The shortest processing time over all eligible machines [time unit].
    pub fn min_duration(&self) -> Time {
        self.alternatives.iter().map(|a| a.duration).min().unwrap_or(0)
    }
}

/// A work order: operations that must run in the given order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Operations in processing order.
    pub operations: Vec<Operation>,
    /// Earliest start of the first operation [time unit].
    #[serde(default)]
    pub release: Time,
    /// Due date of the last operation [time unit]; `None` means the job never
    /// counts as tardy or late.
    #[serde(default)]
    pub due: Option<Time>,
    /// Weight in the total weighted tardiness (>= 0).
    #[serde(default = "default_weight")]
    pub weight: i64,
}

fn default_weight() -> i64 {
    1
}

impl Job {
    /// A job with the given operations, released at 0, without due date, weight 1.
    pub fn new(operations: Vec<Operation>) -> Self {
        Job {
            operations,
            release: 0,
            due: None,
            weight: 1,
        }
    }
}

/// Sequence-dependent setup times, `[machine][from_family][to_family]` [time unit].
///
/// A setup is needed between two consecutive operations on a machine; it may
/// run while the next job is still on its previous machine (an *anticipatory*
/// setup), which is what a changeover crew usually does. There is no setup
/// before the first operation of a machine: machines are assumed to be
/// prepared for whatever comes first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupMatrix {
    /// Number of families; every operation's family must be below this.
    pub families: usize,
    /// Flat storage, index `(machine * families + from) * families + to`.
    pub times: Vec<Time>,
}

impl SetupMatrix {
    /// A matrix of zeros for `machines` machines and `families` families.
    pub fn zeros(machines: usize, families: usize) -> Self {
        SetupMatrix {
            families,
            times: vec![0; machines * families * families],
        }
    }

    /// Setup time on `machine` from family `from` to family `to` [time unit].
    #[inline]
    pub fn get(&self, machine: usize, from: usize, to: usize) -> Time {
        self.times[(machine * self.families + from) * self.families + to]
    }

    /// Sets the setup time on `machine` from family `from` to family `to`.
    pub fn set(&mut self, machine: usize, from: usize, to: usize, time: Time) {
        self.times[(machine * self.families + from) * self.families + to] = time;
    }
}

/// A (flexible) job shop scheduling problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Instance name, e.g. `ta01`.
    #[serde(default)]
    pub name: String,
    /// Number of machines; machine indices are `0..machines`.
    pub machines: usize,
    /// The jobs.
    pub jobs: Vec<Job>,
    /// Optional sequence-dependent setups.
    #[serde(default)]
    pub setups: Option<SetupMatrix>,
    /// Per machine, the earliest start of any operation on it [time unit]: the end of a
    /// plant's initial setup, or of what the machine is busy with now. Empty: all 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine_ready: Vec<Time>,
    /// Per machine, the family it is set up for now (a plan from a running plant's state):
    /// its first operation needs the setup from that family. Empty, or `None` for a machine:
    /// no setup before its first operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_family: Vec<Option<usize>>,
    /// Operations that keep their machine and their place at the head of its sequence: work
    /// in progress and started work (with a `start`), and the frozen horizon (without). See
    /// [`Pinned`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<Pinned>,
}

/// An operation held in place by a plan made from a running plant's state.
///
/// The pinned operations of a machine, in the order listed, come first on it, before every
/// other operation: each solver keeps that prefix as it is, and the checker verifies it. A
/// pinned operation with a `start` starts exactly then (work in progress starts at 0 with its
/// remaining time as its duration); one without keeps machine and place, and its start may
/// shift right (the frozen horizon: inside it the sequence stays). The job predecessors of a
/// pinned operation are pinned too, and those with a start form a schedule of their own
/// ([`Problem::validate`] checks both), so every pin can be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinned {
    /// Job index.
    pub job: usize,
    /// Operation index within the job.
    pub op: usize,
    /// The machine it stays on.
    pub machine: usize,
    /// Its fixed start, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Time>,
}

/// Why a [`Problem`] cannot be scheduled.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemError {
    /// An operation has no eligible machine.
    #[error("job {job}, operation {op}: no eligible machine")]
    NoAlternative { job: usize, op: usize },
    /// An alternative names a machine that does not exist.
    #[error("job {job}, operation {op}: machine {machine} out of range 0..{machines}")]
    MachineOutOfRange {
        job: usize,
        op: usize,
        machine: usize,
        machines: usize,
    },
    /// The same machine is listed twice for one operation.
    #[error("job {job}, operation {op}: machine {machine} listed twice")]
    DuplicateMachine { job: usize, op: usize, machine: usize },
    /// A negative processing time.
    #[error("job {job}, operation {op}: duration must be >= 0, got {duration}")]
    NegativeDuration { job: usize, op: usize, duration: Time },
    /// A family outside the setup matrix.
    #[error("job {job}, operation {op}: family {family} out of range 0..{families}")]
    FamilyOutOfRange {
        job: usize,
        op: usize,
        family: usize,
        families: usize,
    },
    /// The setup matrix has the wrong size or negative entries.
    #[error("setup matrix: {0}")]
    BadSetups(String),
    /// A negative weight or release.
    #[error("job {job}: {what} must be >= 0, got {value}")]
    Negative { job: usize, what: &'static str, value: i64 },
    /// Machine ready times of the wrong length or negative.
    #[error("machine_ready: {0}")]
    BadReady(String),
    /// Initial families of the wrong length or out of range.
    #[error("initial_family: {0}")]
    BadInitialFamily(String),
    /// A pin that cannot be met (see [`Pinned`]).
    #[error("pinned[{index}] (job {job}, operation {op}): {reason}")]
    BadPin {
        index: usize,
        job: usize,
        op: usize,
        reason: String,
    },
}

impl Problem {
    /// Checks the invariants every solver relies on.
    pub fn validate(&self) -> Result<(), ProblemError> {
        let families = self.setups.as_ref().map(|s| s.families);
        if let Some(s) = &self.setups {
            let want = self.machines * s.families * s.families;
            if s.times.len() != want {
                return Err(ProblemError::BadSetups(format!(
                    "expected {want} entries, got {}",
                    s.times.len()
                )));
            }
            if let Some(t) = s.times.iter().find(|t| **t < 0) {
                return Err(ProblemError::BadSetups(format!("setup times must be >= 0, got {t}")));
            }
        }
        if !self.machine_ready.is_empty() && self.machine_ready.len() != self.machines {
            return Err(ProblemError::BadReady(format!(
                "expected {} entries (one per machine), got {}",
                self.machines,
                self.machine_ready.len()
            )));
        }
        if let Some(t) = self.machine_ready.iter().find(|t| **t < 0) {
            return Err(ProblemError::BadReady(format!("ready times must be >= 0, got {t}")));
        }
        if !self.initial_family.is_empty() && self.initial_family.len() != self.machines {
            return Err(ProblemError::BadInitialFamily(format!(
                "expected {} entries (one per machine), got {}",
                self.machines,
                self.initial_family.len()
            )));
        }
        if let Some(f) = self
            .initial_family
            .iter()
            .flatten()
            .find(|f| families.is_none_or(|n| **f >= n))
        {
            return Err(ProblemError::BadInitialFamily(format!(
                "family {f} is not in the setup matrix ({} families)",
                families.unwrap_or(0)
            )));
        }
        for (j, job) in self.jobs.iter().enumerate() {
            if job.release < 0 {
                return Err(ProblemError::Negative {
                    job: j,
                    what: "release",
                    value: job.release,
                });
            }
            if job.weight < 0 {
                return Err(ProblemError::Negative {
                    job: j,
                    what: "weight",
                    value: job.weight,
                });
            }
            for (o, op) in job.operations.iter().enumerate() {
                if op.alternatives.is_empty() {
                    return Err(ProblemError::NoAlternative { job: j, op: o });
                }
                for (k, a) in op.alternatives.iter().enumerate() {
                    if a.machine >= self.machines {
                        return Err(ProblemError::MachineOutOfRange {
                            job: j,
                            op: o,
                            machine: a.machine,
                            machines: self.machines,
                        });
                    }
                    if a.duration < 0 {
                        return Err(ProblemError::NegativeDuration {
                            job: j,
                            op: o,
                            duration: a.duration,
                        });
                    }
                    if op.alternatives[..k].iter().any(|b| b.machine == a.machine) {
                        return Err(ProblemError::DuplicateMachine {
                            job: j,
                            op: o,
                            machine: a.machine,
                        });
                    }
                }
                match families {
                    Some(f) if op.family >= f => {
                        return Err(ProblemError::FamilyOutOfRange {
                            job: j,
                            op: o,
                            family: op.family,
                            families: f,
                        });
                    }
                    _ => {}
                }
            }
        }
        self.validate_pins()
    }

    /// The pins can all be met: each names an existing operation once, on an eligible
    /// machine; its job predecessors are pinned; pinned starts respect releases, ready times,
    /// job order and the machine order with its setups; a pin without a start never precedes
    /// one with a start on its machine.
    fn validate_pins(&self) -> Result<(), ProblemError> {
        let mut at: Vec<Vec<Option<usize>>> = self.jobs.iter().map(|j| vec![None; j.operations.len()]).collect();
        let mut last_on: Vec<Option<usize>> = vec![None; self.machines];
        for (index, p) in self.pinned.iter().enumerate() {
            let bad = |reason: String| ProblemError::BadPin {
                index,
                job: p.job,
                op: p.op,
                reason,
            };
            let Some(op) = self.jobs.get(p.job).and_then(|j| j.operations.get(p.op)) else {
                return Err(bad("no such operation".into()));
            };
            if op.duration_on(p.machine).is_none() {
                return Err(bad(format!("machine {} is not eligible", p.machine)));
            }
            if at[p.job][p.op].replace(index).is_some() {
                return Err(bad("pinned twice".into()));
            }
            if p.op > 0 && at[p.job][p.op - 1].is_none() {
                return Err(bad("its job predecessor is not pinned (list pins in job order)".into()));
            }
            let prev_job = (p.op > 0).then(|| self.pinned[at[p.job][p.op - 1].expect("checked")]);
            let prev_mach = last_on[p.machine].map(|i| self.pinned[i]);
            last_on[p.machine] = Some(index);
            let Some(start) = p.start else { continue };
            if prev_mach.is_some_and(|q| q.start.is_none()) {
                return Err(bad(format!(
                    "has a start, but follows a pin without one on machine {}",
                    p.machine
                )));
            }
            let release = self.jobs[p.job].release;
            let mut earliest = release.max(self.ready(p.machine));
            if prev_mach.is_none() {
                earliest = earliest.max(self.ready(p.machine) + self.initial_setup(p.machine, op.family));
            }
            if let Some(q) = prev_job {
                let Some(qs) = q.start else {
                    return Err(bad("has a start, but its job predecessor's pin has none".into()));
                };
                let qd = self.jobs[q.job].operations[q.op].duration_on(q.machine).unwrap_or(0);
                earliest = earliest.max(qs + qd);
            }
            if let Some(q) = prev_mach {
                let qs = q.start.expect("checked above");
                let qop = &self.jobs[q.job].operations[q.op];
                let qd = qop.duration_on(q.machine).unwrap_or(0);
                earliest = earliest.max(qs + qd + self.setup(p.machine, qop.family, op.family));
            }
            if start < earliest {
                return Err(bad(format!(
                    "start {start} is before {earliest}, the earliest its release, machine and predecessors allow"
                )));
            }
        }
        Ok(())
    }

    /// Total number of operations.
    pub fn num_operations(&self) -> usize {
        self.jobs.iter().map(|j| j.operations.len()).sum()
    }

    /// True when every operation has exactly one eligible machine.
    pub fn is_classical(&self) -> bool {
        self.jobs
            .iter()
            .flat_map(|j| &j.operations)
            .all(|o| o.alternatives.len() == 1)
    }

    /// The earliest start of any operation on `machine` (0 without ready times).
    #[inline]
    pub fn ready(&self, machine: usize) -> Time {
        self.machine_ready.get(machine).copied().unwrap_or(0)
    }

    /// The setup on `machine` before its first operation, of family `to`: from the family it
    /// is set up for now (`initial_family`), 0 if none is given.
    #[inline]
    pub fn initial_setup(&self, machine: usize, to: usize) -> Time {
        match self.initial_family.get(machine).copied().flatten() {
            Some(from) => self.setup(machine, from, to),
            None => 0,
        }
    }

    /// Setup time on `machine` between an operation of family `from` and one of `to`.
    #[inline]
    pub fn setup(&self, machine: usize, from: usize, to: usize) -> Time {
        match &self.setups {
            Some(s) => s.get(machine, from, to),
            None => 0,
        }
    }
}
