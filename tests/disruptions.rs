//! Injected events (`[[event]]`): an outage stops a station for exactly its duration, and a
//! shift change switches the station's calendar at the given time.

use std::path::Path;

use twinworks_engine::SimTime;
use twinworks_twins::plant::{Horizon, RunSettings, Warmup};
use twinworks_twins::prelude::*;

const LINE: &str = r#"
[[source]]
name = "Supply"
kind = "infinite"
product = "P"
[[station]]
name = "M"
process_time = "60s"
[[product]]
name = "P"
routing = [{ station = "M" }]
"#;

fn run(text: &str, hours: f64) -> twinworks_twins::kpi::RunReport {
    let plant = parse_plant(text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        settings: RunSettings {
            horizon: Horizon::Time(SimTime::from_hours(hours)),
            warmup: Warmup::None,
            replications: 1,
            seed: 1,
        },
        threads: Some(1),
        trace: None,
        trace_states: false,
        policy: None,
    };
    run_replications(&plant, &opts, &|_, _| {}).unwrap().remove(0)
}

#[test]
fn outage_stops_the_station_for_its_duration() {
    let base = run(LINE, 10.0);
    assert_eq!(base.plant.parts_out, 600);
    // 2 h outage from 1h00m30s: the operation under way is interrupted and resumes after.
    let r = run(
        &format!("{LINE}\n[[event]]\nat = \"3630s\"\nkind = \"outage\"\nstation = \"M\"\nduration = \"2h\"\n"),
        10.0,
    );
    assert_eq!(r.plant.parts_out, 480);
    assert!(
        (r.stations[0].utilization.down - 0.2).abs() < 1e-12,
        "{:?}",
        r.stations[0].utilization
    );
    // Overlapping outages extend each other rather than ending early.
    let two = format!(
        "{LINE}\n[[event]]\nat = \"1h\"\nkind = \"outage\"\nstation = \"M\"\nduration = \"2h\"\n[[event]]\nat = \"2h\"\nkind = \"outage\"\nstation = \"M\"\nduration = \"2h\"\n"
    );
    let r = run(&two, 10.0);
    assert!(
        (r.stations[0].utilization.down - 0.3).abs() < 1e-12,
        "{:?}",
        r.stations[0].utilization
    );
}

#[test]
fn shift_change_switches_the_calendar() {
    let text = format!(
        "{LINE}\n[[shift_calendar]]\nname = \"Day\"\nshifts = [{{ start = \"06:00\", end = \"14:00\" }}]\n[[event]]\nat = \"1d\"\nkind = \"shift_change\"\nstation = \"M\"\nshift = \"Day\"\n"
    );
    // Day 1 around the clock (24 h), day 2 only 06:00-14:00 (8 h).
    let r = run(&text, 48.0);
    assert_eq!(r.plant.parts_out, (24 + 8) * 60);
    assert!((r.stations[0].utilization.off_shift - 16.0 / 48.0).abs() < 1e-12);
}

#[test]
fn bad_events_are_located_errors() {
    let e = parse_plant(
        &format!("{LINE}\n[[event]]\nat = \"1h\"\nkind = \"outgae\"\nstation = \"N\"\n"),
        Path::new("t.toml"),
    )
    .unwrap_err();
    let s = e.short();
    assert!(
        s.contains("unknown event kind 'outgae'") && s.contains("did you mean 'outage'"),
        "{s}"
    );
    assert!(s.contains("unknown station 'N'"), "{s}");
}
