//! The checker is independent of the solvers (issue 12): a schedule solved for a perturbed
//! copy of an instance — one processing time changed, one machine's setups removed — is
//! refused by `check` against the true instance, and the violations name the operations.

use twinworks_aps::prelude::*;

fn op(machine: usize, duration: i64, family: usize) -> Operation {
    Operation {
        alternatives: vec![Alternative { machine, duration }],
        family,
    }
}

/// Three jobs on two machines; families 0 and 1 with changeovers of 4 on both machines.
fn truth() -> Problem {
    let jobs = vec![
        Job::new(vec![op(0, 5, 0), op(1, 7, 0)]),
        Job::new(vec![op(1, 6, 1), op(0, 3, 1)]),
        Job::new(vec![op(0, 4, 1), op(1, 2, 1)]),
    ];
    let mut setups = SetupMatrix::zeros(2, 2);
    for m in 0..2 {
        setups.set(m, 0, 1, 4);
        setups.set(m, 1, 0, 4);
    }
    Problem {
        name: "independence".into(),
        machines: 2,
        jobs,
        setups: Some(setups),
        machine_ready: Vec::new(),
        initial_family: Vec::new(),
        pinned: Vec::new(),
    }
}

#[test]
fn a_schedule_for_a_perturbed_instance_fails_against_the_true_one() {
    let true_problem = truth();
    assert!(true_problem.jobs.iter().all(|j| !j.operations.is_empty()));
    let mut perturbed = true_problem.clone();
    // One processing time changed: job 0's second operation takes 3 instead of 7.
    perturbed.jobs[0].operations[1].alternatives[0].duration = 3;
    // One machine's setups removed: machine 0 (it runs both families, so any sequence on it
    // has a family change that needs a setup of 4 in truth).
    let m = perturbed.setups.as_mut().unwrap();
    m.set(0, 0, 1, 0);
    m.set(0, 1, 0, 0);
    let opts = SolveOptions {
        budget: Budget::Iterations(200),
        threads: 1,
        ..SolveOptions::default()
    };
    let solved = solve(&perturbed, &opts).expect("the perturbed instance solves");
    // The solver's own check passed it against the problem it was given.
    assert_eq!(check(&perturbed, &solved.schedule), Ok(()));
    let violations = check(&true_problem, &solved.schedule).expect_err("infeasible in truth");
    let text: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    assert!(
        text.iter().any(|t| t == "job 0 operation 1: duration must be 7, got 3"),
        "the changed duration is named: {text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("machine 0")),
        "the removed setups on machine 0 are found: {text:?}"
    );
}
