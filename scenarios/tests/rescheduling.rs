//! Rescheduling on the job-shop sample (breakdowns, MTBF 19 h, MTTR 1 h): a full re-solve from
//! the present state (`plan+resolve`) beats the plan shifted right (`plan`) on total weighted
//! tardiness, the paired 95% interval (common random numbers) below 0. Seeds fixed in advance:
//! the sample's own (`seed = 13`), 20 replications, and its `[reschedule]` settings (breakdown
//! and repair triggers, 30 min frozen, 2000 iterations per slot), set before the first run.
//! The stability figures of the rescheduling policies are printed (README table).

use std::path::Path;

use twinworks_engine::Interval;
use twinworks_scenarios::compare::values;
use twinworks_scenarios::dispatch::{dispatch_study, parse_policies};
use twinworks_scenarios::run_study;
use twinworks_scenarios::study_file::Replications;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/job_shop.toml")
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[test]
fn resolve_beats_right_shift_on_weighted_tardiness() {
    let policies = parse_policies("plan,plan+repair,plan+resolve").expect("valid policies");
    let mut study = dispatch_study(&sample(), &policies).expect("the sample loads");
    study.replications = Replications::Fixed(20);
    assert_eq!(study.seed, 13, "the seed fixed in the sample");
    let (runs, _) = run_study(&study, &|_| {}).expect("runs");
    let kpi = |v: usize, k: &str| values(&runs.reports[v], k);
    let names = ["plan", "plan+repair", "plan+resolve"];
    for (i, n) in names.iter().enumerate() {
        for r in &runs.reports[i] {
            assert_eq!(
                r.orders.as_ref().expect("orders").completed,
                50,
                "{n}: every order completes"
            );
        }
        eprint!(
            "{n}: TWT {:.1} h, on time {:.1} of 50, lead time {:.1} h, WIP {:.2}",
            mean(&kpi(i, "orders.weighted_tardiness_s")) / 3600.0,
            mean(&kpi(i, "orders.on_time")),
            mean(&kpi(i, "plant.lead_time_mean_s")) / 3600.0,
            mean(&kpi(i, "plant.wip_mean")),
        );
        if i > 0 {
            eprint!(
                ", reschedules {:.1}, moved to another server {:.1}, sequence changes {:.1}, mean |start change| {:.2} h, solver iterations {:.0}",
                mean(&kpi(i, "policy.reschedules")),
                mean(&kpi(i, "policy.moved_to_other_server")),
                mean(&kpi(i, "policy.sequence_changes")),
                mean(&kpi(i, "policy.start_change_abs_mean_s")) / 3600.0,
                mean(&kpi(i, "policy.solver_iterations")),
            );
            assert!(mean(&kpi(i, "policy.reschedules")) > 0.0, "{n}: breakdowns trigger");
            assert_eq!(
                mean(&kpi(i, "policy.reschedule_failures")),
                0.0,
                "{n}: every re-plan succeeds"
            );
        }
        eprintln!();
    }
    let twt: Vec<Vec<f64>> = (0..3).map(|i| kpi(i, "orders.weighted_tardiness_s")).collect();
    for (better, worse) in [(1, 0), (2, 0), (2, 1)] {
        let d: Vec<f64> = twt[better].iter().zip(&twt[worse]).map(|(a, b)| a - b).collect();
        let ci = Interval::from_samples(&d, 0.95).expect("samples");
        eprintln!(
            "{} - {}: {:.1} h ± {:.1} h",
            names[better],
            names[worse],
            ci.mean / 3600.0,
            ci.half_width / 3600.0
        );
        if (better, worse) == (2, 0) {
            assert!(
                ci.mean + ci.half_width < 0.0,
                "plan+resolve does not beat plan: paired difference {} ± {} s",
                ci.mean,
                ci.half_width
            );
        }
    }
}
