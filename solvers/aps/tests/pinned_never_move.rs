//! Property: a plan from a running state keeps its pins. Random flexible shops with setups,
//! releases, due dates, machine ready times and current setup families are solved; at a random
//! moment the operations started by then are pinned to their machine and start, and those
//! starting within a random frozen horizon after it are pinned to their machine and order.
//! Every solver's schedule of the pinned problem then passes the independent checker, and each
//! pinned operation is compared with the first schedule here, without the checker.

use proptest::prelude::*;
use twinworks_aps::prelude::*;
use twinworks_aps::problem::Pinned;
use twinworks_aps::schedule::ScheduledOperation;
use twinworks_aps::solve::{repair, solve_from};

#[path = "support/problems.rs"]
mod problems;

fn arb_problem() -> impl Strategy<Value = Problem> {
    problems::arb_problem(2..=6, true)
}

/// `p` with the operations of `s` that start before `t` pinned at their start, and those
/// starting in `[t, t + h)` pinned without a start, in order of start.
fn pin(p: &Problem, s: &Schedule, t: Time, h: Time) -> Problem {
    let mut rest: Vec<_> = s.operations.iter().filter(|o| o.start < t + h).collect();
    rest.sort_by_key(|o| (o.start >= t, o.start, o.position, o.job, o.operation));
    // A listing in which job and machine predecessors come first (zero-length operations
    // may share a start with their successors).
    let mut ops = Vec::new();
    while !rest.is_empty() {
        let ready = |o: &&ScheduledOperation, listed: &[&ScheduledOperation]| {
            let job_ok = o.operation == 0 || listed.iter().any(|l| l.job == o.job && l.operation + 1 == o.operation);
            let mach_ok = s
                .operations
                .iter()
                .filter(|b| b.machine == o.machine && b.position < o.position)
                .all(|b| listed.iter().any(|l| l.job == b.job && l.operation == b.operation));
            job_ok && mach_ok
        };
        let i = rest.iter().position(|o| ready(o, &ops)).expect("a schedule is acyclic");
        ops.push(rest.remove(i));
    }
    let mut q = p.clone();
    q.pinned = ops
        .iter()
        .map(|o| Pinned {
            job: o.job,
            op: o.operation,
            machine: o.machine,
            start: (o.start < t).then_some(o.start),
        })
        .collect();
    q
}

/// Each pinned operation of `q` in `s` is where the pin holds it (checked here by hand).
fn pins_hold(q: &Problem, s: &Schedule) -> Result<(), String> {
    for p in &q.pinned {
        let o = s
            .operations
            .iter()
            .find(|o| o.job == p.job && o.operation == p.op)
            .ok_or("pinned operation missing")?;
        if o.machine != p.machine || p.start.is_some_and(|t| t != o.start) {
            return Err(format!("{p:?} moved to machine {} at {}", o.machine, o.start));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn pinned_operations_never_move(p in arb_problem(), seed in 0u64..1000, frac in 0.0f64..1.0, hfrac in 0.0f64..0.5) {
        for obj in [Objective::Makespan, Objective::Twt] {
            let opts = SolveOptions { objective: obj, seed, budget: Budget::Iterations(100), slots: 2, threads: 1 };
            let first = solve(&p, &opts).unwrap();
            prop_assert_eq!(check(&p, &first.schedule), Ok(()));
            let span = first.schedule.makespan();
            let t = (frac * span as f64) as Time;
            let h = (hfrac * span as f64) as Time;
            let q = pin(&p, &first.schedule, t, h);
            prop_assert_eq!(q.validate(), Ok(()));
            // The first schedule keeps its own pins.
            prop_assert_eq!(check(&q, &first.schedule), Ok(()));
            for rule in Rule::ALL {
                let s = construct(&q, rule, obj).unwrap();
                prop_assert_eq!(check(&q, &s), Ok(()));
                prop_assert_eq!(pins_hold(&q, &s), Ok(()));
            }
            let r = solve(&q, &SolveOptions { seed: seed + 1, ..opts.clone() }).unwrap();
            prop_assert_eq!(check(&q, &r.schedule), Ok(()));
            prop_assert_eq!(pins_hold(&q, &r.schedule), Ok(()));
            // Warm-started from the first schedule, the search is never worse than it.
            let w = solve_from(&q, &opts, Some(&first.schedule)).unwrap();
            prop_assert_eq!(check(&q, &w.schedule), Ok(()));
            prop_assert!(w.value <= obj.evaluate(&q, &first.schedule));
            // Repair moves only what it is told to, and keeps the pins.
            let moved: Vec<(usize, usize)> = first.schedule.operations.iter().filter(|o| o.machine == 0).map(|o| (o.job, o.operation)).collect();
            let fixed = repair(&q, obj, &first.schedule, &moved).unwrap();
            prop_assert_eq!(check(&q, &fixed), Ok(()));
            prop_assert_eq!(pins_hold(&q, &fixed), Ok(()));
            prop_assert!(obj.evaluate(&q, &fixed) <= obj.evaluate(&q, &first.schedule));
            for o in &fixed.operations {
                let before = first.schedule.operations.iter().find(|b| b.job == o.job && b.operation == o.operation).unwrap();
                if !moved.contains(&(o.job, o.operation)) {
                    prop_assert_eq!(o.machine, before.machine);
                }
            }
            if q.is_classical() && q.num_operations() <= 12 {
                let m = solve_milp(&q, &MilpOptions { time_limit_s: 10.0, warm_start_iterations: 50 });
                if let Ok(MilpOutcome::Optimal { schedule, .. }) = m {
                    prop_assert_eq!(check(&q, &schedule), Ok(()));
                    prop_assert_eq!(pins_hold(&q, &schedule), Ok(()));
                }
            }
        }
    }
}

/// The checker itself catches a moved pin, a broken pinned order and a missed initial setup.
#[test]
fn the_checker_catches_moved_pins() {
    let p = parse_jssp("2 2\n0 3 1 2\n1 2 0 4\n").unwrap();
    let first = solve(&p, &SolveOptions::default()).unwrap();
    let q = pin(&p, &first.schedule, 1, 0);
    assert!(!q.pinned.is_empty());
    assert_eq!(check(&q, &first.schedule), Ok(()));
    let mut late = first.schedule.clone();
    let i = late
        .operations
        .iter()
        .position(|o| o.job == q.pinned[0].job && o.operation == q.pinned[0].op)
        .unwrap();
    late.operations[i].start += 1;
    late.operations[i].end += 1;
    let v = check(&q, &late).unwrap_err();
    assert!(v.iter().any(|v| matches!(v, Violation::PinMoved { .. })), "{v:?}");
    // A machine set up for family 0 needs its setup before its first operation.
    let mut r = p.clone();
    r.setups = Some(SetupMatrix {
        families: 2,
        times: vec![0, 5, 5, 0, 0, 5, 5, 0],
    });
    r.jobs[1].operations[0].family = 1;
    r.initial_family = vec![None, Some(0)];
    let s = solve(&r, &SolveOptions::default()).unwrap();
    assert_eq!(check(&r, &s.schedule), Ok(()));
    let first_on_1 = s
        .schedule
        .operations
        .iter()
        .filter(|o| o.machine == 1)
        .min_by_key(|o| o.start)
        .unwrap();
    assert!(first_on_1.start >= 5, "{first_on_1:?}");
}

/// Pins that cannot be met are refused up front.
#[test]
fn impossible_pins_are_refused() {
    let mut p = parse_jssp("2 2\n0 3 1 2\n1 2 0 4\n").unwrap();
    // Job 0's second operation pinned at 1, before its first (pinned at 0, 3 long) ends.
    p.pinned = vec![
        Pinned {
            job: 0,
            op: 0,
            machine: 0,
            start: Some(0),
        },
        Pinned {
            job: 0,
            op: 1,
            machine: 1,
            start: Some(1),
        },
    ];
    let e = p.validate().unwrap_err().to_string();
    assert!(e.contains("earliest"), "{e}");
    // A pin whose job predecessor is not pinned.
    p.pinned = vec![Pinned {
        job: 1,
        op: 1,
        machine: 0,
        start: None,
    }];
    let e = p.validate().unwrap_err().to_string();
    assert!(e.contains("predecessor"), "{e}");
    // On a machine it cannot use.
    p.pinned = vec![Pinned {
        job: 1,
        op: 0,
        machine: 0,
        start: None,
    }];
    let e = p.validate().unwrap_err().to_string();
    assert!(e.contains("not eligible"), "{e}");
}
