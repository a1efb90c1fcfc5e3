//! Forks of a saved state (issue 11): `Streams::Rekey` redraws every pre-drawn future from its
//! residual life, so forks are independent futures of one present whose statistics match
//! queueing theory.

use std::path::Path;
use std::sync::Arc;

use twinworks_engine::SimTime;
use twinworks_twins::prelude::*;
use twinworks_twins::sim::PlantHot;
use twinworks_twins::state::{Restorable, Streams, TwinState};

fn plant(service: &str) -> Arc<Compiled> {
    let text = format!(
        r#"
[plant]
name = "M/G/1"
[run]
horizon = "100000s"
[[source]]
name = "Arrivals"
product = "Job"
interarrival = {{ dist = "exponential", rate = 0.8 }}
[[station]]
name = "Server"
process_time = {service}
[[product]]
name = "Job"
routing = [{{ station = "Server" }}]
"#
    );
    Arc::new(Compiled::new(
        parse_plant(&text, Path::new("mg1.toml")).expect("valid plant"),
    ))
}

/// Parts in the plant, and how long the part on the server has been in process [s].
fn present(state: &TwinState) -> (usize, f64) {
    let v = serde_json::to_value(state).expect("state serializes");
    let queued = v["buffers"][0]["hot"]["queue"].as_array().map_or(0, |q| q.len());
    let srv = &v["stations"][0]["hot"]["servers"][0];
    let busy = srv["phase"] == "busy";
    let elapsed = if busy {
        state.now - srv["op_start"].as_f64().expect("op_start")
    } else {
        0.0
    };
    (queued + busy as usize, elapsed)
}

/// The first state, searching forward from t = 50 s, with exactly `n` parts present and the
/// one in service for at least `min_elapsed` s (at most `max_elapsed`).
fn find_state(cfg: &Arc<Compiled>, n: usize, min_elapsed: f64, max_elapsed: f64) -> TwinState {
    let mut twin = build_twin(cfg.clone(), 7);
    let mut t = 50.0;
    loop {
        twin.run_until(SimTime::from_secs(t));
        let s = twin.state();
        let (k, e) = present(&s);
        if k == n && e >= min_elapsed && e <= max_elapsed {
            return s;
        }
        t += 0.173;
        assert!(t < 1e5, "no such state found");
    }
}

/// Time from the state until `n` more parts have left, for `forks` forks.
fn times_to_clear(cfg: &Arc<Compiled>, state: &TwinState, n: u64, forks: u64) -> Vec<f64> {
    (0..forks)
        .map(|f| {
            let mut twin = Twin::restore(cfg.clone(), state, Streams::Rekey(f)).expect("state fits its plant");
            let exits = twin.world.resource::<PlantHot>().exits;
            twin.model.stop_at_exits = Some(exits + n);
            twin.run_to_end();
            twin.now().secs() - state.now
        })
        .collect()
}

fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

#[test]
fn forks_of_an_mm1_state_clear_its_n_parts_in_n_over_mu_on_average() {
    // Service at rate μ = 1/s. Five parts present, the one in service for over 2 s already: a
    // fork that kept its pre-drawn end would not average n/μ.
    let cfg = plant(r#"{ dist = "exponential", mean = "1s" }"#);
    let state = find_state(&cfg, 5, 2.0, 1e9);
    let t = times_to_clear(&cfg, &state, 5, 4000);
    assert_ne!(t[0], t[1], "two forks differ");
    let (m, se) = mean_se(&t);
    assert!(
        (m - 5.0).abs() < 3.0 * se,
        "mean time to clear {m} ± {se}, theory n/μ = 5"
    );
    // Continue (not a fork) replays the saved future: always the same.
    let a = Twin::restore(cfg.clone(), &state, Streams::Continue).expect("fits");
    let b = Twin::restore(cfg.clone(), &state, Streams::Continue).expect("fits");
    assert_eq!(a.kernel().next_time(), b.kernel().next_time());
}

#[test]
fn a_fork_redraws_a_uniform_operation_from_its_residual_life() {
    // Service uniform on [0.5, 1.5] s; the part in service has been in process a ∈ [0.8, 1.0]
    // s, so what remains is uniform on [0, 1.5 − a]: mean (1.5 − a) / 2.
    let cfg = plant(r#"{ dist = "uniform", min = "0.5s", max = "1.5s" }"#);
    let state = find_state(&cfg, 1, 0.8, 1.0);
    let (_, a) = present(&state);
    let t = times_to_clear(&cfg, &state, 1, 4000);
    let (m, se) = mean_se(&t);
    let want = (1.5 - a) / 2.0;
    assert!(
        (m - want).abs() < 3.0 * se,
        "mean residual {m} ± {se}, theory {want} (a = {a})"
    );
    assert!(
        t.iter().all(|&x| x >= 0.0 && x <= 1.5 - a + 1e-9),
        "residuals within [0, 1.5 − a]"
    );
}
