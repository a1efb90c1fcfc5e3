//! The deterministic look-ahead (`lookahead.rs`): a fork of a running twin with mean times
//! under one rule gives each station its next operations; the same present gives the same
//! lists, the running twin is not touched, and a held-down station's work waits for its
//! expected repair.

use std::path::Path;
use std::sync::Arc;

use twinworks_engine::SimTime;
use twinworks_twins::lookahead::LookAhead;
use twinworks_twins::prelude::*;
use twinworks_twins::rules::Rule;
use twinworks_twins::sim::Command;
use twinworks_twins::state::Restorable;

fn sample(name: &str) -> PlantModel {
    load_plant(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/samples")
            .join(name),
    )
    .expect("sample loads")
}

#[test]
fn lists_are_deterministic_and_leave_the_twin_alone() {
    let plant = sample("job_shop.toml");
    let look = LookAhead::new(&plant, &plant, Rule::Atcs { k1: 2.0, k2: 0.5 });
    let mut twin = build_twin(Arc::new(Compiled::new(plant.clone())), 7);
    twin.run_until(SimTime::from_secs(2.0 * 86_400.0));
    let before = serde_json::to_string(&twin.state()).unwrap();
    let a = look.lists(&mut twin, &[], 4, 7.0 * 86_400.0).unwrap();
    let b = look.lists(&mut twin, &[], 4, 7.0 * 86_400.0).unwrap();
    assert_eq!(a, b, "the same present gives the same lists");
    assert_eq!(
        serde_json::to_string(&twin.state()).unwrap(),
        before,
        "the running twin is untouched"
    );
    assert_eq!(a.len(), plant.stations.len());
    let now = twin.now().secs();
    let mut in_progress = 0;
    for l in &a {
        assert!(l.operations.len() <= 4);
        for w in l.operations.windows(2) {
            assert!(w[0].start_s <= w[1].start_s, "{}: in order of start", l.station);
        }
        for op in &l.operations {
            assert!(op.end_s >= op.start_s);
            assert_eq!(op.in_progress, op.start_s < now);
            in_progress += usize::from(op.in_progress);
            assert!(op.order.is_some(), "the job shop's parts all have orders");
        }
    }
    assert!(in_progress > 0, "something is being worked on after two days");
    // The twin runs on as if nothing happened: the same as an untouched copy.
    let mut copy = Twin::restore(
        twin.model.cfg.clone(),
        &twin.state(),
        twinworks_twins::state::Streams::Continue,
    )
    .unwrap();
    twin.run_until(SimTime::from_secs(3.0 * 86_400.0));
    copy.run_until(SimTime::from_secs(3.0 * 86_400.0));
    assert_eq!(
        serde_json::to_string(&twin.state()).unwrap(),
        serde_json::to_string(&copy.state()).unwrap()
    );
}

#[test]
fn a_held_station_waits_for_its_expected_repair() {
    let plant = sample("job_shop.toml");
    let look = LookAhead::new(&plant, &plant, Rule::Edd);
    let mut twin = build_twin(Arc::new(Compiled::new(plant.clone())), 3);
    twin.run_until(SimTime::from_secs(86_400.0));
    let s = plant.station_id("M10").unwrap();
    twin.model.commands.push(Command::SetDown {
        station: s as u32,
        down: true,
    });
    twin.run_until(SimTime::from_secs(86_400.0 + 1.0));
    let since = twin.now().secs();
    let mttr = plant.stations[s].failures.as_ref().unwrap().repair.mean();
    let lists = look.lists(&mut twin, &[(s, since)], 3, 7.0 * 86_400.0).unwrap();
    for op in &lists[s].operations {
        if !op.in_progress {
            assert!(
                op.start_s >= since + mttr - 1e-6,
                "M10 starts nothing new before its expected repair: {op:?}"
            );
        } else {
            assert!(
                op.end_s >= since + mttr - 1e-6,
                "its operation in progress ends after the repair"
            );
        }
    }
}
