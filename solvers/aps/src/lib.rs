//! # twinworks-aps — the scheduling core of the Twinworks factory twin
//!
//! This crate owns *planning*: given a snapshot of work orders (a
//! [`Problem`]), it returns a [`Schedule`] — which machine runs each
//! operation, when, and where the changeovers go. It never touches the
//! simulation world and never reads the wall clock except to honour a
//! time limit the caller asked for.
//!
//! ```text
//!  plant snapshot ──► Problem ──► solve() / solve_milp() ──► Schedule ──► check()
//!                    (problem.rs)  (solve.rs, tabu.rs,         (check.rs)     (independent)
//!                                   dispatch.rs, milp.rs)
//! ```
//!
//! * [`problem`]: the model (flexible job shop, sequence-dependent family
//!   setups `setup[machine][from][to]`, release/due dates, weights) and the
//!   readers [`parse_jssp`] / [`parse_fjsp`] for the standard benchmark files.
//! * [`schedule`]: the serialisable [`Schedule`]; [`check`](mod@check): the feasibility
//!   checker, which shares no code with the solvers (durations, setups and sequences are
//!   derived there from the problem and the schedule's own starts and machines).
//! * [`objective`]: makespan, total weighted tardiness, maximum lateness and
//!   lower bounds, so every result reports its gap.
//! * [`solve`](mod@solve): Giffler–Thompson starts + tabu search (N7 critical-block
//!   neighbourhood, Balas–Vazacopoulos move estimates, machine reassignment
//!   for flexible shops) run as a seeded portfolio over threads.
//! * [`milp`]: an exact disjunctive MILP through `good_lp` (pure-Rust
//!   `microlp` by default, HiGHS behind the `highs` feature).
//! * [`bench`]: runs a solver over a benchmark directory against `bounds.csv`.
//!
//! ```
//! use twinworks_aps::prelude::*;
//! let problem = parse_jssp("2 2\n0 3 1 2\n1 2 0 4\n").unwrap();
//! let opts = SolveOptions { budget: Budget::Iterations(100), ..Default::default() };
//! let result = solve(&problem, &opts).unwrap();
//! assert_eq!(check(&problem, &result.schedule), Ok(()));
//! assert_eq!(result.value, 7);
//! ```
//!
//! Architecture invariants: the crate depends on `twinworks-twins` only to turn a
//! plant model's orders into a problem ([`plant_plan`]), and through it on the engine;
//! the solvers and the checker never touch the ECS world or the event kernel. No RNG
//! crate (the PRNG in [`rng`] is ours, so seeds keep their meaning); external crates:
//! rayon, serde, serde_json, thiserror, good_lp, csv (`tests/tidy.rs`);
//! iteration-budget results are identical for any thread count; every
//! schedule returned by [`solve`](solve::solve) has passed [`check`].
//!
//! Feature flags: `highs` switches [`milp`] to HiGHS (needs cmake and a C++
//! compiler).

pub mod bench;
pub mod check;
pub mod dispatch;
mod graph;
pub mod milp;
pub mod objective;
pub mod plant_plan;
pub mod problem;
pub mod rng;
pub mod schedule;
pub mod solve;
mod tabu;

pub use problem::{Problem, parse_fjsp, parse_jssp};
pub use schedule::{Schedule, check};

/// The types most callers need.
pub mod prelude {
    pub use crate::dispatch::Rule;
    pub use crate::milp::{MilpOptions, MilpOutcome, solve_milp};

    pub use crate::objective::{Objective, gap_percent, lower_bound};
    pub use crate::problem::{Alternative, Job, Operation, Problem, SetupMatrix, Time, parse_fjsp, parse_jssp};
    pub use crate::schedule::{Schedule, Violation, check};
    pub use crate::solve::{Budget, SolveError, SolveOptions, SolveResult, construct, solve};
}

#[doc(hidden)]
pub mod bench_support {
    //! Internals exposed for the criterion benches only; not a stable API.
    use crate::graph::Instance;
    use crate::objective::Objective;
    use crate::problem::Problem;
    use crate::rng::Rng;

    /// Builds a tabu state on a GT start improved by `warmup` iterations and
    /// lets `f` drive it: returns what `f` returns.
    pub fn with_search<R>(
        problem: &Problem,
        warmup: u64,
        f: impl FnOnce(&mut dyn FnMut() -> usize, &mut dyn FnMut()) -> R,
    ) -> R {
        let inst = Instance::new(problem, Objective::Makespan);
        let g = crate::dispatch::giffler_thompson(&inst, crate::dispatch::Rule::Mwkr, 0.0, &mut Rng::new(1));
        let mut t = crate::tabu::Tabu::new(&inst, g, 7);
        for _ in 0..warmup {
            let v = t.graph().value;
            t.step(v);
        }
        let t = std::cell::RefCell::new(t);
        let mut eval = || t.borrow_mut().evaluate_neighbourhood();
        let mut step = || {
            let mut tb = t.borrow_mut();
            let v = tb.graph().value;
            tb.step(v);
        };
        f(&mut eval, &mut step)
    }
}
