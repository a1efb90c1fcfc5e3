//! The portfolio: independent tabu searches ("slots") spread over threads.
//!
//! Reproducibility: in iteration mode each slot's seed is `mix(seed, slot)`,
//! its start is chosen from the slot index alone and it runs a fixed number of
//! iterations, so its result does not depend on which thread runs it or on
//! how many threads there are. The winner is the minimum of
//! `(objective, slot index)`. The wall clock is read only in time-limit mode.

use crate::dispatch::{Rule, giffler_thompson};
use crate::graph::{Graph, Instance, Move};
use crate::objective::{Objective, gap_percent, lower_bound};
use crate::problem::{Problem, ProblemError};
use crate::rng::{Rng, mix};
use crate::schedule::{Schedule, Violation, check};
use crate::tabu::{Limits, Tabu};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use thiserror::Error;

/// How long to search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Budget {
    /// Each slot runs this many tabu iterations; reproducible for any thread count.
    Iterations(u64),
    /// One slot per thread, each searching until the wall-clock limit.
    TimeLimit(Duration),
}

/// Options of [`solve`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolveOptions {
    /// What to minimise.
    pub objective: Objective,
    /// Worker threads (>= 1).
    pub threads: usize,
    /// Master seed; slot `k` uses `mix(seed, k)`.
    pub seed: u64,
    /// Search budget.
    pub budget: Budget,
    /// Number of independent searches in iteration mode (ignored in time
    /// mode, where there is one per thread). Fixed by default so that results
    /// do not change with `threads`.
    pub slots: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            objective: Objective::Makespan,
            threads: 1,
            seed: 1,
            budget: Budget::Iterations(20_000),
            slots: 4,
        }
    }
}

/// A solved problem: the best schedule and how it was found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SolveResult {
    /// The best schedule; it has passed [`check`].
    pub schedule: Schedule,
    /// The objective minimised.
    pub objective: Objective,
    /// Objective value of `schedule`.
    pub value: i64,
    /// A lower bound on the objective ([`lower_bound`]).
    pub lower_bound: i64,
    /// `(value - lower_bound) / lower_bound` [%]; `None` if the bound is not positive.
    pub gap_to_lower_bound_percent: Option<f64>,
    /// Whether `value` equals the lower bound, which proves it optimal.
    pub proven_optimal: bool,
    /// Slot that found `schedule`.
    pub best_slot: usize,
    /// Tabu iteration of that slot at which it was found.
    pub best_iteration: u64,
    /// Seconds from the start of the solve to finding it (time-limit mode only).
    pub time_to_best_s: Option<f64>,
    /// Total tabu iterations over all slots.
    pub iterations: u64,
    /// Total move evaluations over all slots.
    pub moves_evaluated: u64,
    /// Wall time of the solve [s] (measured for reporting only, also in
    /// iteration mode; it never influences the search there).
    pub elapsed_s: f64,
}

/// Why [`solve`] could not produce a schedule.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SolveError {
    /// The problem violates a model invariant.
    #[error("invalid problem: {0}")]
    Problem(#[from] ProblemError),
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads { threads: usize, reason: String },
    /// A solver produced a schedule the checker rejects: a bug, reported
    /// rather than hidden.
    #[error("internal error: solver schedule is infeasible: {}", .0.first().map(|v| v.to_string()).unwrap_or_default())]
    Infeasible(Vec<Violation>),
}

/// A schedule from one Giffler–Thompson pass with `rule` (no search).
pub fn construct(problem: &Problem, rule: Rule, objective: Objective) -> Result<Schedule, SolveError> {
    problem.validate()?;
    let inst = Instance::new(problem, objective);
    let g = giffler_thompson(&inst, rule, 0.0, &mut Rng::new(0));
    let s = g.to_schedule(problem);
    check(problem, &s).map_err(SolveError::Infeasible)?;
    Ok(s)
}

/// The start of slot `k`: the best pure-rule schedule for slot 0, then
/// rules in turn with growing noise, so slots explore different regions.
fn start_for_slot(inst: &Instance, slot: usize, rng: &mut Rng) -> Graph {
    if slot == 0 {
        let mut best: Option<Graph> = None;
        // Every rule as `construct` runs it too (the random rule with its fixed seed), so that
        // the search is never worse than a pure dispatching rule.
        let as_constructed = giffler_thompson(inst, Rule::Random, 0.0, &mut Rng::new(0));
        for g in Rule::ALL
            .into_iter()
            .map(|rule| giffler_thompson(inst, rule, 0.0, rng))
            .chain([as_constructed])
        {
            if best.as_ref().is_none_or(|b| g.value < b.value) {
                best = Some(g);
            }
        }
        return best.expect("at least one rule");
    }
    let rule = Rule::ALL[slot % Rule::ALL.len()];
    let noise = 0.2 * (1 + slot / Rule::ALL.len()) as f64;
    giffler_thompson(inst, rule, noise.min(0.9), rng)
}

/// Solves `problem` with the GT + tabu portfolio.
pub fn solve(problem: &Problem, opts: &SolveOptions) -> Result<SolveResult, SolveError> {
    solve_from(problem, opts, None)
}

/// The graph of `schedule`'s machines and order (the pinned head of each machine first, the
/// rest by start, then position), if it is a complete, acyclic solution of `problem` that keeps
/// the pins.
fn graph_of(inst: &Instance, problem: &Problem, schedule: &Schedule) -> Option<Graph> {
    let mut index = Vec::with_capacity(problem.jobs.len());
    let mut acc = 0usize;
    for job in &problem.jobs {
        index.push(acc);
        acc += job.operations.len();
    }
    let mut mach = vec![u32::MAX; inst.n];
    let mut start = vec![(0, 0); inst.n];
    for o in &schedule.operations {
        let i = *index.get(o.job)? + o.operation;
        if o.operation >= problem.jobs[o.job].operations.len() || mach[i] != u32::MAX {
            return None;
        }
        inst.duration_on(i, o.machine as u32)?;
        mach[i] = o.machine as u32;
        // Zero-length operations may share a start: the schedule's own position orders them.
        start[i] = (o.start, o.position);
    }
    if mach.contains(&u32::MAX) {
        return None;
    }
    let mut rank = vec![usize::MAX; inst.n];
    for (r, &i) in inst.pinned_order.iter().enumerate() {
        rank[i as usize] = r;
    }
    let mut seq: Vec<Vec<u32>> = vec![Vec::new(); inst.machines];
    for i in 0..inst.n {
        seq[mach[i] as usize].push(i as u32);
    }
    for q in &mut seq {
        q.sort_by_key(|&i| (rank[i as usize], start[i as usize], i));
    }
    let mut g = Graph::new(inst, mach, seq);
    g.evaluate(inst).then_some(g)
}

/// [`solve`], with `warm` (a schedule of the same problem: a plan being repaired or re-solved)
/// among slot 0's starts when it is a complete, acyclic solution that keeps the pins. The
/// search is then never worse than `warm` re-timed (its order kept, every start as early as
/// it can be).
pub fn solve_from(problem: &Problem, opts: &SolveOptions, warm: Option<&Schedule>) -> Result<SolveResult, SolveError> {
    problem.validate()?;
    let started = Instant::now();
    let inst = Instance::new(problem, opts.objective);
    let lb = lower_bound(problem, opts.objective);
    let threads = opts.threads.max(1);
    let (slots, iterations, deadline) = match opts.budget {
        Budget::Iterations(n) => (opts.slots.max(1), n, None),
        Budget::TimeLimit(d) => (threads, u64::MAX, Some(started + d)),
    };
    let stop = AtomicBool::new(false);
    let run_slot = |slot: usize| {
        let seed = mix(opts.seed, slot as u64);
        let mut rng = Rng::new(seed);
        let mut g = start_for_slot(&inst, slot, &mut rng);
        if slot == 0
            && let Some(w) = warm.and_then(|w| graph_of(&inst, problem, w))
            && w.value <= g.value
        {
            g = w;
        }
        let limits = Limits {
            iterations,
            deadline,
            started,
            target: lb,
            // Sharing "optimum reached" across slots would make iteration
            // mode depend on timing, so only time mode uses it.
            stop: deadline.map(|_| &stop),
        };
        (slot, Tabu::new(&inst, g, rng.next_u64()).run(&limits))
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| SolveError::Threads {
            threads,
            reason: e.to_string(),
        })?;
    let outcomes: Vec<_> = pool.install(|| (0..slots).into_par_iter().map(run_slot).collect());
    let iterations_total = outcomes.iter().map(|o| o.1.iterations).sum();
    let moves_total = outcomes.iter().map(|o| o.1.moves_evaluated).sum();
    let (best_slot, best) = outcomes
        .into_iter()
        .min_by_key(|(slot, o)| (o.best.value, *slot))
        .expect("at least one slot");
    let schedule = best.best.to_schedule(problem);
    check(problem, &schedule).map_err(SolveError::Infeasible)?;
    let value = opts.objective.evaluate(problem, &schedule);
    debug_assert_eq!(value, best.best.value);
    Ok(SolveResult {
        schedule,
        objective: opts.objective,
        value,
        lower_bound: lb,
        gap_to_lower_bound_percent: gap_percent(value, lb),
        proven_optimal: value <= lb,
        best_slot,
        best_iteration: best.best_iteration,
        time_to_best_s: best.best_time.map(|d| d.as_secs_f64()),
        iterations: iterations_total,
        moves_evaluated: moves_total,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Affected-operations repair: `current` (a schedule of `problem`, e.g. the running plan from
/// the plant's present state) keeps every operation's machine and order, except the
/// operations in `moved` (those of a broken machine): each in turn is taken out and put back
/// at the machine and place, among its eligible machines and after the pinned head, that
/// gives the best `objective` (ties: where it was). Every other operation only shifts in time.
/// Falls back to a Giffler–Thompson construction if `current` is not a usable solution.
pub fn repair(
    problem: &Problem,
    objective: Objective,
    current: &Schedule,
    moved: &[(usize, usize)],
) -> Result<Schedule, SolveError> {
    problem.validate()?;
    let inst = Instance::new(problem, objective);
    let Some(mut g) = graph_of(&inst, problem, current) else {
        return construct(problem, Rule::Edd, objective);
    };
    let mut index = Vec::with_capacity(problem.jobs.len());
    let mut acc = 0usize;
    for job in &problem.jobs {
        index.push(acc);
        acc += job.operations.len();
    }
    for &(j, o) in moved {
        let Some(&first) = index.get(j) else { continue };
        if o >= problem.jobs[j].operations.len() || inst.pinned[first + o] {
            continue;
        }
        let op = (first + o) as u32;
        let mut best = (g.value, g.mach[op as usize], g.pos[op as usize]);
        for k in 0..inst.alternatives(op as usize).len() {
            let m = inst.alternatives(op as usize)[k].0;
            let home = g.mach[op as usize] == m;
            let len = g.seq[m as usize].len() - usize::from(home);
            for to in inst.pin_len[m as usize] as usize..=len {
                let mv = if home {
                    Move::Shift {
                        m,
                        from: g.pos[op as usize],
                        to: to as u32,
                    }
                } else {
                    Move::Reassign { op, m, to: to as u32 }
                };
                if matches!(mv, Move::Shift { from, to, .. } if from == to) {
                    continue;
                }
                if let Some(inv) = g.apply_and_evaluate(&inst, mv) {
                    if g.value < best.0 {
                        best = (g.value, m, to as u32);
                    }
                    g.apply_and_evaluate(&inst, inv)
                        .expect("undoing a move restores an acyclic graph");
                }
            }
        }
        let (_, m, to) = best;
        let mv = if g.mach[op as usize] == m {
            Move::Shift {
                m,
                from: g.pos[op as usize],
                to,
            }
        } else {
            Move::Reassign { op, m, to }
        };
        if !matches!(mv, Move::Shift { from, to, .. } if from == to) {
            g.apply_and_evaluate(&inst, mv)
                .expect("the best move was acyclic when tried");
        }
    }
    let s = g.to_schedule(problem);
    check(problem, &s).map_err(SolveError::Infeasible)?;
    Ok(s)
}
