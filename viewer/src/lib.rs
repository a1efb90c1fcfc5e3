//! # twinworks-viewer: the plant and its twin on a screen
//!
//! A desktop viewer (egui on wgpu) that makes a running twin legible at a glance: station tiles
//! coloured by state and buffer fill bars ([`plant_panel`]), a Gantt chart of operations, setups
//! and breakdowns ([`gantt_panel`]), KPI trends and the KPI table ([`kpi_panel`]), alarms
//! ([`alarms_panel`]) and run control for simulations ([`control_panel`]).
//!
//! ## Where the data comes from
//!
//! The viewer draws [`PlantSnapshot`]s: plain data taken from a world between run calls. It never
//! holds a world while it draws. Three sources ([`ViewerSource`]):
//!
//! - [`ViewerSource::Simulate`]: the viewer runs the twin on its own thread ([`sim_thread`]),
//!   paced from real time to as fast as possible, and sends a snapshot plus the trace rows that
//!   ended since the previous one (kept in memory by the twin, see
//!   [`TraceWriter::in_memory`](twinworks_twins::trace::TraceWriter::in_memory)) over a channel;
//! - [`ViewerSource::Schedule`]: a plant and an APS schedule in the documented JSON format
//!   (`solvers/aps/schedule.schema.json`), drawn as a still Gantt chart;
//! - [`ViewerSource::External`]: snapshots from anywhere else, over a
//!   [`std::sync::mpsc::Receiver`]. This is the entry point of the live mode: the `twin` CLI
//!   connects the adapters' live mirror to it (this crate does not depend on the adapters). The
//!   Gantt chart of an external source is built from the state changes between snapshots.
//!
//! ```no_run
//! use std::sync::mpsc;
//! use twinworks_viewer::{ViewerOptions, ViewerSource, run_window};
//! let plant = twinworks_twins::plant_file::load_plant("scenarios/samples/flowline.toml".as_ref()).unwrap();
//! let (tx, rx) = mpsc::channel();
//! std::thread::spawn(move || {
//!     // ... send twinworks_twins::snapshot::PlantSnapshot values on `tx` as they arrive
//!     drop(tx);
//! });
//! run_window(ViewerSource::External { plant, rx }, ViewerOptions::default()).unwrap();
//! ```
//!
//! [`run_window`] opens the window; [`render_png`] renders the first stable frame off screen
//! (wgpu, no window or display needed: a CPU Vulkan driver such as Mesa's lavapipe suffices)
//! and writes it as a PNG. [`ViewerApp`] is the app itself, usable in an `egui_kittest` harness.
//!
//! ## Bounded memory
//!
//! However long a run, the Gantt chart keeps the latest [`gantt::DEFAULT_BAR_CAPACITY`] bars,
//! KPI trends halve their resolution when full ([`trend::Trend`]), and the alarm log keeps the
//! latest [`view_state::ALARM_CAPACITY`] alarms.
//!
//! ## What this crate must not depend on
//! The adapters (protocol crates, async runtimes): live data arrives as snapshots over a channel.
//! Simulation code (the `twins` and `engine` crates) knows nothing of the viewer; real-time
//! pacing lives in [`sim_thread`], never in the simulation.

pub mod alarms_panel;
pub mod app;
pub mod control_panel;
pub mod gantt;
pub mod gantt_panel;
pub mod kpi_panel;
pub mod layout;
pub mod plant_panel;
pub mod sim_thread;
pub mod trend;
pub mod view_state;

use std::path::Path;
use std::sync::mpsc::Receiver;

pub use app::ViewerApp;
use twinworks_aps::plant_plan::PlantSchedule;
use twinworks_twins::PlantModel;
pub use twinworks_twins::snapshot::PlantSnapshot;

/// What the viewer shows.
pub enum ViewerSource {
    /// Simulate the plant on a thread of the viewer.
    Simulate {
        /// The plant.
        plant: PlantModel,
        /// Seed of the first run (restart picks another).
        seed: u64,
        /// Run to this time [s] first and pause there (`None`: start paused at time 0).
        until_s: Option<f64>,
    },
    /// Show a schedule of the plant's orders.
    Schedule {
        /// The plant.
        plant: PlantModel,
        /// The schedule, as read from its JSON (boxed: it is large next to the other sources).
        schedule: Box<PlantSchedule>,
    },
    /// Snapshots sent by someone else (the live mirror).
    External {
        /// The plant the snapshots describe (stations and buffers in the same order).
        plant: PlantModel,
        /// Snapshots, in time order.
        rx: Receiver<PlantSnapshot>,
    },
}

/// Window and rendering options.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
    /// Window (or image) size [logical points].
    pub size: [f32; 2],
    /// Bars the Gantt chart keeps (the latest ones).
    pub bar_capacity: usize,
}

impl Default for ViewerOptions {
    fn default() -> Self {
        ViewerOptions {
            size: [1400.0, 860.0],
            bar_capacity: gantt::DEFAULT_BAR_CAPACITY,
        }
    }
}

/// Why the viewer could not show something.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewerError {
    /// The schedule names a station, order or product the plant does not have.
    #[error("schedule: {0}")]
    Schedule(String),
    /// The window could not be opened (no display, no graphics driver).
    #[error("cannot open the window: {0}")]
    Window(String),
    /// Off-screen rendering failed (no wgpu adapter).
    #[error("cannot render: {0}")]
    Render(String),
    /// The PNG could not be written.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Opens the viewer window and returns when it is closed.
pub fn run_window(source: ViewerSource, options: ViewerOptions) -> Result<(), ViewerError> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Twinworks viewer")
            .with_inner_size(options.size),
        ..Default::default()
    };
    let mut app = Some(ViewerApp::new(source, &options)?);
    eframe::run_native(
        "Twinworks viewer",
        native,
        Box::new(move |cc| {
            let mut app = app.take().expect("the app is created once");
            let ctx = cc.egui_ctx.clone();
            app.set_waker(move || ctx.request_repaint());
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| ViewerError::Window(e.to_string()))
}

/// Renders the first stable frame of `source` off screen and writes it to `path` as a PNG.
///
/// A simulation first runs to its `until_s` (the plant's horizon when that is `None`) and
/// pauses; the frame is stable once that snapshot arrived and nothing is animating.
pub fn render_png(source: ViewerSource, options: &ViewerOptions, path: &Path) -> Result<(), ViewerError> {
    let source = match source {
        ViewerSource::Simulate {
            plant,
            seed,
            until_s: None,
        } => {
            let until_s = match plant.run.horizon {
                twinworks_twins::plant::Horizon::Time(t) => t.secs(),
                twinworks_twins::plant::Horizon::Parts(_) => 8.0 * 3600.0,
            };
            ViewerSource::Simulate {
                plant,
                seed,
                until_s: Some(until_s),
            }
        }
        other => other,
    };
    let app = ViewerApp::new(source, options)?;
    let image = app::render_stable_frame(app, options.size)?;
    image.save(path).map_err(|e| ViewerError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
