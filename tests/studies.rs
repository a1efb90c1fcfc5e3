//! What-if studies against known answers: the M/M/1 difference in mean wait, common random
//! numbers narrowing the paired interval, ranking picking the faster server, determinism across
//! thread counts, and located errors for paths that do not resolve.

use std::path::{Path, PathBuf};
use std::process::Command;

use twinworks_scenarios::compare::{compare, run_study};
use twinworks_scenarios::study_file::load_study;

const MM1: &str = r#"
[run]
horizon = "60000s"
warmup = "2000s"
[[source]]
name = "Arrivals"
product = "Job"
interarrival = { dist = "exponential", rate = 0.8 }
[[station]]
name = "Server"
process_time = { dist = "exponential", mean = "1s" }
[[product]]
name = "Job"
routing = [{ station = "Server" }]
"#;

/// Writes the M/M/1 plant and a study of it into a fresh directory; returns the study path.
fn study(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twin-study-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mm1.toml"), MM1).unwrap();
    let path = dir.join("study.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn diff(results: &[twinworks_scenarios::VariantResult], v: usize, kpi: &str) -> (f64, f64) {
    let d = results[v]
        .vs_baseline
        .iter()
        .find(|d| d.kpi == kpi)
        .expect("difference reported");
    (d.mean, d.ci95)
}

/// Service rates 1.0 and 1.25 at arrival rate 0.8: Wq = rho / (mu − lambda) gives 4.0 and
/// 0.64 / 0.45 = 1.4222; the analytic difference must lie inside the reported 95% interval, and
/// ranking on the mean wait must pick the faster server.
#[test]
fn mm1_difference_matches_theory_and_ranking_picks_the_faster_server() {
    let path = study(
        "known",
        r#"
[study]
plant = "mm1.toml"
replications = 20
seed = 5
[ranking]
kpi = "stations.Server.wait_mean_s"
goal = "min"
pcs = 0.95
indifference = 0.25
first_stage = 10
[[variant]]
name = "faster server"
set = { "station.Server.process_time" = { dist = "exponential", rate = 1.25 } }
"#,
    );
    let s = load_study(&path).unwrap_or_else(|e| panic!("{e}"));
    let (runs, selection) = run_study(&s, &|_| {}).unwrap();
    let names: Vec<String> = s.variants.iter().map(|v| v.name.clone()).collect();
    let res = compare(&names, &runs);
    let wq = |mu: f64| (0.8 / mu) / (mu - 0.8);
    let exact = wq(1.25) - wq(1.0);
    let (m, h) = diff(&res, 1, "stations.Server.wait_mean_s");
    assert!((m - exact).abs() <= h, "difference {m} ± {h} does not contain {exact}");
    assert!(h < 0.1 * exact.abs(), "interval too wide to mean anything: ±{h}");
    let sel = selection.expect("ranking ran");
    assert_eq!(sel.best, "faster server");
    assert!(sel.guaranteed && sel.used >= sel.first_stage);
}

/// With a small true difference (service mean 1.0 vs 0.97), common random numbers give a paired
/// interval at least 3× narrower than independent streams do.
#[test]
fn common_random_numbers_narrow_the_paired_interval() {
    let body = |crn: bool| {
        format!(
            r#"
[study]
plant = "mm1.toml"
replications = 20
seed = 9
crn = {crn}
[[variant]]
name = "slightly faster"
set = {{ "station.Server.process_time" = {{ dist = "exponential", mean = "0.97s" }} }}
"#
        )
    };
    let half_width = |crn: bool| {
        let s = load_study(&study(&format!("crn-{crn}"), &body(crn))).unwrap();
        let (runs, _) = run_study(&s, &|_| {}).unwrap();
        let names: Vec<String> = s.variants.iter().map(|v| v.name.clone()).collect();
        let res = compare(&names, &runs);
        let (_, h) = diff(&res, 1, "stations.Server.wait_mean_s");
        let vr = res[1]
            .vs_baseline
            .iter()
            .find(|d| d.kpi == "stations.Server.wait_mean_s")
            .unwrap()
            .variance_reduction;
        (h, vr)
    };
    let (with, vr) = half_width(true);
    let (without, vr_ind) = half_width(false);
    assert!(without >= 3.0 * with, "CRN half-width {with} vs independent {without}");
    assert!(vr > 9.0, "reported variance reduction {vr}");
    assert!(
        vr_ind < 3.0,
        "independent streams should show no real reduction, got {vr_ind}"
    );
}

#[test]
fn report_json_is_identical_for_one_and_two_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_twin"))
            .current_dir(root)
            .args([
                "study",
                "scenarios/samples/cell_study.toml",
                "--json",
                "--replications",
                "6",
                "--threads",
                threads,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    assert_eq!(run("1"), run("2"));
}

#[test]
fn sample_study_writes_its_report() {
    let dir = std::env::temp_dir().join(format!("twin-study-out-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "study",
            "scenarios/samples/cell_study.toml",
            "--replications",
            "4",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in [
        "report.md",
        "report.csv",
        "report.json",
        "kpi_0.svg",
        "throughput.svg",
        "wip.svg",
    ] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!text.is_empty());
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| Second mill |") && md.contains("Ranking and selection"),
        "{md}"
    );
}

#[test]
fn unresolved_paths_are_located_with_the_nearest_name() {
    let path = study(
        "bad",
        "[study]\nplant = \"mm1.toml\"\n[[variant]]\nname = \"typo\"\nset = { \"station.Sever.capacity\" = 2 }\n[[variant]]\nname = \"bad value\"\nset = { \"station.Server.capacity\" = -1 }\n",
    );
    let e = load_study(&path).unwrap_err().short();
    assert!(
        e.contains("study.toml:5:")
            && e.contains("no station named 'Sever'")
            && e.contains("did you mean 'station.Server'?"),
        "{e}"
    );
    assert!(
        e.contains("study.toml:7:")
            && e.contains("variant 'bad value' makes the plant invalid")
            && e.contains("capacity must be >= 1, got -1"),
        "{e}"
    );
    let path = study("kpi", "[study]\nplant = \"mm1.toml\"\nkpis = [\"plant.throughput\"]\n");
    let e = load_study(&path).unwrap_err().short();
    assert!(
        e.contains("unknown KPI 'plant.throughput'") && e.contains("did you mean"),
        "{e}"
    );
}

/// `target_half_width` adds replications until every variant's interval is narrow enough (or the
/// maximum is reached), the same number for every variant so that differences stay paired.
#[test]
fn target_precision_adds_replications_until_narrow_enough() {
    let path = study(
        "target",
        r#"
[study]
plant = "mm1.toml"
replications = 4
target_kpi = "plant.throughput_per_h"
target_half_width = 15.0
max_replications = 60
[[variant]]
name = "faster"
set = { "station.Server.process_time" = { dist = "exponential", mean = "0.9s" } }
"#,
    );
    let s = load_study(&path).unwrap();
    let (runs, _) = run_study(&s, &|_| {}).unwrap();
    let names: Vec<String> = s.variants.iter().map(|v| v.name.clone()).collect();
    let res = compare(&names, &runs);
    let n = runs.reports[0].len();
    assert!(n > 4, "no replications were added");
    assert!(
        runs.reports.iter().all(|r| r.len() == n),
        "variants must have the same replications"
    );
    for v in &res {
        let k = v.kpis.iter().find(|k| k.kpi == "plant.throughput_per_h").unwrap();
        assert!(
            k.ci95 <= 15.0 || n == 60,
            "{}: ±{} after {n} replications",
            v.name,
            k.ci95
        );
    }
}
