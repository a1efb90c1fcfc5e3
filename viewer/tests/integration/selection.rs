//! Clicking a station tile selects it everywhere: the tile says so, the Gantt chart highlights
//! its row, the alarm filter can narrow to it.

use egui::accesskit::Toggled;
use egui_kittest::kittest::{NodeT, Queryable};
use twinworks_viewer::ViewerSource;

use crate::{harness, plant, wait_until};

#[test]
fn a_clicked_station_is_highlighted_in_the_gantt_chart() {
    let mut h = harness(ViewerSource::Simulate {
        plant: plant("machining_cell.toml"),
        seed: 3,
        until_s: Some(8.0 * 3600.0),
    });
    wait_until(&mut h, "run to 8 h", |a| {
        a.is_settled() && a.state.snapshot.time_s == 28_800.0
    });
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("highlighted").is_none(),
        "nothing selected yet"
    );

    let tile = h.get_by_label_contains("station Grinder: ");
    // egui reports a selected widget as toggled.
    assert_eq!(tile.accesskit_node().toggled(), Some(Toggled::False));
    tile.click();
    h.run_steps(2);
    let idx = h.state().state.station_index("Grinder");
    assert_eq!(h.state().state.selected, idx);
    assert_eq!(
        h.get_by_label_contains("station Grinder: ").accesskit_node().toggled(),
        Some(Toggled::True)
    );
    h.get_by_label("Gantt: Grinder highlighted");

    // Clicking another tile moves the selection; clicking it again clears it.
    h.get_by_label_contains("station Saw: ").click();
    h.run_steps(2);
    h.get_by_label("Gantt: Saw highlighted");
    assert!(h.query_by_label("Gantt: Grinder highlighted").is_none());
    h.get_by_label_contains("station Saw: ").click();
    h.run_steps(2);
    assert_eq!(h.state().state.selected, None);
    assert!(h.query_by_label_contains("highlighted").is_none());
}
