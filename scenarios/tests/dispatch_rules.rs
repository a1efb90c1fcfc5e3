//! The dispatching-rule result of the literature on the job-shop sample: ATC (Vepsalainen &
//! Morton 1987) beats EDD and FIFO on total weighted tardiness, and ATCS (Lee, Bhaskaran &
//! Pinedo 1997) beats FIFO, each paired 95% interval (common random numbers, replication by
//! replication) below 0. Seeds fixed in advance: the sample's own (`seed = 13`), 30
//! replications.
//!
//! ATCS against EDD is printed, not asserted: on this sample its interval straddles 0
//! (measured: −5.3 h ± 10.2 h), so that part of the literature's result is not shown here.

use std::path::Path;

use twinworks_engine::Interval;
use twinworks_scenarios::compare::values;
use twinworks_scenarios::dispatch::{dispatch_study, parse_policies};
use twinworks_scenarios::run_study;
use twinworks_scenarios::study_file::Replications;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/job_shop.toml")
}

#[test]
fn atc_beats_edd_and_fifo_and_atcs_beats_fifo_on_weighted_tardiness() {
    let policies = parse_policies("fifo,edd,atc,atcs").expect("valid policies");
    let mut study = dispatch_study(&sample(), &policies).expect("the sample loads");
    study.replications = Replications::Fixed(30);
    assert_eq!(study.seed, 13, "the seed fixed in the sample");
    let (runs, _) = run_study(&study, &|_| {}).expect("runs");
    let twt: Vec<Vec<f64>> = runs
        .reports
        .iter()
        .map(|r| values(r, "orders.weighted_tardiness_s"))
        .collect();
    let names = ["fifo", "edd", "atc", "atcs"];
    for (i, n) in names.iter().enumerate() {
        let m = twt[i].iter().sum::<f64>() / twt[i].len() as f64;
        eprintln!("{n}: mean total weighted tardiness {:.1} h", m / 3600.0);
        // Every order completes: tardiness is over all 50.
        for r in &runs.reports[i] {
            assert_eq!(
                r.orders.as_ref().expect("orders").completed,
                50,
                "{n}: every order completes"
            );
        }
    }
    for (better, worse) in [(2, 0), (2, 1), (3, 0), (3, 1)] {
        {
            let d: Vec<f64> = twt[better].iter().zip(&twt[worse]).map(|(a, b)| a - b).collect();
            let ci = Interval::from_samples(&d, 0.95).expect("samples");
            eprintln!(
                "{} - {}: {:.1} h ± {:.1} h",
                names[better],
                names[worse],
                ci.mean / 3600.0,
                ci.half_width / 3600.0
            );
            if (better, worse) == (3, 1) {
                continue; // ATCS vs EDD: reported above, not shown on this sample.
            }
            assert!(
                ci.mean + ci.half_width < 0.0,
                "{} does not beat {}: paired difference {} ± {} s",
                names[better],
                names[worse],
                ci.mean,
                ci.half_width
            );
        }
    }
}

#[test]
fn bad_policies_are_refused_with_the_nearest_name() {
    let e = parse_policies("fifo,atcx").unwrap_err();
    assert!(e.contains("did you mean 'atc'"), "{e}");
    let e = parse_policies("fifo,atc(k=0)").unwrap_err();
    assert!(e.contains("k must be a number > 0"), "{e}");
    assert!(parse_policies("fifo").is_err(), "one policy is no comparison");
    assert!(parse_policies("fifo,fifo").is_err(), "a policy twice");
}

#[test]
fn study_variants_override_rules_by_path() {
    use twinworks_twins::rules::Rule;
    let study =
        twinworks_scenarios::load_study(&Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/job_shop_dispatch.toml"))
            .expect("the study loads");
    let rule = |v: usize, s: &str| {
        let p = &study.variants[v].plant;
        p.stations[p.station_id(s).expect("station")].dispatch
    };
    assert_eq!(rule(0, "M10"), Rule::Fifo);
    assert_eq!(rule(1, "M10"), Rule::Edd);
    assert_eq!(rule(2, "M10"), Rule::Atc { k: 2.0 });
    assert_eq!(rule(3, "M06"), Rule::Atcs { k1: 2.0, k2: 0.5 });
    assert_eq!(rule(3, "M02"), Rule::Fifo);
}
