//! Checks on the crate itself (house style): module docs, file sizes, no
//! `mod.rs`, and the dependency list — in particular no `rand`, whose version
//! bumps would silently change which points a seed proposes.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn source_files_are_documented_small_and_not_mod_rs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["src", "tests", "examples"] {
        rust_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 10);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        let name = f.display();
        assert!(text.starts_with("//!"), "{name}: must open with a //! doc comment");
        assert!(text.lines().count() <= 600, "{name}: over 600 lines, split it");
        assert!(!f.ends_with("mod.rs"), "{name}: use foo.rs + foo/ instead of mod.rs");
    }
}

#[test]
fn dependencies_stay_minimal() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("Cargo.toml is readable");
    let allowed = ["nalgebra", "rayon", "thiserror"];
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap_or("");
    let mut seen = Vec::new();
    for line in deps
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name = line.split(['=', ' ', '.']).next().unwrap_or("");
        assert!(allowed.contains(&name), "unexpected dependency '{name}'");
        seen.push(name);
    }
    assert_eq!(seen, allowed, "the dependency list is pinned");
    assert!(
        !deps.contains("twinworks-"),
        "the optimizer depends on no other Twinworks crate"
    );
}
