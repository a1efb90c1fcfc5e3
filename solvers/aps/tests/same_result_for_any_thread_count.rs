//! Iteration mode is reproducible: 1 and 2 threads give the same schedule.

use twinworks_aps::prelude::*;

fn run(p: &Problem, threads: usize, objective: Objective) -> SolveResult {
    let opts = SolveOptions {
        objective,
        threads,
        seed: 2024,
        budget: Budget::Iterations(3_000),
        slots: 4,
    };
    solve(p, &opts).unwrap()
}

fn assert_same(p: &Problem, objective: Objective) {
    let a = run(p, 1, objective);
    let b = run(p, 2, objective);
    assert_eq!(a.value, b.value);
    assert_eq!(a.best_slot, b.best_slot);
    assert_eq!(a.best_iteration, b.best_iteration);
    assert_eq!(a.iterations, b.iterations);
    assert_eq!(a.schedule, b.schedule);
    assert!(
        a.time_to_best_s.is_none(),
        "iteration mode never reads the clock for search"
    );
}

#[test]
fn ta01_jssp_one_vs_two_threads() {
    let p = parse_jssp(include_str!("data/ta01.txt")).unwrap();
    assert_same(&p, Objective::Makespan);
}

#[test]
fn mk01_fjsp_one_vs_two_threads() {
    let p = parse_fjsp(include_str!("data/mk01.fjs")).unwrap();
    assert_same(&p, Objective::Makespan);
}

#[test]
fn due_date_objectives_one_vs_two_threads() {
    let mut p = parse_jssp(include_str!("data/ft06.txt")).unwrap();
    for (j, job) in p.jobs.iter_mut().enumerate() {
        job.due = Some(30 + 4 * j as i64);
        job.weight = 1 + (j as i64 % 3);
    }
    assert_same(&p, Objective::Twt);
    assert_same(&p, Objective::Lmax);
}
