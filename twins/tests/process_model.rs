//! Process models on stations (issue 15, first part): outputs as expressions over setpoints,
//! checked against queueing theory (an M/M/1 whose service mean a speed setpoint divides),
//! the binomial scrap rate, and the closed form of first-order thermal dynamics across a
//! setpoint change; model state in `TwinState`; bad expressions located inside the string.

use std::path::Path;
use std::sync::Arc;

use twinworks_engine::SimTime;
use twinworks_twins::prelude::*;
use twinworks_twins::runner::run_replication;
use twinworks_twins::sim::Command;
use twinworks_twins::state::{Restorable, Streams};

const MM1: &str = r#"
[run]
horizon = "400000s"
warmup = "4000s"
replications = 4
seed = 5

[[source]]
name = "Arrivals"
product = "Job"
interarrival = { dist = "exponential", mean = "1s" }

[[station]]
name = "Server"
process_time = { dist = "exponential", mean = "1.6s" }
model = { parameters = { u = { value = 2.0, min = 0.5, max = 4.0 } }, time = "base / u", scrap = "0.1 * u - 0.05", energy_kw = "3 * u^2", quality = "1 - 0.1 * (u - 2)^2" }

[[product]]
name = "Job"
routing = [{ station = "Server" }]
"#;

fn plant(text: &str) -> PlantModel {
    parse_plant(text, Path::new("model.toml")).expect("valid plant")
}

#[test]
fn a_speed_setpoint_divides_the_service_mean_as_queueing_theory_says() {
    // λ = 1/s, base mean 1.6 s, u = 2: exponential service with mean 0.8 s, ρ = 0.8,
    // mean wait in queue Wq = ρ E[S] / (1 − ρ) = 3.2 s (the family and CV are kept).
    let p = plant(MM1);
    let cfg = Arc::new(Compiled::new(p.clone()));
    let mut busy = Vec::new();
    let mut wait = Vec::new();
    let (mut ops, mut scrapped) = (0u64, 0u64);
    for rep in 0..4 {
        let r = run_replication(cfg.clone(), rep, &p.run, None, &|_| {}).unwrap();
        let s = &r.stations[0];
        busy.push(s.utilization.busy);
        wait.push(s.wait_mean_s);
        ops += s.operations;
        scrapped += r.plant.parts_scrapped;
        let m = s.model.as_ref().expect("model KPIs");
        assert_eq!(m.parameters["u"], 2.0);
        assert!((m.quality_mean - 1.0).abs() < 1e-12, "quality at u = 2 is 1");
        // 12 kW per operation of expected 0.8 s... per operation: 3 u² kW × its expected time.
        let expected_kwh = s.operations as f64 * 12.0 * 0.8 / 3600.0;
        assert!(
            (m.energy_kwh - expected_kwh).abs() / expected_kwh < 0.02,
            "{} vs {expected_kwh}",
            m.energy_kwh
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!((mean(&busy) - 0.8).abs() < 0.01, "ρ = {}", mean(&busy));
    assert!((mean(&wait) - 3.2).abs() / 3.2 < 0.06, "Wq = {}", mean(&wait));
    // Scrap 0.1 u − 0.05 = 15%, binomial: within 4 standard deviations.
    let rate = scrapped as f64 / ops as f64;
    let sd = (0.15 * 0.85 / ops as f64).sqrt();
    assert!(
        (rate - 0.15).abs() < 4.0 * sd,
        "scrap rate {rate} over {ops} operations"
    );
}

#[test]
fn without_the_model_the_same_plant_is_the_plain_mm1() {
    let text = MM1.replace("model = {", "# model = {");
    let p = plant(&text);
    assert!(p.stations[0].model.is_none());
    let r = run_replication(Arc::new(Compiled::new(p.clone())), 0, &p.run, None, &|_| {}).unwrap();
    assert!(r.stations[0].model.is_none());
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        !json.contains("\"model\""),
        "no model KPIs in the report of a plant without one"
    );
    assert!(r.stations[0].utilization.busy > 0.95, "ρ = 1.6 saturates");
}

const OVEN: &str = r#"
[run]
horizon = "20000s"
replications = 1
seed = 3

[[source]]
name = "In"
product = "Tray"
interarrival = { dist = "constant", value = "60s" }

[[station]]
name = "Oven"
process_time = { dist = "constant", value = "30s" }
model = { parameters = { power = { value = 2.0, min = 0.0, max = 5.0, unit = "kW" } }, thermal = { input = "power", gain = 40.0, tau = "10min", ambient = 20.0 }, time = "base * (1 + (200 - T) / 400)" }

[[product]]
name = "Tray"
routing = [{ station = "Oven" }]
"#;

#[test]
fn thermal_dynamics_follow_the_closed_form_across_a_setpoint_change() {
    let p = plant(OVEN);
    let cfg = Arc::new(Compiled::new(p.clone()));
    let mut twin = build_twin(cfg.clone(), 9);
    let t1 = 1500.0;
    twin.run_until(SimTime::from_secs(t1));
    twin.model.commands.push(Command::SetModelParameter {
        station: 0,
        param: 0,
        value: 4.5,
    });
    // Out of bounds: ignored.
    twin.model.commands.push(Command::SetModelParameter {
        station: 0,
        param: 0,
        value: 9.0,
    });
    let t2 = 2400.0;
    twin.run_until(SimTime::from_secs(t2));
    let tau = 600.0;
    let t_at_1 = 20.0 + 80.0 + (20.0 - 100.0) * (-t1 / tau).exp();
    let want = 20.0 + 180.0 + (t_at_1 - 200.0) * (-(t2 - t1) / tau).exp();
    let r = twinworks_twins::kpi::collect(&mut twin, 0, 9);
    let m = r.stations[0].model.as_ref().unwrap();
    assert_eq!(m.parameters["power"], 4.5, "the out-of-bounds value was not taken");
    assert!(
        (m.temperature - want).abs() < 1e-9,
        "T = {} vs closed form {want}",
        m.temperature
    );
    // The model state is part of the twin's state: a restored twin continues bit-identically.
    let state = twin.state();
    let json = serde_json::to_string(&state).unwrap();
    assert!(json.contains("\"temperature\""));
    let mut copy = Twin::restore(cfg.clone(), &state, Streams::Continue).unwrap();
    twin.run_until(SimTime::from_secs(6000.0));
    copy.run_until(SimTime::from_secs(6000.0));
    assert_eq!(
        serde_json::to_string(&twin.state()).unwrap(),
        serde_json::to_string(&copy.state()).unwrap()
    );
}

#[test]
fn bad_models_are_located_inside_the_expression() {
    let bad = MM1.replace("time = \"base / u\"", "time = \"base / uu\"");
    let e = parse_plant(&bad, Path::new("model.toml")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("unknown variable 'uu'"), "{msg}");
    assert!(msg.contains("did you mean 'u'"), "{msg}");
    // The column points at `uu` inside the string.
    let line = bad.lines().position(|l| l.contains("base / uu")).unwrap() + 1;
    let col = bad.lines().nth(line - 1).unwrap().find("uu").unwrap() + 1;
    assert!(msg.contains(&format!("model.toml:{line}:{col}")), "{msg}");
    let syntax = MM1.replace("time = \"base / u\"", "time = \"base / (u\"");
    let msg = parse_plant(&syntax, Path::new("model.toml")).unwrap_err().to_string();
    assert!(msg.contains("expected ')'"), "{msg}");
    let bounds = MM1.replace("min = 0.5, max = 4.0", "min = 5.0, max = 4.0");
    let msg = parse_plant(&bounds, Path::new("model.toml")).unwrap_err().to_string();
    assert!(msg.contains("min 5 is above max 4"), "{msg}");
    let thermal = OVEN.replace("input = \"power\"", "input = \"powr\"");
    let msg = parse_plant(&thermal, Path::new("model.toml")).unwrap_err().to_string();
    assert!(
        msg.contains("unknown model parameter 'powr'") && msg.contains("did you mean 'power'"),
        "{msg}"
    );
}
