//! Property: every schedule from every solver passes the independent checker,
//! on random flexible job shops with setups, release and due dates, weights
//! and zero-length operations.

use proptest::prelude::*;
use twinworks_aps::milp::MilpError;
use twinworks_aps::prelude::*;

#[path = "support/problems.rs"]
mod problems;

fn arb_problem() -> impl Strategy<Value = Problem> {
    problems::arb_problem(1..=5, false)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn dispatch_rules_are_feasible(p in arb_problem()) {
        for rule in Rule::ALL {
            for obj in [Objective::Makespan, Objective::Twt, Objective::Lmax] {
                let s = construct(&p, rule, obj).unwrap();
                prop_assert_eq!(check(&p, &s), Ok(()));
            }
        }
    }

    #[test]
    fn tabu_is_feasible_and_not_worse_than_dispatch(p in arb_problem(), seed in 0u64..1000) {
        for obj in [Objective::Makespan, Objective::Twt, Objective::Lmax] {
            let opts = SolveOptions {
                objective: obj,
                seed,
                budget: Budget::Iterations(150),
                slots: 2,
                threads: 1,
            };
            let r = solve(&p, &opts).unwrap();
            prop_assert_eq!(check(&p, &r.schedule), Ok(()));
            prop_assert_eq!(r.value, obj.evaluate(&p, &r.schedule));
            prop_assert!(r.value >= r.lower_bound, "value {} < bound {}", r.value, r.lower_bound);
            // Slot 0 starts from the best pure dispatching rule and tabu keeps its best.
            let best_rule = Rule::ALL
                .iter()
                .map(|&rule| obj.evaluate(&p, &construct(&p, rule, obj).unwrap()))
                .min()
                .unwrap();
            prop_assert!(r.value <= best_rule);
        }
    }
}

fn triangle_inequality_holds(p: &Problem) -> bool {
    let Some(s) = &p.setups else { return true };
    let f = s.families;
    (0..p.machines)
        .all(|m| (0..f).all(|a| (0..f).all(|b| (0..f).all(|c| s.get(m, a, c) <= s.get(m, a, b) + s.get(m, b, c)))))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn milp_is_feasible_and_matches_tabu_on_tiny_shops(p in arb_problem()) {
        prop_assume!(p.is_classical() && p.num_operations() <= 8);
        let opts = MilpOptions { time_limit_s: 20.0, warm_start_iterations: 300 };
        let outcome = solve_milp(&p, &opts);
        // The pairwise big-M model is exact only for setups obeying the
        // triangle inequality (see milp.rs); others must be refused.
        if !triangle_inequality_holds(&p) {
            let refused = matches!(outcome, Err(MilpError::SetupsViolateTriangleInequality { .. }));
            prop_assert!(refused, "non-metric setups must be refused");
            return Ok(());
        }
        match outcome.unwrap() {
            MilpOutcome::Optimal { makespan, schedule } => {
                prop_assert_eq!(check(&p, &schedule), Ok(()));
                prop_assert_eq!(makespan, schedule.makespan());
                prop_assert!(makespan >= lower_bound(&p, Objective::Makespan));
                let tabu = solve(&p, &SolveOptions { budget: Budget::Iterations(300), ..Default::default() }).unwrap();
                prop_assert!(makespan <= tabu.value, "milp {} > tabu {}", makespan, tabu.value);
            }
            MilpOutcome::TimeLimit { best: Some((_, schedule)) } => {
                prop_assert_eq!(check(&p, &schedule), Ok(()));
            }
            other => prop_assert!(false, "unexpected outcome {:?}", other),
        }
    }
}
