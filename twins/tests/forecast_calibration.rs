//! Calibration of `twin forecast` (issue 17). The truth is the same plant (the job-shop
//! sample) simulated with seeds the forecast never sees: at a moment t, the truth's state is
//! forecast (100 forks, horizon long enough for every order to finish) and the truth is then
//! run on from that very state; each open order's outcome (on time or not) is recorded. This
//! checks the forking machinery — that forks are honest futures of the present — not the
//! model: the truth is the model.
//!
//! Seeds fixed in advance: truths are replications 0..8 of run seed 9001 (the forecast's forks
//! use seed 1); moments 1d, 2d, 3d, and the first hour from 12 h on with a server down. The
//! Brier score must beat the deterministic forecast (the same fork with mean times: on time =
//! 1 or 0) with a paired bootstrap 95% interval (2000 resamples of the outcomes, seed 7) below
//! 0, and Spiegelhalter's z-test must not reject calibration at the 1% level (|z| < 2.576).

use std::path::Path;
use std::sync::Arc;

use twinworks_engine::SimTime;
use twinworks_twins::forecast::{deterministic_on_time, forecast};
use twinworks_twins::plant::RunSettings;
use twinworks_twins::prelude::*;
use twinworks_twins::runner::run_to_state;
use twinworks_twins::sim::PlantHot;
use twinworks_twins::state::{Restorable, Streams, TwinState};

const HORIZON_S: f64 = 40.0 * 86_400.0;

/// Each order's completion when the truth runs on from `state`.
fn truth_on(cfg: &Arc<Compiled>, state: &TwinState) -> Vec<Option<f64>> {
    let mut twin = Twin::restore(cfg.clone(), state, Streams::Continue).unwrap();
    twin.run_until(SimTime::from_secs(state.now + HORIZON_S));
    twin.world
        .get_resource::<PlantHot>()
        .unwrap()
        .orders
        .iter()
        .map(|o| o.completed)
        .collect()
}

fn any_down(state: &TwinState) -> bool {
    state.stations.iter().any(|s| s.hot.servers.iter().any(|v| v.down))
}

/// splitmix64, for the bootstrap's resampling.
fn next(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn forecasts_are_calibrated_and_beat_the_deterministic_forecast() {
    let plant = load_plant(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/samples/job_shop.toml")).unwrap();
    let cfg = Arc::new(Compiled::new(plant.clone()));
    let settings = RunSettings {
        seed: 9001,
        ..plant.run
    };
    // (forecast p, deterministic 0/1, outcome 0/1)
    let mut rows: Vec<(f64, f64, f64)> = Vec::new();
    let mut during_breakdown = 0;
    for truth in 0..8u32 {
        let mut moments: Vec<f64> = vec![86_400.0, 2.0 * 86_400.0, 3.0 * 86_400.0];
        if let Some(t) = (12..96)
            .map(|h| h as f64 * 3600.0)
            .find(|&t| run_to_state(cfg.clone(), truth, &settings, SimTime::from_secs(t)).is_ok_and(|s| any_down(&s)))
        {
            moments.push(t);
        }
        for t in moments {
            let state = run_to_state(cfg.clone(), truth, &settings, SimTime::from_secs(t)).unwrap();
            during_breakdown += usize::from(any_down(&state));
            let f = forecast(&cfg, &state, 100, HORIZON_S, 1, &|| {}).unwrap();
            let det = deterministic_on_time(&cfg, &state, HORIZON_S).unwrap();
            let outcome = truth_on(&cfg, &state);
            for of in &f.orders {
                let o = plant.orders.iter().position(|x| x.id == of.order).unwrap();
                let due = plant.orders[o].due.map(|d| d.secs());
                let y = match (outcome[o], due) {
                    (Some(c), Some(d)) => f64::from(u8::from(c <= d)),
                    (Some(_), None) => 1.0,
                    (None, _) => panic!("truth {truth}: order {} did not finish within the horizon", of.order),
                };
                let d = f64::from(u8::from(det[o].expect("open at the present")));
                rows.push((of.p_on_time, d, y));
            }
        }
    }
    assert!(rows.len() >= 500, "{} order outcomes", rows.len());
    assert!(during_breakdown >= 8, "moments during a breakdown: {during_breakdown}");
    let n = rows.len() as f64;
    let brier = |k: usize| {
        rows.iter()
            .map(|r| {
                let p = if k == 0 { r.0 } else { r.1 };
                (p - r.2).powi(2)
            })
            .sum::<f64>()
            / n
    };
    let (bf, bd) = (brier(0), brier(1));
    // Paired bootstrap of the difference forecast − deterministic.
    let diffs: Vec<f64> = rows.iter().map(|r| (r.0 - r.2).powi(2) - (r.1 - r.2).powi(2)).collect();
    let mut seed = 7u64;
    let mut boot: Vec<f64> = (0..2000)
        .map(|_| {
            (0..diffs.len())
                .map(|_| diffs[(next(&mut seed) % diffs.len() as u64) as usize])
                .sum::<f64>()
                / n
        })
        .collect();
    boot.sort_by(f64::total_cmp);
    let (lo, hi) = (boot[49], boot[1949]);
    // Spiegelhalter's z.
    let num: f64 = rows.iter().map(|r| (r.2 - r.0) * (1.0 - 2.0 * r.0)).sum();
    let var: f64 = rows.iter().map(|r| (1.0 - 2.0 * r.0).powi(2) * r.0 * (1.0 - r.0)).sum();
    let z = num / var.sqrt();
    let on_time = rows.iter().filter(|r| r.2 == 1.0).count();
    eprintln!(
        "{} outcomes ({on_time} on time), {during_breakdown} moments during a breakdown: Brier forecast {bf:.4}, deterministic {bd:.4}, difference 95% [{lo:.4}, {hi:.4}]; Spiegelhalter z = {z:.2}",
        rows.len()
    );
    assert!(
        hi < 0.0,
        "the forecast does not beat the deterministic one: [{lo}, {hi}]"
    );
    assert!(
        z.abs() < 2.576,
        "Spiegelhalter's test rejects calibration at 1%: z = {z}"
    );
}
