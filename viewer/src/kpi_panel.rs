//! KPIs: trends over simulated (or live) time of throughput, WIP, OEE and energy; utilization
//! by state of the selected station over time (or of every station now, when none is
//! selected); the KPI table of the run so far and, on request, means with 95% confidence
//! intervals over the plant's replications (run on a background thread).

use std::sync::mpsc;

use egui::{Color32, Ui};
use egui_plot::{Legend, Line, Plot};
use twinworks_twins::runner::{RunOptions, run_replications};
use twinworks_twins::sim::StationState;

use crate::control_panel::fmt_time;
use crate::plant_panel::state_color;
use crate::trend::Trend;
use crate::view_state::{Replications, ViewState};

/// Above this many stations the "all stations" utilization chart is left out (one row each).
const MAX_STATIONS_CHART: usize = 60;

/// Draws the panel.
pub fn show(ui: &mut Ui, state: &mut ViewState) {
    if state.schedule.is_some() {
        schedule_summary(ui, state);
        return;
    }
    poll_replications(state);
    egui::ScrollArea::vertical()
        .id_salt("kpis")
        .auto_shrink(false)
        .show(ui, |ui| {
            egui::CollapsingHeader::new("Trends").default_open(true).show(ui, |ui| {
                let t = &state.trends;
                trend_plot(
                    ui,
                    "throughput",
                    "throughput [parts/h, since start]",
                    &t.throughput,
                    Color32::LIGHT_GREEN,
                );
                trend_plot(ui, "wip", "WIP [parts]", &t.wip, Color32::LIGHT_BLUE);
                trend_plot(ui, "oee", "OEE [mean of stations]", &t.oee, Color32::GOLD);
                trend_plot(ui, "energy", "energy [kWh]", &t.energy_kwh, Color32::LIGHT_RED);
            });
            egui::CollapsingHeader::new("Utilization by state")
                .default_open(true)
                .show(ui, |ui| {
                    utilization(ui, state);
                });
            egui::CollapsingHeader::new("KPI table")
                .default_open(true)
                .show(ui, |ui| {
                    kpi_table(ui, state);
                });
        });
}

fn trend_plot(ui: &mut Ui, id: &str, title: &str, trend: &Trend, color: Color32) {
    let last = trend
        .last()
        .map(|p| format!("{:.2}", p[1]))
        .unwrap_or_else(|| "–".into());
    ui.label(format!("{title}: {last}"));
    Plot::new(id)
        .height(70.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_axes([false, true])
        .y_axis_min_width(36.0)
        .x_axis_formatter(|m, _| fmt_time(m.value))
        .show(ui, |p| {
            p.line(Line::new(title.to_string(), trend.points().to_vec()).color(color));
        });
}

fn utilization(ui: &mut Ui, state: &ViewState) {
    if let Some(s) = state.selected {
        let name = &state.plant.stations[s].name;
        ui.label(format!("{name}: share of time by state"));
        let tr = &state.trends.stations[s];
        Plot::new("util_station")
            .height(120.0)
            .include_y(0.0)
            .include_y(1.0)
            .legend(Legend::default())
            .x_axis_formatter(|m, _| fmt_time(m.value))
            .show(ui, |p| {
                for (st, trend) in StationState::ALL.into_iter().zip(tr) {
                    if trend.points().iter().any(|q| q[1] > 0.0) {
                        p.line(Line::new(st.as_str(), trend.points().to_vec()).color(state_color(st)));
                    }
                }
            });
        return;
    }
    let stations = &state.snapshot.stations;
    if stations.len() > MAX_STATIONS_CHART {
        ui.weak(format!(
            "{} stations: select one to see its shares over time",
            stations.len()
        ));
        return;
    }
    ui.label("share of time by state (select a station for its trend)");
    ui.horizontal_wrapped(|ui| {
        for st in StationState::ALL {
            ui.colored_label(state_color(st), st.as_str());
        }
    });
    for s in stations {
        ui.horizontal(|ui| {
            ui.add_sized(
                [80.0, 14.0],
                egui::Label::new(egui::RichText::new(&s.name).small()).truncate(),
            );
            let width = ui.available_width().max(40.0);
            let (rect, resp) = ui.allocate_exact_size(egui::vec2(width, 12.0), egui::Sense::hover());
            let painter = ui.painter();
            let mut x = rect.left();
            for (share, st) in s.shares.iter().zip(StationState::ALL) {
                let w = (*share as f32).clamp(0.0, 1.0) * rect.width();
                if w > 0.0 {
                    let seg = egui::Rect::from_min_size(egui::pos2(x, rect.top()), egui::vec2(w, rect.height()));
                    painter.rect_filled(seg, 0.0, state_color(st));
                    x += w;
                }
            }
            resp.on_hover_text(
                StationState::ALL
                    .iter()
                    .zip(s.shares)
                    .map(|(st, x)| format!("{} {:.1}%", st.as_str(), 100.0 * x))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        });
    }
}

/// A schedule has no trends: its objective and the planned load of each station instead.
fn schedule_summary(ui: &mut Ui, state: &ViewState) {
    let Some(info) = &state.schedule else { return };
    ui.strong("Schedule");
    egui::Grid::new("schedule").striped(true).num_columns(2).show(ui, |ui| {
        ui.label("objective");
        ui.monospace(&info.objective);
        ui.end_row();
        ui.label("value / lower bound");
        ui.monospace(format!("{} / {}", info.value, info.lower_bound));
        ui.end_row();
        ui.label("operations");
        ui.monospace(info.operations.to_string());
        ui.end_row();
    });
    ui.separator();
    ui.label("planned load (operations and setups over the schedule's span)");
    let (from, to) = state.bars.span().unwrap_or((0.0, 0.0));
    let span = (to - from).max(1.0);
    egui::Grid::new("load").striped(true).num_columns(2).show(ui, |ui| {
        for (i, st) in state.plant.stations.iter().enumerate() {
            let busy: f64 = state.bars.rows()[i].iter().map(|b| b.end_s - b.start_s).sum();
            ui.label(&st.name);
            ui.monospace(format!("{:.1}%", 100.0 * busy / (span * f64::from(st.capacity.max(1)))));
            ui.end_row();
        }
    });
}

fn kpi_table(ui: &mut Ui, state: &mut ViewState) {
    let k = &state.snapshot.kpis;
    egui::Grid::new("kpis").striped(true).num_columns(2).show(ui, |ui| {
        let mut row = |name: &str, value: String| {
            ui.label(name);
            ui.monospace(value);
            ui.end_row();
        };
        row("throughput [1/h]", format!("{:.2}", k.plant.throughput_per_h));
        row("parts out", k.plant.parts_out.to_string());
        row("WIP now", state.snapshot.wip_now.to_string());
        row("WIP mean", format!("{:.2}", k.plant.wip_mean));
        row("lead time mean", fmt_time(k.plant.lead_time_mean_s));
        row("energy [kWh]", format!("{:.1}", k.plant.energy_kwh));
        if let Some(o) = &k.orders {
            row(
                "orders done / on time",
                format!("{} / {} of {}", o.completed, o.on_time, o.orders),
            );
        }
        if let Some(s) = state.selected.and_then(|s| k.stations.get(s)) {
            row(&format!("{} OEE", s.name), format!("{:.3}", s.oee));
            row(&format!("{} busy", s.name), format!("{:.3}", s.utilization.busy));
        }
    });
    ui.separator();
    let reps = state.plant.run.replications.max(2);
    match &state.replications {
        Replications::None => {
            if state.status.is_some() && ui.button(format!("Run {reps} replications")).clicked() {
                start_replications(state, reps);
            }
        }
        Replications::Running(_) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("running {reps} replications…"));
            });
        }
        Replications::Failed(e) => {
            ui.colored_label(Color32::LIGHT_RED, e);
        }
        Replications::Done(n, stats) => {
            ui.label(format!("over {n} replications (mean ± 95% CI half-width)"));
            let sel = state
                .selected
                .map(|s| format!("stations.{}.", state.plant.stations[s].name));
            egui::Grid::new("reps").striped(true).num_columns(2).show(ui, |ui| {
                for s in stats.iter().filter(|s| {
                    s.kpi.starts_with("plant.")
                        || s.kpi.starts_with("orders.")
                        || sel.as_deref().is_some_and(|p| s.kpi.starts_with(p))
                }) {
                    ui.label(&s.kpi);
                    ui.monospace(format!("{:.3} ± {:.3}", s.mean, s.ci95));
                    ui.end_row();
                }
            });
        }
    }
}

fn start_replications(state: &mut ViewState, reps: u32) {
    let plant = state.plant.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut opts = RunOptions::from_plant(&plant);
        opts.settings.replications = reps;
        let res = run_replications(&plant, &opts, &|_, _| {})
            .map(|r| (reps, twinworks_twins::kpi::summarize(&r)))
            .map_err(|e| e.to_string());
        let _ = tx.send(res);
    });
    state.replications = Replications::Running(rx);
}

fn poll_replications(state: &mut ViewState) {
    if let Replications::Running(rx) = &state.replications {
        match rx.try_recv() {
            Ok(Ok((n, s))) => state.replications = Replications::Done(n, s),
            Ok(Err(e)) => state.replications = Replications::Failed(e),
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => {
                state.replications = Replications::Failed("the replications thread ended".into())
            }
        }
    }
}
