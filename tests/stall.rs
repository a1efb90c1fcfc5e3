//! A zero-time loop (issue 12): the kernel's stall guard stops the run with exit 1, a message
//! naming the element whose event loops, and no trace left behind.

use std::process::Command;

#[test]
fn a_zero_time_loop_stops_with_exit_1_naming_the_source_and_leaves_no_trace() {
    let dir = std::env::temp_dir().join(format!("twinworks-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let plant = dir.join("zero.toml");
    // An interarrival whose mean is > 0 (so validation accepts it) but whose draws are all but
    // surely 0: every arrival is at t = 0, a loop only the run shows.
    std::fs::write(
        &plant,
        r#"
[plant]
name = "zero-time loop"
[run]
horizon = "1h"
[[source]]
name = "Burst"
product = "P"
interarrival = { dist = "empirical", values = ["0s", "1e9s"], weights = [1, 1e-15] }
[[station]]
name = "A"
process_time = { dist = "exponential", mean = "1s" }
[[product]]
name = "P"
routing = [{ station = "A" }]
"#,
    )
    .expect("plant written");
    let trace = dir.join("trace.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["run", plant.to_str().unwrap(), "--trace", trace.to_str().unwrap()])
        .output()
        .expect("twin runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stalled at t = 0s") && err.contains("an arrival at source 'Burst'"),
        "{err}"
    );
    assert!(!trace.exists(), "no trace");
    let partial = dir.join("trace.csv.partial");
    assert!(!partial.exists(), "no partial trace");
    let _ = std::fs::remove_dir_all(&dir);
}
