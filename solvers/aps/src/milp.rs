//! An exact disjunctive (big-M) MILP for small classical job shops.
//!
//! Variables: a start time `S_i` per operation, a binary `y_ij` per pair of
//! operations sharing a machine (1 = `i` before `j`), and `C_max`.
//!
//! ```text
//! min C_max
//!   S_js(i) ≥ S_i + p_i                              (job order)
//!   S_j ≥ S_i + p_i + s_ij − M_ij (1 − y_ij)          (i before j)
//!   S_i ≥ S_j + p_j + s_ji − M_ji y_ij                (j before i)
//!   C_max ≥ S_last(j) + p_last(j)
//!   head_i ≤ S_i ≤ UB − tail_i − p_i,   LB ≤ C_max ≤ UB
//! ```
//!
//! With setups the pairwise constraints charge `s_ij` between *every*
//! ordered pair, not only between neighbours, so the model is exact only when
//! setups satisfy the triangle inequality `s_ac ≤ s_ab + s_bc` over families
//! (usual for changeovers). Otherwise it would be a restriction whose
//! "optimum" proves nothing, so such problems are refused with
//! [`MilpError::SetupsViolateTriangleInequality`]. Two operations of one job
//! on one machine are ordered by the job, so they get the setup constraint
//! without a binary.
//!
//! `UB` comes from a short deterministic tabu run, whose schedule is also
//! given to the solver as a warm start; the start-time windows from heads and
//! tails make each `M_ij` as small as the window allows. The LP relaxation of
//! big-M models is weak, so this is for small instances (ft06-sized) only.
//! The default backend is `microlp` (pure Rust); the `highs` feature uses HiGHS.

use crate::graph::{Graph, Instance};
use crate::objective::{Objective, makespan_lower_bound};
use crate::problem::{Problem, ProblemError, Time};
use crate::schedule::Schedule;
use crate::solve::{Budget, SolveError, SolveOptions, solve};
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus, SolverModel, Variable, WithTimeLimit,
    variable,
};
use thiserror::Error;

/// Options of [`solve_milp`].
#[derive(Clone, Debug, PartialEq)]
pub struct MilpOptions {
    /// Time limit of the MILP solver [s].
    pub time_limit_s: f64,
    /// Tabu iterations per slot used for the upper bound and warm start.
    pub warm_start_iterations: u64,
}

impl Default for MilpOptions {
    fn default() -> Self {
        MilpOptions {
            time_limit_s: 60.0,
            warm_start_iterations: 2_000,
        }
    }
}

/// The solver's verdict: domain outcomes, not errors.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum MilpOutcome {
    /// Optimality proven.
    Optimal { makespan: Time, schedule: Schedule },
    /// The time limit hit; the best schedule found, if any (unproven).
    TimeLimit { best: Option<(Time, Schedule)> },
    /// No schedule satisfies the constraints. The current model has no
    /// deadlines, so it never returns this; the variant exists so that adding
    /// deadlines will not change the API.
    Infeasible,
}

/// Why the MILP could not be run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MilpError {
    /// The problem violates a model invariant.
    #[error("invalid problem: {0}")]
    Problem(#[from] ProblemError),
    /// The model covers classical job shops only.
    #[error("the milp model supports one eligible machine per operation; this problem is flexible")]
    Flexible,
    /// The pairwise model is exact only for metric setups (see module docs).
    #[error(
        "setups on machine {machine} violate the triangle inequality: {from}->{to} takes {direct}, via family {via} only {via_time}; the milp model needs metric setups"
    )]
    SetupsViolateTriangleInequality {
        machine: usize,
        from: usize,
        via: usize,
        to: usize,
        direct: Time,
        via_time: Time,
    },
    /// Computing the warm start failed.
    #[error("warm start: {0}")]
    WarmStart(#[from] SolveError),
    /// The backend failed for a reason other than infeasibility.
    #[error("milp backend: {0}")]
    Backend(String),
}

/// Solves a small classical job shop to proven optimal makespan, or reports
/// the time limit.
pub fn solve_milp(problem: &Problem, opts: &MilpOptions) -> Result<MilpOutcome, MilpError> {
    problem.validate()?;
    if !problem.is_classical() {
        return Err(MilpError::Flexible);
    }
    check_triangle_inequality(problem)?;
    let warm = solve(
        problem,
        &SolveOptions {
            budget: Budget::Iterations(opts.warm_start_iterations),
            ..Default::default()
        },
    )?;
    let ub = warm.value;
    let lb = makespan_lower_bound(problem);
    let inst = Instance::new(problem, Objective::Makespan);
    let n = inst.n;
    let p: Vec<Time> = (0..n).map(|i| inst.alts[inst.alt_start[i] as usize].1).collect();
    let m_of: Vec<u32> = (0..n).map(|i| inst.alts[inst.alt_start[i] as usize].0).collect();
    // Heads and tails along each job alone bound every start time.
    let mut head = vec![0 as Time; n];
    let mut tail = vec![0 as Time; n];
    for i in 0..n {
        let jp = inst.jp[i];
        // A classical shop: each operation's one machine is known, so its ready time bounds it,
        // with the setup from the machine's current family (a bound for every operation on it,
        // not only the first, since setups are metric here).
        let ready = inst.first_start(m_of[i], i as u32);
        head[i] = if jp == crate::graph::NONE {
            inst.release[i].max(ready)
        } else {
            inst.release[i].max(head[jp as usize] + p[jp as usize]).max(ready)
        };
    }
    for i in (0..n).rev() {
        let js = inst.js[i];
        tail[i] = if js == crate::graph::NONE {
            0
        } else {
            tail[js as usize] + p[js as usize]
        };
    }
    let mut vars = ProblemVariables::new();
    let s: Vec<Variable> = (0..n)
        .map(|i| vars.add(variable().min(head[i] as f64).max((ub - tail[i] - p[i]) as f64)))
        .collect();
    let cmax = vars.add(variable().min(lb as f64).max(ub as f64));
    let mut pairs = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            if m_of[i] == m_of[j] && inst.job_of[i] != inst.job_of[j] {
                pairs.push((i, j, vars.add(variable().binary())));
            }
        }
    }
    let warm_start: Vec<(Variable, f64)> = {
        let st: Vec<Time> = warm.schedule.operations.iter().map(|o| o.start).collect();
        let mut w: Vec<(Variable, f64)> = (0..n).map(|i| (s[i], st[i] as f64)).collect();
        w.push((cmax, ub as f64));
        for &(i, j, y) in &pairs {
            w.push((
                y,
                if st[i] < st[j] || (st[i] == st[j] && p[i] == 0) {
                    1.0
                } else {
                    0.0
                },
            ));
        }
        w
    };
    let mut cons = Vec::new();
    // Pins: a fixed start, and the pinned head of each machine before everything else on it.
    let mut pin_rank = vec![usize::MAX; n];
    for (r, &i) in inst.pinned_order.iter().enumerate() {
        pin_rank[i as usize] = r;
        if let Some(p) = problem.pinned.get(r).and_then(|p| p.start) {
            cons.push(Expression::from(s[i as usize]).eq(p as f64));
        }
    }
    for &(i, j, y) in &pairs {
        match (pin_rank[i], pin_rank[j]) {
            (usize::MAX, usize::MAX) => {}
            (a, b) => cons.push(Expression::from(y).eq(if a < b { 1.0 } else { 0.0 })),
        }
    }
    for i in 0..n {
        let js = inst.js[i];
        if js != crate::graph::NONE {
            cons.push(Expression::from(s[js as usize]).geq(s[i] + p[i] as f64));
        } else {
            cons.push(Expression::from(cmax).geq(s[i] + p[i] as f64));
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            if m_of[i] == m_of[j] && inst.job_of[i] == inst.job_of[j] {
                let sij = inst.setup(m_of[i], i as u32, j as u32);
                cons.push(Expression::from(s[j]).geq(s[i] + (p[i] + sij) as f64));
            }
        }
    }
    for &(i, j, y) in &pairs {
        let m = m_of[i];
        let (sij, sji) = (inst.setup(m, i as u32, j as u32), inst.setup(m, j as u32, i as u32));
        // Tightest valid big-M from the start-time windows.
        let big_ij = ((ub - tail[i] - p[i]) + p[i] + sij - head[j]).max(0) as f64;
        let big_ji = ((ub - tail[j] - p[j]) + p[j] + sji - head[i]).max(0) as f64;
        cons.push(Expression::from(s[j]).geq(s[i] + (p[i] + sij) as f64 - big_ij * (1.0 - y)));
        cons.push(Expression::from(s[i]).geq(s[j] + (p[j] + sji) as f64 - big_ji * y));
    }
    let status_and_values = run_backend(vars, cmax, cons, warm_start, opts.time_limit_s);
    // The warm start is a checked schedule with makespan `ub`; when the
    // backend stops without anything better, it is still the best we have.
    let warm_best = Some((ub, warm.schedule.clone()));
    let (optimal, starts) = match status_and_values {
        Ok(v) => v,
        // The warm start satisfies every constraint, so a verdict of
        // infeasibility is a numerical failure of the backend, not a fact
        // about the plant.
        Err(ResolutionError::Infeasible) => {
            return Err(MilpError::Backend(
                "backend reports infeasible although the warm start is feasible".into(),
            ));
        }
        Err(ResolutionError::Other(_)) => return Ok(MilpOutcome::TimeLimit { best: warm_best }),
        Err(e) => return Err(MilpError::Backend(e.to_string())),
    };
    let vals: Vec<f64> = s.iter().map(|v| starts(*v)).collect();
    // Rebuild machine sequences from the start order and compute the
    // semi-active schedule exactly, so float round-off cannot make the
    // reported schedule infeasible.
    let mut seq: Vec<Vec<u32>> = vec![Vec::new(); inst.machines];
    for i in 0..n {
        seq[m_of[i] as usize].push(i as u32);
    }
    for q in &mut seq {
        // The pinned head first, as listed; the rest by start.
        q.sort_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            pin_rank[a]
                .cmp(&pin_rank[b])
                .then(vals[a].total_cmp(&vals[b]))
                .then(a.cmp(&b))
        });
    }
    let mut g = Graph::new(&inst, m_of.clone(), seq);
    if !g.evaluate(&inst) {
        return Err(MilpError::Backend("solution order contains a cycle".into()));
    }
    let (makespan, schedule) = if g.value <= ub {
        (g.value, g.to_schedule(problem))
    } else {
        (ub, warm.schedule)
    };
    Ok(if optimal {
        MilpOutcome::Optimal { makespan, schedule }
    } else {
        MilpOutcome::TimeLimit {
            best: Some((makespan, schedule)),
        }
    })
}

/// Refuses setups for which charging `s` between every ordered pair (not
/// only neighbours) would over-constrain the model.
fn check_triangle_inequality(problem: &Problem) -> Result<(), MilpError> {
    let Some(s) = &problem.setups else {
        return Ok(());
    };
    let f = s.families;
    for machine in 0..problem.machines {
        for from in 0..f {
            for via in 0..f {
                for to in 0..f {
                    let direct = s.get(machine, from, to);
                    let via_time = s.get(machine, from, via) + s.get(machine, via, to);
                    if direct > via_time {
                        return Err(MilpError::SetupsViolateTriangleInequality {
                            machine,
                            from,
                            via,
                            to,
                            direct,
                            via_time,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

type Values = Box<dyn Fn(Variable) -> f64>;

#[cfg(not(feature = "highs"))]
fn run_backend(
    vars: ProblemVariables,
    cmax: Variable,
    cons: Vec<good_lp::Constraint>,
    warm: Vec<(Variable, f64)>,
    time_limit_s: f64,
) -> Result<(bool, Values), ResolutionError> {
    use good_lp::WithInitialSolution;
    let mut model = vars
        .minimise(cmax)
        .using(good_lp::microlp)
        .with_time_limit(time_limit_s)
        .with_initial_solution(warm);
    for c in cons {
        model.add_constraint(c);
    }
    let sol = model.solve()?;
    let optimal = matches!(sol.status(), SolutionStatus::Optimal);
    Ok((optimal, Box::new(move |v| sol.value(v))))
}

#[cfg(feature = "highs")]
fn run_backend(
    vars: ProblemVariables,
    cmax: Variable,
    cons: Vec<good_lp::Constraint>,
    warm: Vec<(Variable, f64)>,
    time_limit_s: f64,
) -> Result<(bool, Values), ResolutionError> {
    use good_lp::WithInitialSolution;
    let mut model = vars
        .minimise(cmax)
        .using(good_lp::highs)
        .with_time_limit(time_limit_s)
        .with_initial_solution(warm);
    model.set_verbose(false);
    for c in cons {
        model.add_constraint(c);
    }
    let sol = model.solve()?;
    let optimal = matches!(sol.status(), SolutionStatus::Optimal);
    Ok((optimal, Box::new(move |v| sol.value(v))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::parse_jssp;
    use crate::schedule::check;

    #[test]
    fn proves_a_tiny_optimum_and_rejects_flexible() {
        let p = parse_jssp("2 2\n0 3 1 2\n1 2 0 4\n").unwrap();
        match solve_milp(&p, &MilpOptions::default()).unwrap() {
            MilpOutcome::Optimal { makespan, schedule } => {
                assert_eq!(makespan, 7);
                assert_eq!(check(&p, &schedule), Ok(()));
            }
            other => panic!("expected optimal, got {other:?}"),
        }
        let f = crate::problem::parse_fjsp("1 2 2\n1 2 1 3 2 4\n").unwrap();
        assert!(matches!(
            solve_milp(&f, &MilpOptions::default()),
            Err(MilpError::Flexible)
        ));
    }
}
