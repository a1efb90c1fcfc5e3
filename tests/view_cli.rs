//! `twin view` from the command line without a display: `--screenshot` renders off screen (a
//! schedule, a study's variant, the live mirror of `twin serve-plant`), and bad input exits 2
//! with a message naming the file.
#![cfg(feature = "viewer")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twin-view-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn twin(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(root())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WGPU_BACKEND")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Without XDG_RUNTIME_DIR the drivers' Wayland probe used to print this on every run.
    assert!(!stderr.contains("XDG_RUNTIME_DIR is invalid"), "{stderr}");
    out
}

/// Width, height and the number of distinct colours of a PNG.
fn png_variety(path: &Path) -> (u32, u32, usize) {
    let img = image::open(path).expect("a PNG").to_rgba8();
    let colours: std::collections::HashSet<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    (img.width(), img.height(), colours.len())
}

#[test]
fn screenshot_of_a_schedule_and_of_a_study_variant() {
    let schedule = root().join("viewer/tests/data/machining_cell_schedule.json");
    let png = scratch("schedule.png");
    let out = twin(&[
        "view",
        "scenarios/samples/machining_cell.toml",
        "--schedule",
        schedule.to_str().unwrap(),
        "--screenshot",
        png.to_str().unwrap(),
        "--size",
        "1000x700",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (w, h, colours) = png_variety(&png);
    assert_eq!((w, h), (1000, 700));
    assert!(colours > 100, "a blank image has few colours: {colours}");

    let png = scratch("variant.png");
    let out = twin(&[
        "view",
        "scenarios/samples/cell_study.toml",
        "--variant",
        "Second mill",
        "--until",
        "2h",
        "--screenshot",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(png_variety(&png).2 > 100);
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let bad = scratch("bad.json");
    std::fs::write(&bad, "{ \"format\": \"twinworks-schedule/1\", ").unwrap();
    let out = twin(&[
        "view",
        "scenarios/samples/machining_cell.toml",
        "--schedule",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json:1:"), "{err}");

    let out = twin(&["view", "scenarios/samples/cell_study.toml", "--variant", "No such"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no variant 'No such'") && err.contains("baseline"),
        "{err}"
    );

    let out = twin(&["view", "scenarios/samples/flowline.toml", "--until", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--until 'soon'"));
}

#[test]
fn screenshot_of_the_live_mirror_of_a_served_plant() {
    let dir = scratch("live");
    std::fs::create_dir_all(&dir).unwrap();
    let tags = dir.join("tags.toml");
    let _served = common::serve("modbus", &dir);
    let png = dir.join("live.png");
    let out = twin(&[
        "view",
        "--live",
        "scenarios/samples/machining_cell.toml",
        "--tags",
        tags.to_str().unwrap(),
        "--screenshot",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(png_variety(&png).2 > 100);
}
