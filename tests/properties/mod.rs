//! The property every parser of a file a user writes must have (issue 12): given any bytes, it
//! returns a located error or a valid result. It never panics, aborts, allocates without bound
//! or runs without bound. A plant that loads is also run for a bounded number of events, since
//! zero-time loops only show in a run; a job-shop instance that loads is also scheduled and
//! checked.
//!
//! Shared by the proptest suite (`tests/parser_properties.rs`, in `cargo test`) and the
//! cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, `scripts/fuzz.sh`): a violation panics, and
//! both report it as a failure with the input.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use twinworks_aps::prelude::{Objective, Problem, Rule, check, construct};
use twinworks_aps::problem::ParseError;
use twinworks_twins::diagnostic::{LoadError, text_from_bytes};
use twinworks_twins::plant::PlantModel;
use twinworks_twins::sim::{Compiled, build_twin};
use twinworks_twins::state::Restorable;

/// Events a loaded plant is run for: enough to pass warm-up transients and to reach the
/// stall guard's sibling, the time-accounting paths, without making a case slow.
pub const EVENT_BUDGET: u64 = 20_000;

/// The repository root (this module is built from the root crate's tests and from `fuzz/`).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    if here.join("scenarios").is_dir() {
        here.to_path_buf()
    } else {
        here.parent().expect("fuzz/ has a parent").to_path_buf()
    }
}

/// The samples directory (a study's base plant is found there).
pub fn samples() -> PathBuf {
    root().join("scenarios/samples")
}

/// The machining cell: the plant a tag map, orders CSV or schedule is read against.
pub fn cell() -> &'static PlantModel {
    static CELL: OnceLock<PlantModel> = OnceLock::new();
    CELL.get_or_init(|| {
        twinworks_twins::prelude::load_plant(&samples().join("machining_cell.toml")).expect("sample loads")
    })
}

/// Every diagnostic of `err` lies inside its own source text, on character boundaries, says
/// what is wrong, and renders.
pub fn assert_located(err: &LoadError) {
    match err {
        LoadError::Io { message, .. } => assert!(!message.is_empty(), "an I/O error without a message"),
        LoadError::Invalid(found) => {
            assert!(!found.is_empty(), "an Invalid error with no diagnostic");
            for d in found {
                let n = d.source.len();
                assert!(
                    d.span.start <= d.span.end && d.span.end <= n,
                    "span {:?} outside the text ({n} bytes): {}",
                    d.span,
                    d.message
                );
                assert!(
                    d.source.is_char_boundary(d.span.start) && d.source.is_char_boundary(d.span.end),
                    "span {:?} splits a character: {}",
                    d.span,
                    d.message
                );
                assert!(!d.message.trim().is_empty(), "an empty message at {:?}", d.span);
                let _ = d.short();
                assert!(!d.render().is_empty());
            }
        }
        _ => {}
    }
}

/// Bytes as an input file's text, or the located error for bytes that are not UTF-8.
fn text(bytes: &[u8], name: &str) -> Option<String> {
    match text_from_bytes(Path::new(name), bytes.to_vec()) {
        Ok(t) => Some(t),
        Err(e) => {
            assert_located(&e);
            None
        }
    }
}

/// Plants that loaded and ran, and the events they ran (so that a test can show the property
/// tests are not vacuous: many mutated plants load and run).
pub static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Events run by [`run_bounded`] in all.
pub static EVENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Builds the twin and runs it for [`EVENT_BUDGET`] events, then reads its KPIs and its state.
pub fn run_bounded(plant: PlantModel) {
    let seed = plant.run.seed;
    let mut twin = build_twin(Arc::new(Compiled::new(plant)), seed);
    twin.run_events(EVENT_BUDGET);
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    EVENTS.fetch_add(twin.kernel().events_run(), std::sync::atomic::Ordering::Relaxed);
    let _ = twinworks_twins::kpi::collect(&mut twin, 0, seed);
    let _ = twin.state();
}

/// A plant file.
pub fn plant_file(bytes: &[u8]) {
    let Some(t) = text(bytes, "fuzz_plant.toml") else {
        return;
    };
    match twinworks_twins::prelude::parse_plant(&t, Path::new("fuzz_plant.toml")) {
        Ok(plant) => run_bounded(plant),
        Err(e) => assert_located(&e),
    }
}

/// A study file, read beside the samples (its `plant` names one of them); every variant that
/// loads is run.
pub fn study_file(bytes: &[u8]) {
    let Some(t) = text(bytes, "fuzz_study.toml") else {
        return;
    };
    match twinworks_scenarios::study_file::parse_study(&t, &samples().join("fuzz_study.toml")) {
        Ok(study) => {
            for v in study.variants {
                run_bounded(v.plant);
            }
        }
        Err(e) => assert_located(&e),
    }
}

/// A tag map, against the machining cell and against no plant.
pub fn tag_map(bytes: &[u8]) {
    let Some(t) = text(bytes, "fuzz_tags.toml") else { return };
    for plant in [Some(cell()), None] {
        if let Err(e) = twinworks_adapters::tagmap::parse_tag_map(&t, Path::new("fuzz_tags.toml"), plant) {
            assert_located(&e);
        }
    }
}

/// An orders CSV, against the machining cell's products and calendar start.
pub fn orders_csv(bytes: &[u8]) {
    let Some(t) = text(bytes, "fuzz_orders.csv") else {
        return;
    };
    let plant = cell();
    let products: Vec<String> = plant.products.iter().map(|p| p.name.clone()).collect();
    if let Err(e) =
        twinworks_twins::orders_csv::parse_orders_csv(&t, Path::new("fuzz_orders.csv"), &products, plant.start.as_ref())
    {
        assert_located(&e);
    }
}

/// A schedule JSON, against the machining cell.
pub fn schedule_json(bytes: &[u8]) {
    let Some(t) = text(bytes, "fuzz_schedule.json") else {
        return;
    };
    if let Err(e) = twinworks_aps::plant_plan::read_plant_schedule(&t, Path::new("fuzz_schedule.json"), cell()) {
        assert_located(&e);
    }
}

/// A parse error names a line of the text (when it names one at all).
fn assert_instance_error(e: &ParseError, text: &str) {
    let lines = text.lines().count().max(1);
    let line = match e {
        ParseError::Unexpected { line, .. }
        | ParseError::EndOfLine { line, .. }
        | ParseError::MachineOutOfRange { line, .. }
        | ParseError::Trailing { line, .. }
        | ParseError::ExtraLine { line, .. } => Some(*line),
        _ => None,
    };
    if let Some(l) = line {
        assert!((1..=lines).contains(&l), "line {l} of a {lines}-line text: {e}");
    }
    assert!(!e.to_string().is_empty());
}

/// A loaded instance is scheduled by one dispatching pass, and the independent checker
/// accepts the result (a refusal such as a too-long plan is fine; an infeasible one is not).
fn schedule_instance(p: &Problem) {
    if let Ok(s) = construct(p, Rule::Mwkr, Objective::Makespan) {
        assert!(check(p, &s).is_ok(), "the dispatched schedule is infeasible");
    }
}

/// A job-shop instance (Taillard / OR-Library layout).
pub fn jssp(bytes: &[u8]) {
    let Ok(t) = std::str::from_utf8(bytes) else { return };
    match twinworks_aps::parse_jssp(t) {
        Ok(p) => schedule_instance(&p),
        Err(e) => assert_instance_error(&e, t),
    }
}

/// A flexible job-shop instance (Brandimarte layout).
pub fn fjsp(bytes: &[u8]) {
    let Ok(t) = std::str::from_utf8(bytes) else { return };
    match twinworks_aps::parse_fjsp(t) {
        Ok(p) => schedule_instance(&p),
        Err(e) => assert_instance_error(&e, t),
    }
}
