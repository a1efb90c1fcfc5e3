//! On a constrained toy problem the optimizer's answer is feasible and close
//! to the constrained optimum.
//!
//! Minimize `x + y` on `[0, 1]²` subject to `x² + y² >= 0.5` (written
//! `g = 0.5 − x² − y² <= 0`): the optimum lies on the circle at
//! `x = y = 0.5`, value 1, while the unconstrained minimum (0, 0) is infeasible.

use twinworks_optimize::prelude::*;

#[test]
fn bo_returns_a_feasible_near_optimal_point() {
    let problem = Problem::continuous(&[(0.0, 1.0), (0.0, 1.0)]).unwrap();
    let f = |x: &[f64]| Evaluation::new(x[0] + x[1]).with_constraints(vec![0.5 - x[0] * x[0] - x[1] * x[1]]);
    let out = bo::minimize(&problem, &f, 30, &BoSettings::default(), 3).unwrap();
    let best = out.incumbent_record().expect("a feasible point was found");
    assert!(best.is_feasible());
    assert!(best.value < 1.05, "incumbent value {}", best.value);
    let every_step_feasible = out
        .trace
        .iter()
        .filter_map(|s| s.index)
        .all(|i| out.history.records[i].is_feasible());
    assert!(every_step_feasible);
}

#[test]
fn confirm_reports_the_mean_and_interval_of_a_known_point() {
    let problem = Problem::continuous(&[(0.0, 1.0)]).unwrap();
    let f = |x: &[f64]| Evaluation::new(x[0]);
    let mut out = random_search::minimize(&problem, &f, 4, 1).unwrap();
    let c = confirm(&problem, &f, &mut out, &[0.25], 5);
    assert_eq!(out.history.len(), 9, "confirmations count as evaluations");
    assert_eq!(c.mean, 0.25);
    assert_eq!(c.half_width_95, 0.0);
    assert_eq!(c.feasible_fraction, 1.0);
}
