//! ft06 (Fisher & Thompson 1963) has optimal makespan 55 (published, proven).

use twinworks_aps::prelude::*;

#[test]
fn tabu_reaches_55_on_ft06() {
    let p = parse_jssp(include_str!("data/ft06.txt")).unwrap();
    for seed in [1, 2, 3] {
        let opts = SolveOptions {
            seed,
            budget: Budget::Iterations(5_000),
            ..Default::default()
        };
        let r = solve(&p, &opts).unwrap();
        assert_eq!(check(&p, &r.schedule), Ok(()));
        assert_eq!(r.value, 55, "seed {seed}");
    }
}

#[test]
fn ta01_gets_within_two_percent_of_the_optimum() {
    // ta01's optimum is 1231 (Taillard 1993; proven).
    let p = parse_jssp(include_str!("data/ta01.txt")).unwrap();
    let opts = SolveOptions {
        budget: Budget::Iterations(40_000),
        threads: 2,
        ..Default::default()
    };
    let r = solve(&p, &opts).unwrap();
    assert!(r.value <= 1255, "ta01 makespan {}", r.value);
}

#[test]
#[ignore = "slow: proves ft06 = 55 with the pure-Rust MILP backend; run with --ignored"]
fn milp_proves_ft06() {
    let p = parse_jssp(include_str!("data/ft06.txt")).unwrap();
    let out = solve_milp(
        &p,
        &MilpOptions {
            time_limit_s: 600.0,
            ..Default::default()
        },
    )
    .unwrap();
    match out {
        MilpOutcome::Optimal { makespan, schedule } => {
            assert_eq!(makespan, 55);
            assert_eq!(check(&p, &schedule), Ok(()));
        }
        other => panic!("not proven: {other:?}"),
    }
}
