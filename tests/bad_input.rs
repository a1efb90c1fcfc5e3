//! Bad input gets a clear message naming file, line, column and key (with the nearest valid
//! name), exit code 2, and no panic. One test per kind of mistake.

use std::path::PathBuf;
use std::process::Command;

const GOOD: &str = r#"[[source]]
name = "In"
product = "A"
interarrival = { dist = "exponential", mean = "60s" }

[[station]]
name = "Lathe_2"
capacity = 1
process_time = { dist = "lognormal", mean = "55s", sd = "8s" }

[[product]]
name = "A"
routing = [{ station = "Lathe_2" }]
"#;

/// Writes `text` to a fresh temp file and runs `twin run` on it.
fn twin_run(name: &str, text: &str) -> (i32, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("twin-bad-input-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plant.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["run"])
        .arg(&file)
        .args(["--horizon", "1h"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), stderr, file)
}

fn expect(name: &str, text: &str, needles: &[&str]) {
    let (code, err, file) = twin_run(name, text);
    assert_eq!(code, 2, "{name}: exit code; stderr:\n{err}");
    assert!(
        err.contains(&file.display().to_string()),
        "{name}: file not named:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "{name}: missing {n:?} in:\n{err}");
    }
}

#[test]
fn good_file_runs() {
    let (code, err, _) = twin_run("good", GOOD);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn syntax_error() {
    expect("syntax", &GOOD.replace("[[station]]", "[[station]"), &["plant.toml:6:"]);
}

#[test]
fn unknown_key() {
    expect(
        "unknown-key",
        &GOOD.replace("capacity = 1", "capcity = 1"),
        &["plant.toml:8:1", "unknown key 'capcity'", "did you mean 'capacity'?"],
    );
}

#[test]
fn unknown_reference() {
    expect(
        "unknown-ref",
        &GOOD.replace(
            "routing = [{ station = \"Lathe_2\" }]",
            "routing = [{ station = \"Lathe2\" }]",
        ),
        &[
            "plant.toml:13:24",
            "unknown station 'Lathe2' in routing of product 'A' (step 1)",
            "did you mean 'Lathe_2'?",
        ],
    );
}

#[test]
fn negative_capacity() {
    expect(
        "negative-capacity",
        &GOOD.replace("capacity = 1", "capacity = -2"),
        &["plant.toml:8:12", "station 'Lathe_2': capacity must be >= 1, got -2"],
    );
}

#[test]
fn impossible_distribution_parameters() {
    expect(
        "bad-dist",
        &GOOD.replace(
            r#"{ dist = "lognormal", mean = "55s", sd = "8s" }"#,
            r#"{ dist = "lognormal", mean = "55s", sd = -8 }"#,
        ),
        &[
            "plant.toml:9:16",
            "station 'Lathe_2': process_time: lognormal: sd must be >= 0, got -8",
        ],
    );
    expect(
        "bad-dist-name",
        &GOOD.replace(r#"dist = "exponential""#, r#"dist = "exponentail""#),
        &[
            "plant.toml:4:",
            "unknown distribution 'exponentail'; did you mean 'exponential'?",
        ],
    );
}

#[test]
fn several_errors_are_reported_at_once() {
    let text = GOOD
        .replace("capacity = 1", "capacity = 0")
        .replace("station = \"Lathe_2\" }]", "station = \"Lath_2\" }]");
    expect(
        "several",
        &text,
        &[
            "capacity must be >= 1, got 0",
            "unknown station 'Lath_2'",
            "2 errors in input",
        ],
    );
}

#[test]
fn missing_file_is_an_input_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["run", "/nonexistent/plant.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/plant.toml"));
}

#[test]
fn bad_cli_values_are_input_errors() {
    let dir = std::env::temp_dir().join(format!("twin-bad-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plant.toml");
    std::fs::write(&file, GOOD).unwrap();
    for args in [
        &["--horizon", "5 parsecs"][..],
        &["--replications", "0"][..],
        &["--warmup", "2h", "--horizon", "1h"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_twin"))
            .arg("run")
            .arg(&file)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
