//! Scheduling a plant's orders: the schedule JSON follows its JSON Schema, and an independent
//! plant-level check confirms it (no server double-booked, routing order, releases, durations
//! equal to lot size × mean process time).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use twinworks_twins::prelude::load_plant;

/// Every error of `doc` against the schedule's JSON Schema (draft 2020-12, the `jsonschema`
/// crate), with where in the document it is.
fn schema_errors(doc: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(include_str!("../solvers/aps/schedule.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn schedule(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "schedule",
            "scenarios/samples/machining_cell.toml",
            "--iterations",
            "3000",
            "--out",
            "/dev/stdout",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(&text[text.find('{').unwrap()..]).expect("schedule JSON")
}

fn check_plant_level(doc: &Value) {
    let plant = load_plant(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/samples/machining_cell.toml"
    )))
    .unwrap();
    let ops = doc["operations"].as_array().unwrap();
    let jobs = doc["jobs"].as_array().unwrap();
    // No server does two things at once (setups included).
    let mut by_machine: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for o in ops.iter().chain(doc["setups"].as_array().unwrap()) {
        by_machine
            .entry(o["machine"].as_i64().unwrap())
            .or_default()
            .push((o["start"].as_i64().unwrap(), o["end"].as_i64().unwrap()));
    }
    for (m, mut iv) in by_machine {
        iv.sort();
        for w in iv.windows(2) {
            assert!(w[1].0 >= w[0].1, "machine {m} double-booked: {w:?}");
        }
    }
    // Each job follows its product's routing on eligible stations, after its release, with the
    // lot's mean process time.
    for (j, job) in jobs.iter().enumerate() {
        let product = plant.product_id(job["product"].as_str().unwrap()).unwrap();
        let mut mine: Vec<&Value> = ops.iter().filter(|o| o["job"].as_i64() == Some(j as i64)).collect();
        mine.sort_by_key(|o| o["step"].as_i64());
        let routing = &plant.products[product].routing;
        assert_eq!(mine.len(), routing.len(), "job {j} has every step once");
        let mut ready = job["release"].as_i64().unwrap();
        for (k, o) in mine.iter().enumerate() {
            let st = plant.station_id(o["station"].as_str().unwrap()).unwrap();
            assert!(
                routing[k].stations.contains(&st),
                "job {j} step {k} on an ineligible station"
            );
            let qty = job["quantity"].as_i64().unwrap() as f64;
            let expect = (plant.process_time(product, k, st).mean() * qty).round() as i64;
            let (s, e) = (o["start"].as_i64().unwrap(), o["end"].as_i64().unwrap());
            assert_eq!(e - s, expect, "job {j} step {k} duration");
            assert!(
                s >= ready,
                "job {j} step {k} starts before its predecessor ends or before release"
            );
            ready = e;
        }
    }
}

#[test]
fn plant_schedule_follows_its_schema_and_is_feasible() {
    for args in [
        &["--objective", "twt"][..],
        &["--split", "unit", "--objective", "makespan"][..],
        &["--orders", "scenarios/samples/cell_orders.csv"][..],
    ] {
        let doc = schedule(args);
        let errors = schema_errors(&doc);
        assert!(errors.is_empty(), "{args:?}: {errors:#?}");
        check_plant_level(&doc);
    }
    // The check can fail: a document with a wrong type and an unknown key is refused.
    let mut bad = schedule(&["--objective", "twt"]);
    bad["value"] = Value::String("low".into());
    bad["extra"] = Value::Bool(true);
    assert_eq!(schema_errors(&bad).len(), 2, "{:#?}", schema_errors(&bad));
    let unit = schedule(&["--split", "unit"]);
    let total: i64 = load_plant(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/samples/machining_cell.toml"
    )))
    .unwrap()
    .orders
    .iter()
    .map(|o| o.quantity as i64)
    .sum();
    assert_eq!(unit["jobs"].as_array().unwrap().len() as i64, total, "one job per unit");
    let csv = schedule(&["--orders", "scenarios/samples/cell_orders.csv"]);
    assert!(
        csv["jobs"][0]["order"].as_str().unwrap().starts_with("WK48-"),
        "--orders replaces the plant's orders"
    );
}

#[test]
fn plant_without_orders_is_an_input_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["schedule", "scenarios/samples/mm1.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no orders"));
}

/// A schedule that does not match the plant is refused where it is wrong: the unknown
/// station's line and column, with the nearest valid name.
#[test]
fn a_schedule_for_another_plant_is_located() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plant = load_plant(&root.join("scenarios/samples/machining_cell.toml")).unwrap();
    let text = std::fs::read_to_string(root.join("viewer/tests/data/machining_cell_schedule.json")).unwrap();
    twinworks_aps::plant_plan::read_plant_schedule(&text, Path::new("s.json"), &plant).expect("the sample reads");
    let at = text.find("\"station\": \"Mill\"").expect("an operation on the mill");
    let bad = format!(
        "{}\"station\": \"Mil\"{}",
        &text[..at],
        &text[at + "\"station\": \"Mill\"".len()..]
    );
    let err = twinworks_aps::plant_plan::read_plant_schedule(&bad, Path::new("s.json"), &plant).unwrap_err();
    let d = &err.diagnostics()[0];
    let (line, _) = d.line_col();
    assert_eq!(line, bad[..at].matches('\n').count() + 1, "{}", err.short());
    assert!(d.message.contains("unknown station 'Mil'"), "{}", err.short());
    assert_eq!(d.help.as_deref(), Some("did you mean 'Mill'?"));
}
