//! Checks on the codebase itself: crate dependencies point one way (DESIGN.md), and every
//! crate's lib.rs opens with a `//!` tour.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// For each workspace crate, the workspace crates it may depend on. A crate missing here fails
/// the test: adding a crate means deciding where it sits.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("twinworks-engine", &[][..]),
        // The benchmark's plain-loop baseline: the kernel's streams and samplers, nothing else.
        ("twinworks-flowline-plain", &["twinworks-engine"][..]),
        ("twinworks-twins", &["twinworks-engine"][..]),
        ("twinworks-aps", &["twinworks-engine", "twinworks-twins"][..]),
        (
            "twinworks-dispatch",
            &["twinworks-engine", "twinworks-twins", "twinworks-aps"][..],
        ),
        ("twinworks-optimize", &["twinworks-engine", "twinworks-twins"][..]),
        ("twinworks-adapters", &["twinworks-engine", "twinworks-twins"][..]),
        (
            "twinworks-scenarios",
            &[
                "twinworks-engine",
                "twinworks-twins",
                "twinworks-aps",
                "twinworks-dispatch",
                "twinworks-optimize",
            ][..],
        ),
        (
            "twinworks-viewer",
            &[
                "twinworks-engine",
                "twinworks-twins",
                "twinworks-aps",
                "twinworks-scenarios",
            ][..],
        ),
        (
            "twinworks",
            &[
                "twinworks-engine",
                "twinworks-twins",
                "twinworks-aps",
                "twinworks-dispatch",
                "twinworks-optimize",
                "twinworks-adapters",
                "twinworks-scenarios",
                "twinworks-viewer",
            ][..],
        ),
    ])
}

/// External crates that must stay out of a crate (its architecture invariants).
fn forbidden() -> BTreeMap<&'static str, &'static [&'static str]> {
    let gui_async: &[&str] = &["tokio", "egui", "eframe", "async-opcua", "tokio-modbus", "rumqttc"];
    BTreeMap::from([
        (
            "twinworks-engine",
            &[
                "tokio",
                "egui",
                "eframe",
                "serde",
                "toml",
                "async-opcua",
                "tokio-modbus",
                "rumqttc",
            ][..],
        ),
        ("twinworks-twins", gui_async),
        ("twinworks-aps", gui_async),
        // Plant I/O stays headless: the viewer reads snapshots, never the other way round.
        ("twinworks-adapters", &["egui", "eframe", "egui_plot"][..]),
    ])
}

#[test]
fn crate_dependencies_point_one_way() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    let allowed = allowed();
    let forbidden = forbidden();
    let mut problems = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        let Some(ok) = allowed.get(name) else {
            problems.push(format!("{name}: not placed in the dependency rules of tests/tidy.rs"));
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            let dev = d["kind"].as_str() == Some("dev");
            if members.contains(dep) && !dev && !ok.contains(&dep) {
                problems.push(format!("{name} must not depend on {dep}"));
            }
            if !dev && forbidden.get(name).is_some_and(|f| f.contains(&dep)) {
                problems.push(format!("{name} must not depend on external crate {dep}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_lib_opens_with_a_crate_doc() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        "engine",
        "twins",
        "solvers/aps",
        "solvers/dispatch",
        "solvers/optimize",
        "adapters",
        "scenarios",
        "viewer",
    ] {
        let lib = root.join(dir).join("src/lib.rs");
        if let Ok(text) = std::fs::read_to_string(&lib) {
            assert!(
                text.starts_with("//!"),
                "{} must open with a //! crate doc",
                lib.display()
            );
        }
    }
}
