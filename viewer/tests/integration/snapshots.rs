//! Rendered frames compared with PNGs committed under tests/snapshots (wgpu; lavapipe on CI).
//! Update them with `UPDATE_SNAPSHOTS=1 cargo test -p twinworks-viewer`.

use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use twinworks_aps::plant_plan::PlantSchedule;
use twinworks_viewer::{ViewerApp, ViewerOptions, ViewerSource};

use crate::{SIZE, plant, wait_until};

/// Lavapipe's anti-aliasing and glyph edges vary slightly between Mesa versions: a slightly
/// more tolerant colour distance than egui's 0.6 and a few hundred differing pixels (of 1.2
/// million) pass; a moved tile, a changed colour or a missing row of bars does not.
fn options() -> SnapshotOptions {
    SnapshotOptions::new().threshold(1.0).max_failed_pixels(300)
}

fn wgpu_harness(source: ViewerSource) -> Harness<'static, ViewerApp> {
    let app = ViewerApp::new(source, &ViewerOptions::default()).expect("app");
    Harness::builder()
        .with_size(egui::vec2(SIZE[0], SIZE[1]))
        .wgpu()
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app)
}

#[test]
fn machining_cell_after_one_shift_with_the_lathe_selected() {
    let mut h = wgpu_harness(ViewerSource::Simulate {
        plant: plant("machining_cell.toml"),
        seed: 2026,
        until_s: Some(8.0 * 3600.0),
    });
    wait_until(&mut h, "run to 8 h", |a| {
        a.is_settled() && a.state.snapshot.time_s == 28_800.0
    });
    h.get_by_label_contains("station Lathe_1: ").click();
    h.run_steps(4);
    h.remove_cursor();
    h.run_steps(1);
    h.snapshot_options("machining_cell_8h_lathe_selected", &options());
}

#[test]
fn machining_cell_schedule() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/machining_cell_schedule.json"
    ))
    .expect("schedule fixture");
    let schedule: PlantSchedule = serde_json::from_str(&text).expect("schedule JSON");
    let mut h = wgpu_harness(ViewerSource::Schedule {
        plant: plant("machining_cell.toml"),
        schedule: Box::new(schedule),
    });
    h.run_steps(4);
    h.snapshot_options("machining_cell_schedule", &options());
}
