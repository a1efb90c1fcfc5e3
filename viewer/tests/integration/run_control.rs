//! Play, pause, single step and restart, clicked through the accessibility tree.

use std::time::Duration;

use egui_kittest::kittest::Queryable;
use twinworks_viewer::ViewerSource;

use crate::{harness, plant, wait_until};

#[test]
fn play_pause_step_and_restart_drive_the_simulation() {
    let mut h = harness(ViewerSource::Simulate {
        plant: plant("machining_cell.toml"),
        seed: 7,
        until_s: None,
    });
    wait_until(&mut h, "first update", |a| a.state.status.is_some());
    h.get_by_label("status: paused");
    assert_eq!(
        h.state().state.snapshot.events,
        0,
        "a simulation starts paused at time 0"
    );

    // Single step: exactly one event, still paused.
    h.get_by_label("Step").click();
    wait_until(&mut h, "one event", |a| a.state.snapshot.events >= 1);
    h.step();
    assert_eq!(h.state().state.snapshot.events, 1);
    h.get_by_label("status: paused");
    h.get_by_label("Step").click();
    wait_until(&mut h, "second event", |a| a.state.snapshot.events >= 2);
    assert_eq!(h.state().state.snapshot.events, 2);

    // Play (at the default 60× real time): time advances, the status says so.
    h.get_by_label("Play").click();
    wait_until(&mut h, "time advancing", |a| {
        a.state.status.is_some_and(|s| s.playing) && a.state.snapshot.time_s > 1.0
    });
    h.get_by_label("status: running");

    // Pause: time stops.
    h.get_by_label("Pause").click();
    wait_until(&mut h, "paused", |a| a.state.status.is_some_and(|s| !s.playing));
    h.get_by_label("status: paused");
    let t = h.state().state.snapshot.time_s;
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        h.step();
    }
    assert_eq!(h.state().state.snapshot.time_s, t, "no time passes while paused");

    // As fast as possible, to the horizon: the run finishes and Play is disabled.
    h.get_by_label("as fast as possible").click();
    h.get_by_label("Play").click();
    wait_until(&mut h, "finished", |a| a.state.status.is_some_and(|s| s.finished));
    h.get_by_label("status: finished");
    assert_eq!(h.state().state.snapshot.time_s, 5.0 * 86_400.0, "the horizon is 5 days");
    assert!(h.state().state.bars.len() > 1000, "the Gantt chart filled up");
    assert!(!h.state().state.alarms.is_empty(), "the cell breaks down in 5 days");

    // Restart with another seed: back to time 0, data of the old run forgotten.
    h.get_by_label("Restart").click();
    wait_until(&mut h, "restarted", |a| a.state.status.is_some_and(|s| s.run == 1));
    let s = &h.state().state;
    assert_eq!(s.snapshot.events, 0);
    assert_eq!(
        s.status.map(|s| s.seed),
        Some(8),
        "the seed field starts at the first seed + 1"
    );
    assert!(s.bars.is_empty() && s.alarms.is_empty());
    h.get_by_label("status: paused");
}
