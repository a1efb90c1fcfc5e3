//! Regression guard: with the default settings, GP-BO gets within 1% of
//! Branin's optimum within 40 evaluations for seed 1 (not a timing test).

use twinworks_optimize::prelude::*;
use twinworks_optimize::test_functions::{BRANIN_MIN, branin, branin_problem};

#[test]
fn bo_reaches_one_percent_on_branin_within_40_evaluations() {
    let f = |x: &[f64]| Evaluation::new(branin(x));
    let out = bo::minimize(&branin_problem(), &f, 40, &BoSettings::default(), 1).unwrap();
    let best = out.incumbent_record().unwrap();
    assert!(
        (best.value - BRANIN_MIN).abs() <= 0.01 * BRANIN_MIN,
        "best {} after 40 evaluations",
        best.value
    );
}
