//! Golden files: every sample's JSON output — all replications, all KPIs — for the seeds the
//! tests use, compared byte for byte with `tests/golden/*.json`.
//!
//! These guard the model against changes made for speed (issue 10: the hot path may be
//! restructured, the numbers may not move). A deliberate change of the model regenerates them:
//! `TWIN_BLESS=1 cargo test --test golden`, then review the diff and say why in the commit.

use std::path::Path;
use std::process::Command;

/// (golden file name, `twin` arguments). Seeds: each sample's own, the queueing tests' 1, 2, 3,
/// and the determinism test's 99.
const CASES: &[(&str, &[&str])] = &[
    ("mm1", &["run", "scenarios/samples/mm1.toml", "--json"]),
    (
        "mm1_seed2",
        &["run", "scenarios/samples/mm1.toml", "--json", "--seed", "2"],
    ),
    (
        "mm1_seed3",
        &["run", "scenarios/samples/mm1.toml", "--json", "--seed", "3"],
    ),
    ("mm3", &["run", "scenarios/samples/mm3.toml", "--json"]),
    (
        "mm3_seed2",
        &["run", "scenarios/samples/mm3.toml", "--json", "--seed", "2"],
    ),
    (
        "mm3_short_seed99",
        &[
            "run",
            "scenarios/samples/mm3.toml",
            "--json",
            "--horizon",
            "20000s",
            "--replications",
            "5",
            "--seed",
            "99",
        ],
    ),
    ("flowline", &["run", "scenarios/samples/flowline.toml", "--json"]),
    (
        "flowline_warmup_seed3",
        &[
            "run",
            "scenarios/samples/flowline.toml",
            "--json",
            "--horizon",
            "100000parts",
            "--warmup",
            "1000parts",
            "--replications",
            "3",
            "--seed",
            "3",
        ],
    ),
    (
        "flowline_time",
        &[
            "run",
            "scenarios/samples/flowline.toml",
            "--json",
            "--horizon",
            "20000s",
            "--warmup",
            "100s",
            "--replications",
            "2",
        ],
    ),
    (
        "machining_cell",
        &["run", "scenarios/samples/machining_cell.toml", "--json"],
    ),
    (
        "machining_cell_seed99",
        &[
            "run",
            "scenarios/samples/machining_cell.toml",
            "--json",
            "--replications",
            "4",
            "--seed",
            "99",
        ],
    ),
    ("cell_study", &["study", "scenarios/samples/cell_study.toml", "--json"]),
];

#[test]
fn every_sample_json_is_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var_os("TWIN_BLESS").is_some();
    let mut changed = Vec::new();
    for (name, args) in CASES {
        let out = Command::new(env!("CARGO_BIN_EXE_twin"))
            .args(*args)
            .current_dir(root)
            .output()
            .expect("twin runs");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let path = root.join("tests/golden").join(format!("{name}.json"));
        if bless {
            std::fs::write(&path, &out.stdout).expect("golden file written");
            continue;
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if want != out.stdout {
            let got = String::from_utf8_lossy(&out.stdout);
            let want = String::from_utf8_lossy(&want);
            let first = got
                .lines()
                .zip(want.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| format!("line {}: got `{}`, golden `{}`", i + 1, a.trim(), b.trim()))
                .unwrap_or_else(|| "outputs differ in length".into());
            changed.push(format!("{name} ({}): {first}", args.join(" ")));
        }
    }
    assert!(changed.is_empty(), "JSON output changed:\n{}", changed.join("\n"));
}
