//! `twin schedule INSTANCE` reports the gap to the best known value when the instance's
//! directory has a `bounds.csv` that knows it, and names its simple bound otherwise. The
//! published instances ship in `bench/instances/` (a fresh clone runs the README's commands).

use std::process::Command;

fn schedule(file: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("schedule")
        .arg(file)
        .args(["--iterations", "500", "--threads", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_gap_is_to_the_best_known_value_when_the_bounds_file_knows_the_instance() {
    let shipped = std::path::Path::new("bench/instances/jssp/ft06.txt");
    let out = schedule(shipped);
    assert!(out.contains("best known 55 (gap"), "{out}");
    let dir = std::env::temp_dir().join(format!("twin-schedule-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let alone = dir.join("ft06.txt");
    std::fs::copy(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(shipped), &alone).unwrap();
    let out = schedule(&alone);
    assert!(out.contains("(job and machine bound; gap"), "{out}");
    assert!(!out.contains("best known"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
