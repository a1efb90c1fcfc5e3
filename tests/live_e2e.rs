//! End to end: `twin live` mirroring `twin serve-plant`, over OPC UA and over Modbus TCP, and
//! `twin write` changing the served simulation through the write guard.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::serve;
use serde_json::Value;

mod common;

const PLANT: &str = "scenarios/samples/machining_cell.toml";

fn twin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twin"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("twinworks-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `twin live --json` for `secs` and returns its snapshots.
fn live(dir: &Path, secs: u32) -> Vec<Value> {
    // The tag map keeps OPC UA client certificates next to it (pki/).
    let out = twin()
        .args(["live", PLANT, "--json", "--every", "500ms", "--time-scale", "60"])
        .arg("--tags")
        .arg(dir.join("tags.toml"))
        .args(["--duration", &format!("{secs}s")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "twin live failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON snapshot per line"))
        .collect()
}

fn station<'a>(snap: &'a Value, name: &str) -> &'a Value {
    snap["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

fn mirror_and_write(proto: &str) {
    let dir = scratch(proto);
    let _plant = serve(proto, &dir);
    let snaps = live(&dir, 5);
    assert!(snaps.len() >= 6, "{} snapshots", snaps.len());
    let last = snaps.last().unwrap();
    for s in last["stations"].as_array().unwrap() {
        let obs = s["observed"].as_object().unwrap();
        for key in ["state", "parts_done", "temperature", "speed", "permissive"] {
            assert!(obs.contains_key(key), "{}: no observed {key} ({proto})", s["name"]);
        }
        assert_eq!(s["stale"], false, "{} stale at the end ({proto})", s["name"]);
        // The twin's counter follows the plant's (re-aligned at every observation).
        let (twin_parts, plant_parts) = (s["parts_done"].as_f64().unwrap(), obs["parts_done"].as_f64().unwrap());
        assert!(
            (twin_parts - plant_parts).abs() <= 2.0,
            "{}: twin {twin_parts} vs plant {plant_parts}",
            s["name"]
        );
    }
    assert!(station(last, "Saw")["observed"]["parts_done"].as_f64().unwrap() > 0.0);

    // Dry run: logged, not written.
    let audit = dir.join("audit.jsonl");
    let out = twin()
        .args(["write", "--dry-run", "--who", "e2e"])
        .arg(dir.join("tags.toml"))
        .arg("Saw.Speed=1.4")
        .arg("--audit")
        .arg(&audit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""outcome":"dry_run""#));
    // Out of limits: refused, exit 1.
    let out = twin()
        .arg("write")
        .arg(dir.join("tags.toml"))
        .arg("Saw.Speed=3")
        .arg("--audit")
        .arg(&audit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("outside the limits"));
    // A real write, confirmed by read-back.
    let out = twin()
        .arg("write")
        .arg(dir.join("tags.toml"))
        .arg("Saw.Speed=1.4")
        .arg("--audit")
        .arg(&audit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    let rec: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(rec["outcome"], "written");
    assert!((rec["readback"].as_f64().unwrap() - 1.4).abs() < 1e-5);
    let lines = std::fs::read_to_string(&audit).unwrap().lines().count();
    assert_eq!(lines, 3, "every request is in the audit log");

    // The write changed the simulation: the Saw runs at 1.4 and, busy at that speed, heats
    // towards 25 + 45 × 1.4 = 88 °C (70 °C at nominal speed).
    let snaps = live(&dir, 6);
    let saw = station(snaps.last().unwrap(), "Saw");
    assert!((saw["speed"].as_f64().unwrap() - 1.4).abs() < 1e-5, "{saw}");
    let temp = saw["observed"]["temperature"].as_f64().unwrap();
    assert!(
        temp > 71.0,
        "Saw at {temp} °C: the faster speed did not reach the simulation ({proto})"
    );
}

#[test]
fn live_mirrors_serve_plant_over_opcua() {
    mirror_and_write("opcua");
}

#[test]
fn live_mirrors_serve_plant_over_modbus() {
    mirror_and_write("modbus");
}

#[test]
fn the_sample_tag_map_loads_and_a_bad_one_is_located() {
    let plant = twinworks_twins::plant_file::load_plant(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/",
        "scenarios/samples/machining_cell.toml"
    )))
    .unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/samples/cell_tags.toml");
    let map = twinworks_adapters::tagmap::load_tag_map(&sample, Some(&plant)).unwrap();
    assert_eq!(map.tags.len(), 30);
    let dir = scratch("badmap");
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(&sample)
        .unwrap()
        .replacen("station = \"Saw\"", "station = \"Sew\"", 1);
    std::fs::write(&bad, text).unwrap();
    let out = twin()
        .args(["live", PLANT, "--duration", "1s"])
        .arg("--tags")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown station 'Sew'") && err.contains("did you mean 'Saw'?"),
        "{err}"
    );
    assert!(err.contains("bad.toml:"), "{err}");
    let out = twin().arg("write").arg(&sample).arg("Saw.Sped=1.1").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean 'Saw.Speed'?"));
}
