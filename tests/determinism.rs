//! Same seed and file ⇒ identical JSON, whatever the number of threads.

use std::process::Command;

fn run_json(file: &str, threads: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["run", file, "--json", "--threads", threads])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("twin runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn same_seed_same_json_for_one_and_two_threads() {
    for (file, extra) in [
        (
            "scenarios/samples/mm3.toml",
            &["--horizon", "20000s", "--replications", "5"][..],
        ),
        ("scenarios/samples/machining_cell.toml", &["--replications", "4"][..]),
    ] {
        let one = run_json(file, "1", extra);
        let two = run_json(file, "2", extra);
        assert_eq!(one, two, "{file}: results depend on the thread count");
        let doc: serde_json::Value = serde_json::from_str(&one).expect("valid JSON");
        assert!(doc["summary"].as_array().is_some_and(|a| !a.is_empty()));
        // A different seed gives different numbers (the seed is really used).
        let other = run_json(file, "2", &[extra, &["--seed", "99"][..]].concat());
        assert_ne!(one, other, "{file}: --seed has no effect");
    }
}
