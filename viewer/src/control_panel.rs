//! The top bar: run control of a simulation (play, pause, single step, speed, restart with
//! another seed) and the run's status.

use egui::{RichText, Ui};

use crate::sim_thread::{Control, Pace};
use crate::view_state::ViewState;

/// The control bar's own settings (what the widgets edit before they are sent).
#[derive(Clone, Debug)]
pub struct ControlSettings {
    /// Simulated seconds per wall-clock second.
    pub factor: f64,
    /// As fast as possible instead.
    pub max: bool,
    /// Seed for the next restart.
    pub seed: u64,
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            factor: 60.0,
            max: false,
            seed: 1,
        }
    }
}

/// Formats simulated time as `[Nd ]hh:mm:ss`.
pub fn fmt_time(s: f64) -> String {
    let total = s.max(0.0).round() as u64;
    let (d, r) = (total / 86_400, total % 86_400);
    let (h, m, sec) = (r / 3600, r % 3600 / 60, r % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

/// Draws the bar; returns the requests to send to the simulation thread.
pub fn show(ui: &mut Ui, state: &ViewState, settings: &mut ControlSettings) -> Vec<Control> {
    let mut out = Vec::new();
    ui.horizontal(|ui| {
        ui.label(RichText::new(&state.plant.name).strong());
        ui.separator();
        let snap = &state.snapshot;
        ui.label(format!("t = {}", fmt_time(snap.time_s)));
        ui.label(format!("{} events", snap.events));
        ui.separator();
        let Some(status) = state.status else {
            match &state.schedule {
                Some(s) => ui.label(format!(
                    "schedule: {} operations, {} = {} (bound {})",
                    s.operations, s.objective, s.value, s.lower_bound
                )),
                None => ui.label(format!("live: {} snapshots", state.updates)),
            };
            return;
        };
        if status.playing {
            if ui.button("Pause").clicked() {
                out.push(Control::Pause);
            }
        } else if ui.add_enabled(!status.finished, egui::Button::new("Play")).clicked() {
            out.push(Control::Play);
        }
        if ui.add_enabled(!status.finished, egui::Button::new("Step")).clicked() {
            out.push(Control::Step);
        }
        ui.separator();
        let mut changed = ui.checkbox(&mut settings.max, "as fast as possible").changed();
        ui.add_enabled_ui(!settings.max, |ui| {
            changed |= ui
                .add(
                    egui::Slider::new(&mut settings.factor, 1.0..=1e5)
                        .logarithmic(true)
                        .text("× real time"),
                )
                .changed();
        });
        if changed {
            out.push(Control::SetPace(if settings.max {
                Pace::Max
            } else {
                Pace::Factor(settings.factor)
            }));
        }
        ui.separator();
        let label = ui.label("seed");
        ui.add(egui::DragValue::new(&mut settings.seed)).labelled_by(label.id);
        if ui.button("Restart").clicked() {
            out.push(Control::Restart { seed: settings.seed });
        }
        ui.separator();
        let what = if status.finished {
            "finished"
        } else if status.playing {
            "running"
        } else {
            "paused"
        };
        ui.label(format!("status: {what}"));
        ui.weak(format!("seed {}", status.seed));
    });
    out
}

#[cfg(test)]
mod tests {
    use super::fmt_time;

    #[test]
    fn times_read_as_days_and_clock() {
        assert_eq!(fmt_time(0.0), "00:00:00");
        assert_eq!(fmt_time(3725.0), "01:02:05");
        assert_eq!(fmt_time(2.0 * 86_400.0 + 61.0), "2d 00:01:01");
    }
}
