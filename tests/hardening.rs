//! Inputs a user can write that used to panic, hang or be silently misread (issue 12): each
//! kind gets a located message (file:line:column and the key), exit code 2, and nothing
//! written — no trace, no partial trace.

use std::path::PathBuf;
use std::process::Command;

const BASE: &str = r#"[plant]
name = "hardening"

[run]
horizon = "1h"

[[source]]
name = "In"
product = "A"
interarrival = { dist = "exponential", mean = "60s" }

[[station]]
name = "Lathe"
capacity = 1
process_time = { dist = "exponential", mean = "50s" }

[[product]]
name = "A"
routing = [{ station = "Lathe" }]
"#;

/// Runs `twin run FILE --trace T` on `text` (bytes) and checks exit 2, the file:line:column,
/// every needle, and that no trace was written.
fn refused(name: &str, text: &[u8], at: &str, needles: &[&str]) {
    let dir: PathBuf = std::env::temp_dir().join(format!("twin-hardening-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plant.toml");
    std::fs::write(&file, text).unwrap();
    let trace = dir.join("trace.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("run")
        .arg(&file)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert_eq!(out.status.code(), Some(2), "{name}: exit code; stderr:\n{err}");
    let located = format!("{}:{at}", file.display());
    assert!(err.contains(&located), "{name}: expected {located} in:\n{err}");
    for n in needles {
        assert!(err.contains(n), "{name}: missing {n:?} in:\n{err}");
    }
    assert!(out.stdout.is_empty(), "{name}: no report on stdout");
    assert!(!trace.exists(), "{name}: no trace");
    assert!(!dir.join("trace.csv.partial").exists(), "{name}: no partial trace");
    let _ = std::fs::remove_dir_all(&dir);
}

fn with(old: &str, new: &str) -> Vec<u8> {
    assert!(BASE.contains(old), "{old}");
    BASE.replacen(old, new, 1).into_bytes()
}

#[test]
fn the_base_file_runs() {
    let dir = std::env::temp_dir().join(format!("twin-hardening-{}-base", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plant.toml");
    std::fs::write(&file, BASE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_finite_numbers() {
    refused(
        "inf-horizon",
        &with(r#"horizon = "1h""#, "horizon = inf"),
        "5:11",
        &["[run] horizon", "not finite"],
    );
    refused(
        "nan-mean",
        &with(r#"mean = "50s""#, "mean = nan"),
        "15:16",
        &["station 'Lathe': process_time", "mean must be finite"],
    );
}

#[test]
fn huge_numbers() {
    refused(
        "huge-duration",
        &with(r#"mean = "50s""#, r#"mean = "1e300s""#),
        "15:16",
        &["'1e300s' is longer than the limit of 1e10 s"],
    );
    refused(
        "huge-number",
        &with(r#"mean = "50s""#, "mean = 1e300"),
        "15:16",
        &["mean = 1e300 is beyond the limit of 1e10 s"],
    );
}

#[test]
fn negative_durations() {
    refused(
        "negative",
        &with(r#"horizon = "1h""#, "horizon = \"1h\"\nwarmup = \"-5min\""),
        "6:10",
        &["[run] warmup", "negative"],
    );
}

#[test]
fn multi_byte_characters() {
    refused(
        "multibyte-start",
        &with(
            "name = \"hardening\"",
            "name = \"hardening\"\nstart = \"2026-11-23T06:00:00+0€:00\"",
        ),
        "3:9",
        &["[plant] start", "not an RFC 3339 timestamp"],
    );
    refused(
        "not-utf8",
        &[BASE.as_bytes(), b"# \xff\n"].concat(),
        "20:3",
        &["not UTF-8 text", "0xff"],
    );
}

#[test]
fn huge_counts() {
    refused(
        "capacity-2^32",
        &with("capacity = 1", "capacity = 4294967296"),
        "14:12",
        &["station 'Lathe': capacity must be <= 10000", "4294967296"],
    );
    let orders = "[[order]]\nid = \"O-1\"\nproduct = \"A\"\nquantity = 99999999999\n";
    refused(
        "order-quantity",
        &[BASE.as_bytes(), orders.as_bytes()].concat(),
        "23:12",
        &["order 'O-1': quantity must be <= 10000000"],
    );
}

#[test]
fn zero_time_loops() {
    for (name, ia) in [
        ("uniform-0", r#"{ dist = "uniform", min = "0s", max = "0s" }"#),
        ("normal-0", r#"{ dist = "normal", mean = "0s", sd = "0s" }"#),
    ] {
        refused(
            name,
            &with(r#"{ dist = "exponential", mean = "60s" }"#, ia),
            "10:16",
            &["source 'In': interarrival must have a mean > 0"],
        );
    }
    let infinite = BASE
        .replace(
            r#"interarrival = { dist = "exponential", mean = "60s" }"#,
            "kind = \"infinite\"",
        )
        .replace(r#"{ dist = "exponential", mean = "50s" }"#, r#""0s""#);
    refused(
        "infinite-zero",
        infinite.as_bytes(),
        "8:8",
        &["source 'In': the first step's process time at station 'Lathe' is zero"],
    );
}

#[test]
fn unreachable_parts_horizon() {
    let text = BASE
        .replace(r#"horizon = "1h""#, "horizon_parts = 100")
        .replace(r#"product = "A""#, "product = \"A\"\nlimit = 10");
    refused(
        "unreachable",
        text.as_bytes(),
        "5:17",
        &["horizon_parts = 100 can never be reached", "at most 10 parts"],
    );
}

/// `twin write --dry-run` with no peer says that the connection failed, and where.
#[test]
fn a_dry_run_without_a_peer_names_the_connection_that_failed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tags = std::fs::read_to_string(root.join("scenarios/samples/cell_tags.toml"))
        .unwrap()
        .replace("opc.tcp://127.0.0.1:4840/", &format!("opc.tcp://127.0.0.1:{port}/"));
    let dir = std::env::temp_dir().join(format!("twin-hardening-{}-write", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tags.toml"), tags).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["write", "--dry-run"])
        .arg(dir.join("tags.toml"))
        .arg("Saw.Speed=1.2")
        .arg("--audit")
        .arg(dir.join("audit.jsonl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!("reading it failed: link failure: connection 'plant-opcua' (opc.tcp://127.0.0.1:{port}/)");
    assert!(
        stdout.contains(&want),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
