//! A plan from a running plant's present state: what is done drops out, what is in progress
//! is pinned with its remaining time, broken machines are ready when their repair is expected
//! to end, each machine keeps the family it is set up for, and the frozen horizon keeps the
//! running plan's first operations on their machines and in their order.

use super::{PlanError, PlantProblem, secs};
use crate::problem::{Alternative, Job, Operation, Pinned, Time};

/// A running plant's present, as a plan from it needs it. Times are plant times [s]; jobs and
/// machines are indexed as in the [`PlantProblem`] of the whole plant.
#[derive(Clone, Debug, PartialEq)]
pub struct ShopState {
    /// The present [s]: the new plan's time 0.
    pub now: f64,
    /// Per job: how far it is.
    pub jobs: Vec<JobProgress>,
    /// Per machine: when it is free of what the plan does not know, and its setup.
    pub machines: Vec<MachineNow>,
    /// The frozen horizon: planned operations `(job, step, machine)`, earliest planned start
    /// first, that keep their machine and their order (after the work in progress).
    pub frozen: Vec<(usize, usize, usize)>,
}

/// How far one job (an order's unit or lot) is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobProgress {
    /// It left the plant (done or scrapped): nothing of it is planned.
    pub gone: bool,
    /// Its first routing step not yet started.
    pub next_step: usize,
    /// The step it is being processed at, if any (the one before `next_step`).
    pub in_progress: Option<InProgress>,
}

/// An operation in progress.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InProgress {
    /// Its machine.
    pub machine: usize,
    /// Expected time until it ends [s]: processing (and setup) left, plus the expected rest
    /// of a repair if its machine is down.
    pub remaining_s: f64,
}

/// One machine now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MachineNow {
    /// When it can start an operation [s]: the expected end of a repair, or of an initial
    /// setup not yet done; `now` or earlier if it can start at once. (An operation in
    /// progress on it is in [`JobProgress::in_progress`], not here.)
    pub ready_s: f64,
    /// The family it is set up for, if any.
    pub family: Option<usize>,
}

impl PlantProblem {
    /// The problem of what is left of this plan's jobs at `state`, on a time axis starting at
    /// `state.now` ([`PlantProblem::origin`]): done operations and gone jobs drop out; an
    /// operation in progress becomes its job's first operation, pinned at 0 on its machine
    /// with its remaining time; releases and due dates count from now (a due date may be past:
    /// negative); machines are ready at `ready_s` and set up for `family`; the frozen
    /// operations are pinned without a start, in the order given (an entry is skipped when
    /// its job's earlier operation is neither done nor pinned, or the machine cannot do it).
    pub fn at(&self, state: &ShopState) -> Result<PlantProblem, PlanError> {
        let origin = secs(state.now);
        let rel = |t: Time| t - origin;
        let mut jobs = Vec::new();
        let mut refs = Vec::new();
        let mut first_step = Vec::new();
        let mut source_job = Vec::new();
        // Per base job: its index in the new problem and its first step there.
        let mut new_index: Vec<Option<(usize, usize)>> = vec![None; self.problem.jobs.len()];
        let mut in_progress = Vec::new();
        let mut busy = vec![false; self.problem.machines];
        for (j, job) in self.problem.jobs.iter().enumerate() {
            let Some(p) = state.jobs.get(j) else { continue };
            let rest = &job.operations[p.next_step.min(job.operations.len())..];
            if p.gone || (rest.is_empty() && p.in_progress.is_none()) {
                continue;
            }
            let mut operations = Vec::with_capacity(rest.len() + 1);
            let mut first = p.next_step;
            if let Some(ip) = p.in_progress
                && p.next_step > 0
            {
                let step = p.next_step - 1;
                first = step;
                operations.push(Operation {
                    alternatives: vec![Alternative {
                        machine: ip.machine,
                        duration: secs(ip.remaining_s.max(0.0)),
                    }],
                    family: job.operations[step].family,
                });
                in_progress.push((jobs.len(), ip.machine));
                busy[ip.machine] = true;
            }
            operations.extend_from_slice(rest);
            new_index[j] = Some((jobs.len(), first));
            jobs.push(Job {
                operations,
                release: if p.in_progress.is_some() {
                    0
                } else {
                    rel(job.release).max(0)
                },
                due: job.due.map(rel),
                weight: job.weight,
            });
            refs.push(self.jobs[j].clone());
            first_step.push(first);
            source_job.push(j);
        }
        // Work in progress first (each at 0), then the frozen horizon in planned order.
        let mut pinned: Vec<Pinned> = in_progress
            .iter()
            .map(|&(job, machine)| Pinned {
                job,
                op: 0,
                machine,
                start: Some(0),
            })
            .collect();
        let mut is_pinned: Vec<Vec<bool>> = jobs.iter().map(|j| vec![false; j.operations.len()]).collect();
        for p in &pinned {
            is_pinned[p.job][0] = true;
        }
        for &(j, step, machine) in &state.frozen {
            let Some((nj, first)) = new_index.get(j).copied().flatten() else {
                continue;
            };
            if step < first || step - first >= jobs[nj].operations.len() {
                continue;
            }
            let op = step - first;
            if is_pinned[nj][op]
                || (op > 0 && !is_pinned[nj][op - 1])
                || jobs[nj].operations[op].duration_on(machine).is_none()
            {
                continue;
            }
            is_pinned[nj][op] = true;
            pinned.push(Pinned {
                job: nj,
                op,
                machine,
                start: None,
            });
        }
        let machines = self.problem.machines;
        let now_of = |m: usize| state.machines.get(m).copied().unwrap_or_default();
        // A machine with work in progress is taken by it: ready at once, already set up.
        let machine_ready: Vec<Time> = (0..machines)
            .map(|m| {
                if busy[m] {
                    0
                } else {
                    rel(secs(now_of(m).ready_s)).max(0)
                }
            })
            .collect();
        let families = self.problem.setups.as_ref().map_or(0, |s| s.families);
        let initial_family: Vec<Option<usize>> = (0..machines)
            .map(|m| now_of(m).family.filter(|&f| !busy[m] && f < families))
            .collect();
        let mut problem = self.problem.clone();
        problem.jobs = jobs;
        problem.machine_ready = if machine_ready.iter().any(|&r| r > 0) {
            machine_ready
        } else {
            Vec::new()
        };
        problem.initial_family = if initial_family.iter().any(Option::is_some) {
            initial_family
        } else {
            Vec::new()
        };
        problem.pinned = pinned;
        if problem.jobs.is_empty() {
            return Err(PlanError::NoOrders);
        }
        Ok(PlantProblem {
            problem,
            machines: self.machines.clone(),
            jobs: refs,
            families: self.families.clone(),
            split: self.split,
            first_step,
            source_job,
            origin,
            ready_is_initial_setup: false,
        })
    }
}
