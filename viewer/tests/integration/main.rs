//! The viewer's integration tests, one binary (one link of egui and wgpu), one file per
//! behaviour. UI tests drive `ViewerApp` in an egui_kittest harness and find widgets through
//! the accessibility tree; snapshot tests render with wgpu (Mesa's lavapipe on CI).

mod external_source;
mod run_control;
mod selection;
mod snapshots;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use twinworks_twins::PlantModel;
use twinworks_viewer::{ViewerApp, ViewerOptions, ViewerSource};

/// Size of the harness window [points].
pub const SIZE: [f32; 2] = [1400.0, 860.0];

/// A sample file of the repository.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/samples")
        .join(name)
}

/// A sample plant.
pub fn plant(name: &str) -> PlantModel {
    twinworks_twins::plant_file::load_plant(&sample(name)).expect("sample plant loads")
}

/// A harness around the app of `source`.
pub fn harness(source: ViewerSource) -> Harness<'static, ViewerApp> {
    let app = ViewerApp::new(source, &ViewerOptions::default()).expect("app");
    Harness::builder()
        .with_size(egui::vec2(SIZE[0], SIZE[1]))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app)
}

/// Steps the harness until `done` holds (the simulation thread works meanwhile); panics after
/// 60 s.
pub fn wait_until(h: &mut Harness<'_, ViewerApp>, what: &str, done: impl Fn(&ViewerApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        h.step();
        if done(h.state()) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
