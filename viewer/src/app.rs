//! The viewer app: the panels around a [`ViewState`], fed by a simulation thread, an external
//! snapshot channel, or nothing (a still schedule).

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use egui::Ui;
use twinworks_twins::snapshot::PlantSnapshot;

use crate::alarms_panel::{self, AlarmFilter};
use crate::control_panel::{self, ControlSettings};
use crate::gantt::{StateBars, bars_from_schedule};
use crate::sim_thread::{Control, SimHandle};
use crate::view_state::{ScheduleInfo, ViewState};
use crate::{ViewerError, ViewerOptions, ViewerSource, gantt_panel, kpi_panel, plant_panel};

/// Snapshots an external source sends before its picture counts as stable: the live mirror's
/// first snapshots show every tag stale until the drivers' first reads arrive (2 s at its 4
/// snapshots per second).
pub const EXTERNAL_SETTLED: u64 = 8;

/// Where updates come from.
enum Feed {
    Sim(SimHandle),
    External {
        rx: Receiver<PlantSnapshot>,
        bars: StateBars,
        closed: bool,
    },
    Still,
}

/// The desktop viewer: an [`eframe::App`], or a plain `show(ui)` for test harnesses.
pub struct ViewerApp {
    /// What the panels draw.
    pub state: ViewState,
    feed: Feed,
    controls: ControlSettings,
    alarm_filter: AlarmFilter,
    /// The simulation run whose data the state holds (restarts count up).
    run: u32,
}

impl ViewerApp {
    /// The app for `source`; a simulation starts on its own thread, paused.
    pub fn new(source: ViewerSource, options: &ViewerOptions) -> Result<ViewerApp, ViewerError> {
        let mut controls = ControlSettings::default();
        let (state, feed) = match source {
            ViewerSource::Simulate { plant, seed, until_s } => {
                controls.seed = seed.wrapping_add(1);
                let handle = SimHandle::spawn(plant.clone(), seed, until_s, options.bar_capacity);
                (ViewState::new(plant, options.bar_capacity), Feed::Sim(handle))
            }
            ViewerSource::Schedule { plant, schedule } => {
                let bars = bars_from_schedule(&plant, &schedule)?;
                let capacity = options.bar_capacity.max(bars.len());
                let mut state = ViewState::new(plant, capacity);
                state.bars.extend(bars);
                state.schedule = Some(ScheduleInfo {
                    objective: schedule.objective.clone(),
                    value: schedule.value,
                    lower_bound: schedule.lower_bound,
                    operations: schedule.operations.len(),
                });
                (state, Feed::Still)
            }
            ViewerSource::External { plant, rx } => (
                ViewState::new(plant, options.bar_capacity),
                Feed::External {
                    rx,
                    bars: StateBars::default(),
                    closed: false,
                },
            ),
        };
        Ok(ViewerApp {
            state,
            feed,
            controls,
            alarm_filter: AlarmFilter::default(),
            run: 0,
        })
    }

    /// Calls `wake` whenever the simulation thread sent an update (eframe: request a repaint).
    pub fn set_waker(&mut self, wake: impl Fn() + Send + 'static) {
        if let Feed::Sim(h) = &self.feed {
            h.set_waker(Box::new(wake));
        }
    }

    /// Sends a request to the simulation thread (no effect for other sources).
    pub fn send(&self, c: Control) {
        if let Feed::Sim(h) = &self.feed {
            h.send(c);
        }
    }

    /// Takes in every update that arrived; returns how many.
    pub fn poll(&mut self) -> usize {
        let mut n = 0;
        match &mut self.feed {
            Feed::Sim(h) => {
                while let Some(u) = h.try_recv() {
                    if u.status.run != self.run {
                        self.run = u.status.run;
                        self.state.reset();
                    }
                    self.state.status = Some(u.status);
                    self.state.push_samples(&u.samples);
                    self.state.apply_without_sample(u.snapshot, u.bars);
                    n += 1;
                }
            }
            Feed::External { rx, bars, closed } => loop {
                match rx.try_recv() {
                    Ok(s) => {
                        let b = bars.update(&self.state.plant, &s);
                        self.state.apply(s, b);
                        n += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        *closed = true;
                        break;
                    }
                }
            },
            Feed::Still => {}
        }
        n
    }

    /// Whether nothing more is on its way for now: a simulation is paused (or finished) and
    /// not running to a stop, an external source has sent [`EXTERNAL_SETTLED`] snapshots (or
    /// closed), a schedule always.
    pub fn is_settled(&self) -> bool {
        match &self.feed {
            Feed::Sim(_) => self.state.status.is_some_and(|s| !s.playing && s.run_to.is_none()),
            Feed::External { closed, .. } => *closed || self.state.updates >= EXTERNAL_SETTLED,
            Feed::Still => true,
        }
    }

    /// Draws the whole viewer into `ui`.
    pub fn show(&mut self, ui: &mut Ui) {
        self.poll();
        let requests = egui::Panel::top("controls")
            .show(ui, |ui| control_panel::show(ui, &self.state, &mut self.controls))
            .inner;
        for c in requests {
            self.send(c);
        }
        egui::Panel::right("side")
            .default_size(420.0)
            .resizable(true)
            .show(ui, |ui| {
                egui::Panel::bottom("alarms")
                    .default_size(230.0)
                    .resizable(true)
                    .show(ui, |ui| alarms_panel::show(ui, &self.state, &mut self.alarm_filter));
                egui::CentralPanel::default().show(ui, |ui| kpi_panel::show(ui, &mut self.state));
            });
        let gantt_h = (ui.available_height() * 0.48).max(160.0);
        egui::Panel::bottom("gantt")
            .default_size(gantt_h)
            .resizable(true)
            .show(ui, |ui| gantt_panel::show(ui, &mut self.state));
        egui::CentralPanel::default().show(ui, |ui| plant_panel::show(ui, &mut self.state));
        let busy = match &self.feed {
            Feed::Sim(_) => !self.is_settled(),
            Feed::External { closed, .. } => !*closed,
            Feed::Still => false,
        };
        if busy || matches!(self.state.replications, crate::view_state::Replications::Running(_)) {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
    }
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Renders the app off screen once it [settled](ViewerApp::is_settled) (at most two minutes).
pub fn render_stable_frame(app: ViewerApp, size: [f32; 2]) -> Result<image::RgbaImage, ViewerError> {
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(size[0], size[1]))
        .with_accessibility_check(false)
        .allow_missing_glyphs()
        .wgpu()
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    let deadline = Instant::now() + Duration::from_secs(120);
    harness.step();
    while !harness.state().is_settled() {
        if Instant::now() > deadline {
            return Err(ViewerError::Render("the source did not settle within 2 minutes".into()));
        }
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
    // A few more passes so that panel sizes and plot bounds settle.
    harness.run_steps(4);
    harness.render().map_err(ViewerError::Render)
}
