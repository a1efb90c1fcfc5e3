//! An external source (what the live mirror uses): snapshots over a channel. Stale stations
//! show as stale, alarms appear newest first, the Gantt chart is built from state changes.

use std::sync::Arc;
use std::sync::mpsc;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use twinworks_engine::SimTime;
use twinworks_twins::sim::{Compiled, build_twin};
use twinworks_twins::snapshot::{Alarm, AlarmKind, take};
use twinworks_viewer::ViewerSource;

use crate::{harness, plant, wait_until};

#[test]
fn snapshots_from_a_channel_show_states_stale_tags_and_alarms() {
    let p = plant("flowline.toml");
    let mut twin = build_twin(Arc::new(Compiled::new(p.clone())), 5);
    let (tx, rx) = mpsc::channel();
    let mut h = harness(ViewerSource::External { plant: p, rx });

    let mut sent = 0;
    for t in [600.0, 1200.0, 1800.0] {
        twin.run_until(SimTime::from_secs(t));
        tx.send(take(&mut twin)).unwrap();
        sent += 1;
    }
    let mut last = take(&mut twin);
    last.stations[2].stale = true;
    last.alarms.push(Alarm {
        time_s: last.time_s,
        kind: AlarmKind::Stale,
        source: last.stations[2].name.clone(),
        message: format!("{} tag speed is stale", last.stations[2].name),
    });
    last.alarms.push(Alarm {
        time_s: last.time_s,
        kind: AlarmKind::SetpointRejected,
        source: "M1.speed".into(),
        message: "setpoint M1.speed = 9 rejected: above the limit 2".into(),
    });
    tx.send(last).unwrap();
    sent += 1;
    wait_until(&mut h, "all snapshots", |a| a.state.updates == sent);
    h.run_steps(2);

    h.get_by_label("station M3: stale");
    h.get_by_label("M3 tag speed is stale");
    h.get_by_label("setpoint M1.speed = 9 rejected: above the limit 2");
    let a = &h.state().state;
    assert_eq!(a.snapshot.time_s, 1800.0);
    assert!(!a.bars.is_empty(), "busy intervals between snapshots become bars");
    assert_eq!(a.trends.wip.points().len(), sent as usize);

    // The filter hides a kind.
    h.get_by_role_and_label(Role::CheckBox, "setpoint rejected").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("setpoint M1.speed = 9 rejected: above the limit 2")
            .is_none()
    );
    h.get_by_label("M3 tag speed is stale");

    // A closed channel is the end of the source, not an error.
    drop(tx);
    h.run_steps(2);
    assert!(h.state().is_settled());
}
