//! The simulation against numbers no one here wrote: queueing theory and exact Markov chains.
//!
//! Each check runs independent replications under fixed base seeds chosen up front (1, 2, 3) and
//! requires the exact value to lie within 3 standard errors of the estimate, where the standard
//! error comes from the spread across replications. Each also requires the standard error to be
//! small relative to the value, so a test cannot pass merely because the estimate is noisy.

use std::path::Path;

use twinworks_engine::Interval;
use twinworks_twins::kpi::RunReport;
use twinworks_twins::plant::{Horizon, RunSettings, Warmup};
use twinworks_twins::prelude::*;

const SEEDS: [u64; 3] = [1, 2, 3];

fn plant(text: &str) -> PlantModel {
    parse_plant(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(plant: &PlantModel, seed: u64, reps: u32, horizon_s: f64, warmup_s: f64) -> Vec<RunReport> {
    let opts = RunOptions {
        settings: RunSettings {
            horizon: Horizon::Time(twinworks_engine::SimTime::from_secs(horizon_s)),
            warmup: if warmup_s > 0.0 {
                Warmup::Time(twinworks_engine::SimTime::from_secs(warmup_s))
            } else {
                Warmup::None
            },
            replications: reps,
            seed,
        },
        threads: None,
        trace: None,
        trace_states: false,
        policy: None,
    };
    run_replications(plant, &opts, &|_, _| {}).expect("run succeeds")
}

/// Asserts `exact` is within 3 standard errors of the replication mean of `kpi`, and that the
/// standard error is below `max_rel_se` of the exact value.
fn check(reports: &[RunReport], kpi: impl Fn(&RunReport) -> f64, exact: f64, max_rel_se: f64, what: &str) {
    let xs: Vec<f64> = reports.iter().map(kpi).collect();
    let i = Interval::from_samples(&xs, 0.95).expect("replications");
    let seed = reports[0].seed;
    assert!(
        i.std_error < max_rel_se * exact,
        "{what}: standard error {} too large for a meaningful check (seed {seed})",
        i.std_error
    );
    assert!(
        (i.mean - exact).abs() <= 3.0 * i.std_error,
        "{what}: estimate {} ± {} (1 SE) vs exact {exact}: off by {:.2} SE",
        i.mean,
        i.std_error,
        (i.mean - exact).abs() / i.std_error
    );
}

const MM1: &str = r#"
[[source]]
name = "Arrivals"
product = "Job"
interarrival = { dist = "exponential", rate = 0.9 }
[[station]]
name = "Server"
process_time = { dist = "exponential", mean = "1s" }
[[product]]
name = "Job"
routing = [{ station = "Server" }]
"#;

/// M/M/1 with lambda = 0.9, mu = 1: Wq = rho / (mu − lambda) = 9.0 s.
#[test]
fn mm1_mean_wait_in_queue() {
    let p = plant(MM1);
    for seed in SEEDS {
        let r = run(&p, seed, 20, 200_000.0, 5_000.0);
        check(&r, |r| r.stations[0].wait_mean_s, 9.0, 0.02, "M/M/1 Wq");
    }
}

/// Little's law on long runs: WIP = throughput × lead time within 1%, per replication.
#[test]
fn littles_law_holds_on_long_runs() {
    let p = plant(MM1);
    for r in run(&p, 7, 4, 400_000.0, 5_000.0) {
        let l = r.plant.wip_mean;
        let lw = r.plant.throughput_per_h / 3600.0 * r.plant.lead_time_mean_s;
        assert!((l - lw).abs() / l < 0.01, "M/M/1: WIP {l} vs TH × W {lw}");
    }
    let flow = load_plant(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/samples/flowline.toml"
    )))
    .unwrap();
    for r in run(&flow, 7, 2, 100_000.0, 1_000.0) {
        let l = r.plant.wip_mean;
        let lw = r.plant.throughput_per_h / 3600.0 * r.plant.lead_time_mean_s;
        assert!((l - lw).abs() / l < 0.01, "flow line: WIP {l} vs TH × W {lw}");
    }
}

/// M/M/3 with lambda = 2.7, mu = 1 per server (Erlang C): P(wait) = 0.81706, Wq = 2.72354 s.
#[test]
fn mm3_erlang_c() {
    let p = plant(
        &MM1.replace("rate = 0.9", "rate = 2.7")
            .replace("name = \"Server\"", "name = \"Server\"\ncapacity = 3"),
    );
    // Erlang C from the formula, so the constants quoted in the issue are checked too.
    let (lambda, mu, c) = (2.7f64, 1.0f64, 3u32);
    let a = lambda / mu;
    let rho = a / c as f64;
    let fact = |n: u32| (1..=n).map(|x| x as f64).product::<f64>();
    let sum: f64 = (0..c).map(|k| a.powi(k as i32) / fact(k)).sum();
    let top = a.powi(c as i32) / fact(c) / (1.0 - rho);
    let p_wait = top / (sum + top);
    let wq = p_wait / (c as f64 * mu - lambda);
    assert!(
        (p_wait - 0.81706).abs() < 5e-6 && (wq - 2.72354).abs() < 5e-6,
        "{p_wait} {wq}"
    );
    for seed in SEEDS {
        let r = run(&p, seed, 20, 100_000.0, 2_000.0);
        check(&r, |r| r.stations[0].wait_mean_s, wq, 0.02, "M/M/3 Wq");
        check(&r, |r| r.stations[0].wait_probability, p_wait, 0.01, "M/M/3 P(wait)");
    }
}

/// Two stations in series, rates 1 and 1.1, a buffer of 3 between them, blocking after service,
/// the first never starved. Birth–death chain on the parts between the machines:
/// TH = mu2 · (1 − (1 − r) / (1 − r^(B+3))), r = mu1 / mu2.
#[test]
fn tandem_line_with_blocking_throughput() {
    // Buffer 3 (the issue's case) and buffer 0 (direct hand-over only) share the formula.
    for b in [3, 0] {
        let p = plant(&format!(
            r#"
[[source]]
name = "Supply"
kind = "infinite"
product = "P"
[[station]]
name = "A"
process_time = {{ dist = "exponential", rate = 1.0 }}
[[buffer]]
name = "B"
capacity = {b}
[[station]]
name = "C"
input = "B"
process_time = {{ dist = "exponential", rate = 1.1 }}
[[product]]
name = "P"
routing = [{{ station = "A" }}, {{ station = "C" }}]
"#
        ));
        let (mu1, mu2) = (1.0f64, 1.1f64);
        let r = mu1 / mu2;
        let th = mu2 * (1.0 - (1.0 - r) / (1.0 - r.powi(b + 3)));
        if b == 3 {
            assert!((th - 0.8703926).abs() < 1e-6, "{th}");
        }
        for seed in SEEDS {
            let reps = run(&p, seed, 20, 50_000.0, 1_000.0);
            check(
                &reps,
                |r| r.plant.throughput_per_h / 3600.0,
                th,
                0.005,
                &format!("tandem throughput, buffer {b}"),
            );
        }
    }
}

/// Regression (found in review): with a zero-capacity buffer a blocked upstream server must be
/// handed over to the downstream server as soon as it is idle. Constant times 10 s and 20 s:
/// exactly one part per 20 s, and the first station is blocked half the time.
#[test]
fn zero_capacity_buffer_hands_parts_over() {
    let p = plant(
        r#"
[[source]]
name = "Supply"
kind = "infinite"
product = "P"
[[station]]
name = "A"
process_time = "10s"
[[buffer]]
name = "Z"
capacity = 0
[[station]]
name = "B"
input = "Z"
process_time = "20s"
[[product]]
name = "P"
routing = [{ station = "A" }, { station = "B" }]
"#,
    );
    let r = &run(&p, 1, 1, 36_000.0, 0.0)[0];
    assert!(
        (r.plant.throughput_per_h - 180.0).abs() < 0.2,
        "{}",
        r.plant.throughput_per_h
    );
    assert!(
        (r.stations[0].utilization.blocked - 0.5).abs() < 0.01,
        "{:?}",
        r.stations[0].utilization
    );
}

/// Calendar-time failures: availability = MTBF / (MTBF + MTTR) = 100 / 110.
/// The failure clock runs on calendar time (every state but down), so the share of time down
/// is MTTR / (MTBF + MTTR) whatever the load.
#[test]
fn availability_with_calendar_time_failures() {
    let p = plant(
        r#"
[[source]]
name = "Supply"
kind = "infinite"
product = "P"
[[station]]
name = "M"
process_time = { dist = "exponential", mean = "2s" }
failures = { basis = "calendar", mtbf = { dist = "exponential", mean = "100s" }, mttr = { dist = "exponential", mean = "10s" } }
[[product]]
name = "P"
routing = [{ station = "M" }]
"#,
    );
    for seed in SEEDS {
        let r = run(&p, seed, 20, 100_000.0, 0.0);
        check(&r, |r| r.stations[0].availability, 100.0 / 110.0, 0.002, "availability");
        // Never starved or blocked: busy share = availability too.
        check(
            &r,
            |r| r.stations[0].utilization.busy,
            100.0 / 110.0,
            0.002,
            "busy share",
        );
    }
}

/// Operation-count failures are deterministic here: constant 1 s operations, a failure after
/// every 50 operations, a constant 10 s repair ⇒ down exactly 10 of every 60 seconds.
#[test]
fn operation_count_failures_are_exact() {
    let p = plant(
        r#"
[[source]]
name = "Supply"
kind = "infinite"
product = "P"
[[station]]
name = "M"
process_time = "1s"
failures = { basis = "operations", ops_between = 50, mttr = "10s" }
[[product]]
name = "P"
routing = [{ station = "M" }]
"#,
    );
    let r = &run(&p, 1, 1, 6_000.0, 0.0)[0];
    assert!(
        (r.stations[0].utilization.down - 10.0 / 60.0).abs() < 1e-9,
        "{:?}",
        r.stations[0].utilization
    );
    assert_eq!(r.stations[0].failures, 100);
    assert_eq!(r.plant.parts_out, 5_000);
}

/// A day shift on weekdays only: over whole weeks the station is off shift 1 − 40/168 of the
/// time, and nothing is produced off shift.
#[test]
fn shifts_take_stations_off() {
    let p = plant(
        r#"
[[shift_calendar]]
name = "Day"
days = ["mon", "tue", "wed", "thu", "fri"]
shifts = [{ start = "06:00", end = "14:00" }]
[[source]]
name = "Supply"
kind = "infinite"
product = "P"
[[station]]
name = "M"
process_time = "60s"
shift = "Day"
[[product]]
name = "P"
routing = [{ station = "M" }]
"#,
    );
    let r = &run(&p, 1, 1, 2.0 * 7.0 * 86_400.0, 0.0)[0];
    let u = &r.stations[0].utilization;
    assert!((u.off_shift - (1.0 - 40.0 / 168.0)).abs() < 1e-9, "{u:?}");
    assert!((u.busy - 40.0 / 168.0).abs() < 1e-9, "{u:?}");
    assert_eq!(r.plant.parts_out, 2 * 5 * 8 * 60);
    assert!((r.stations[0].availability - 1.0).abs() < 1e-12);
}

/// Sequence-dependent setups: alternating families with a 30 s changeover and 60 s operations
/// spend exactly a third of the time in setup.
#[test]
fn setups_between_families() {
    let p = plant(
        r#"
[[source]]
name = "Supply"
kind = "infinite"
product = "A"
[[station]]
name = "M"
process_time = "60s"
setup = { default = "30s", matrix = [{ from = "fa", to = "fa", time = "0s" }] }
[[product]]
name = "A"
family = "fa"
routing = [{ station = "M" }]
[[product]]
name = "B"
family = "fb"
routing = [{ station = "M" }]
"#,
    );
    // One family only here: never a setup.
    let r = &run(&p, 1, 1, 36_000.0, 0.0)[0];
    assert_eq!(r.stations[0].utilization.setup, 0.0);
    assert!((r.stations[0].oee - 1.0).abs() < 1e-9);

    let alt = plant(
        r#"
[[order]]
id = "a"
product = "A"
quantity = 50
[[order]]
id = "b"
product = "B"
quantity = 50
[[station]]
name = "M"
process_time = "60s"
setup = { default = "30s" }
[[product]]
name = "A"
family = "fa"
routing = [{ station = "M" }]
[[product]]
name = "B"
family = "fb"
routing = [{ station = "M" }]
"#,
    );
    // 50 A then 50 B (FIFO by release order): exactly one changeover; all done at 6030 s.
    let r = &run(&alt, 1, 1, 10_000.0, 0.0)[0];
    let o = r.orders.as_ref().expect("orders");
    assert_eq!(o.completed, 2);
    assert!((r.stations[0].utilization.setup - 30.0 / 10_000.0).abs() < 1e-12);
    assert!((r.stations[0].utilization.busy - 6_000.0 / 10_000.0).abs() < 1e-12);
}
