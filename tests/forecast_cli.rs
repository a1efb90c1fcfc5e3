//! `twin forecast` from the command line (issue 17, first part): from a simulated present
//! (`--at`) and from a saved state (`--state`), the same numbers for any thread count, the JSON
//! and SVG outputs, and bad input refused with exit 2.

use std::path::PathBuf;
use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("twin runs")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("twin-forecast-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const PLANT: &str = "scenarios/samples/plant50.toml";

#[test]
fn a_forecast_from_a_run_and_from_its_saved_state_agree_for_any_thread_count() {
    let dir = scratch("agree");
    let svg = dir.join("forecast.svg");
    let base = ["forecast", PLANT, "--replications", "12", "--horizon", "7d", "--json"];
    let one = twin(
        &[
            &base[..],
            &["--at", "2d", "--threads", "1", "--svg", svg.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
    let two = twin(&[&base[..], &["--at", "2d", "--threads", "2"]].concat());
    assert_eq!(one.stdout, two.stdout, "bit-identical for 1 and 2 threads");
    let state = dir.join("state.json");
    let saved = twin(&["run", PLANT, "--at", "2d", "--save-state", state.to_str().unwrap()]);
    assert!(saved.status.success(), "{}", String::from_utf8_lossy(&saved.stderr));
    let from_state = twin(&[&base[..], &["--state", state.to_str().unwrap()]].concat());
    assert!(
        from_state.status.success(),
        "{}",
        String::from_utf8_lossy(&from_state.stderr)
    );
    assert_eq!(one.stdout, from_state.stdout, "the saved state is the same present");
    let doc: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(doc["format"], "twinworks-forecast/1");
    assert_eq!(doc["at_s"], 172_800.0);
    let orders = doc["orders"].as_array().unwrap();
    assert!(
        orders.len() > 300,
        "most of the 500 orders are open at 2d: {}",
        orders.len()
    );
    let mut last = -1.0;
    for o in orders {
        let p = o["p_on_time"].as_f64().unwrap();
        let (lo, hi) = (
            o["p_on_time_ci95"][0].as_f64().unwrap(),
            o["p_on_time_ci95"][1].as_f64().unwrap(),
        );
        assert!((0.0..=1.0).contains(&p) && lo <= p && p <= hi, "{o}");
        assert!(p >= last, "most at risk first");
        last = p;
    }
    assert_eq!(doc["stations"].as_array().unwrap().len(), 50);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<rect").count() == orders.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_forecast_input_is_refused() {
    let dir = scratch("bad");
    let state = dir.join("state.json");
    let saved = twin(&[
        "run",
        "scenarios/samples/job_shop.toml",
        "--at",
        "1d",
        "--save-state",
        state.to_str().unwrap(),
    ]);
    assert!(saved.status.success(), "{}", String::from_utf8_lossy(&saved.stderr));
    for (args, needle) in [
        (
            vec!["--state", state.to_str().unwrap()],
            "the state is of plant 'Job shop', not 'Plant 50'",
        ),
        (vec!["--at", "2d", "--horizon", "0s"], "--horizon '0s' must be > 0"),
        (vec!["--at", "2d", "--horizon=-1d"], "--horizon '-1d'"),
        (vec!["--at", "2x"], "--at '2x'"),
        (
            vec!["--at", "2d", "--replications", "0"],
            "--replications must be in 1..",
        ),
    ] {
        let out = twin(&[&["forecast", PLANT][..], &args[..]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: missing {needle:?} in {err}");
        assert!(out.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
