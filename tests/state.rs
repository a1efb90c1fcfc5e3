//! Saved twin states (issue 11): a state saved at T by one `twin` process and continued by
//! another gives the very report of the unbroken run; a state is refused by a plant it does not
//! fit, naming the mismatch, and accepted by a compatible what-if variant.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("twin runs")
}

fn ok(args: &[&str]) -> Vec<u8> {
    let out = twin(args);
    assert!(
        out.status.success(),
        "twin {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twinworks-state-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// What the servers of a saved state are doing: (mid-setup, mid-repair, off shift, blocked).
fn conditions(state: &Path) -> [bool; 4] {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(state).expect("state")).expect("state is JSON");
    let mut c = [false; 4];
    for st in v["stations"].as_array().expect("stations") {
        let hot = &st["hot"];
        c[2] |= hot["off_shift"] == true;
        for srv in hot["servers"].as_array().expect("servers") {
            c[0] |= srv["phase"] == "setup";
            c[1] |= srv["down"] == true;
            c[3] |= srv["phase"] == "blocked";
        }
    }
    c
}

/// Saves replication 1 at each time in `ats`, continues it in a new process, and compares the
/// JSON with the unbroken run's; returns the conditions seen over all the states.
fn restore_is_exact(plant: &str, extra: &[&str], ats: &[&str]) -> [bool; 4] {
    let dir = scratch(Path::new(plant).file_stem().and_then(|s| s.to_str()).unwrap_or("plant"));
    let mut args = vec!["run", plant, "--json", "--replications", "1"];
    args.extend_from_slice(extra);
    let unbroken = ok(&args);
    let mut seen = [false; 4];
    for at in ats {
        let file = dir.join(format!("at-{at}.json"));
        let f = file.to_str().expect("utf-8 path");
        let mut save = vec!["run", plant, "--at", at, "--save-state", f];
        save.extend_from_slice(extra);
        ok(&save);
        for (i, c) in conditions(&file).into_iter().enumerate() {
            seen[i] |= c;
        }
        let continued = ok(&["run", plant, "--json", "--state", f]);
        assert!(
            continued == unbroken,
            "{plant} saved at {at}: the continued run's JSON differs from the unbroken run's"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

#[test]
fn machining_cell_restored_mid_setup_repair_shift_and_blocking_equals_the_unbroken_run() {
    // Times chosen (and checked below) so that the states hold servers in every condition:
    // 06:25 on Monday is inside the initial setups, 22:30 is off shift, and during the week
    // the mills break down and the grinder blocks behind its full buffer.
    let seen = restore_is_exact(
        "scenarios/samples/machining_cell.toml",
        &[],
        &["25min", "16.5h", "1d", "38h", "2.3d", "3d", "4.2d"],
    );
    assert_eq!(
        seen, [true; 4],
        "(mid-setup, mid-repair, off shift, blocked) seen over the saved states"
    );
}

#[test]
fn flow_line_restored_mid_run_equals_the_unbroken_run() {
    let seen = restore_is_exact(
        "scenarios/samples/flowline.toml",
        &["--horizon", "60000parts", "--warmup", "500parts"],
        &["100s", "20000s"],
    );
    assert!(seen[3], "some server is blocked in the saved flow line");
}

#[test]
fn a_state_is_refused_by_a_plant_it_does_not_fit_and_accepted_by_other_buffer_sizes() {
    let dir = scratch("fit");
    let file = dir.join("fl.json");
    let f = file.to_str().expect("utf-8 path");
    ok(&[
        "run",
        "scenarios/samples/flowline.toml",
        "--horizon",
        "20000parts",
        "--at",
        "5000s",
        "--save-state",
        f,
    ]);
    let text = std::fs::read_to_string("scenarios/samples/flowline.toml").expect("sample");
    let variant = |name: &str, from: &str, to: &str| {
        assert!(text.contains(from), "the sample has `{from}`");
        let p = dir.join(name);
        std::fs::write(&p, text.replacen(from, to, 1)).expect("variant written");
        p
    };

    // Renamed everywhere (the station and its routing step): a valid plant, but not the
    // state's.
    let renamed = dir.join("renamed.toml");
    std::fs::write(&renamed, text.replace("\"M3\"", "\"Mill3\"")).expect("variant written");
    let out = twin(&["run", renamed.to_str().unwrap(), "--state", f]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("station 'M3' of the state is not in the plant"), "{err}");

    let larger = variant("larger.toml", "capacity = 5", "capacity = 8");
    let out = twin(&["run", larger.to_str().unwrap(), "--state", f, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["runs"][0]["plant"]["parts_out"], 20000);

    // Less room is a parameter change too: the parts there stay, no more enter until the
    // queue is below the new capacity.
    let smaller = variant("smaller.toml", "capacity = 5", "capacity = 1");
    let out = twin(&["run", smaller.to_str().unwrap(), "--state", f, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let other_input = dir.join("other_input.toml");
    std::fs::write(&other_input, text.replace("\"B3\"", "\"Buffer3\"")).expect("variant written");
    let out = twin(&["run", other_input.to_str().unwrap(), "--state", f]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("station 'M3' takes from buffer 'B3' in the state, from 'Buffer3' in the plant"),
        "{err}"
    );

    let out = twin(&[
        "run",
        "scenarios/samples/flowline.toml",
        "--state",
        f,
        "--horizon",
        "1000s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not before the horizon"), "{err}");

    std::fs::write(
        dir.join("bad.json"),
        "{\"format\": \"twinworks-state\", \"version\": 1,\n \"seed\": \"x\"}",
    )
    .expect("written");
    let out = twin(&[
        "run",
        "scenarios/samples/flowline.toml",
        "--state",
        dir.join("bad.json").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.json:2:"), "the error names the file and line: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}
