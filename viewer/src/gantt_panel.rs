//! The Gantt chart (egui_plot): one row per station, split into its servers; one bar per
//! operation coloured by order (or product when the part has no order), setups amber,
//! breakdowns red, off-shift grey; due dates as diamonds on a row of their own. Zoom with the
//! wheel (ctrl or the plot's box zoom), pan by dragging, double-click to see everything again.
//! Hovering a bar shows its part, order, product, start and end; clicking a row selects that
//! station in every panel, and the selected station's row is highlighted.
//!
//! The bars are painted by a plot item of our own ([`GanttItem`]) that reads the bars where
//! they are stored: only the bars inside the visible time window are visited (binary search
//! per row), and neighbouring bars of one colour closer than a pixel are painted as one
//! rectangle, so a frame costs about what is visible, not what is stored.

use std::ops::RangeInclusive;

use egui::epaint::RectShape;
use egui::{Color32, CornerRadius, Rect, Shape, Stroke, StrokeKind, Ui};
use egui_plot::{
    GridInput, GridMark, MarkerShape, Plot, PlotBounds, PlotGeometry, PlotItem, PlotItemBase, PlotPoint, PlotTransform,
    Points,
};
use twinworks_twins::PlantModel;
use twinworks_twins::sim::StationState;

use crate::control_panel::fmt_time;
use crate::gantt::{Bar, BarKind, GanttBars};
use crate::plant_panel::state_color;
use crate::view_state::ViewState;

/// Height of a station row's bars (rows are 1 apart).
const ROW: f64 = 0.8;
/// The y of the due-date row (station rows are at 0, -1, -2, ...).
const DUE_ROW: f64 = 1.0;

/// A colour per index, spread around the hue circle (golden ratio steps).
pub fn palette(i: u32) -> Color32 {
    let h = (i as f32 * 0.618_034).fract();
    egui::ecolor::Hsva::new(h, 0.55, 0.80, 1.0).into()
}

/// The fill of a bar.
pub fn bar_color(b: &Bar) -> Color32 {
    match b.kind {
        BarKind::Operation => match (b.order, b.product) {
            (Some(o), _) => palette(o),
            (None, Some(p)) => palette(p + 7919),
            (None, None) => state_color(StationState::Busy),
        },
        BarKind::Setup => state_color(StationState::Setup),
        BarKind::Down => state_color(StationState::Down),
        BarKind::OffShift => Color32::from_rgba_unmultiplied(90, 90, 100, 150),
    }
}

/// y range of server `k` of `servers` in the row of station `row`.
fn server_span(row: usize, k: u32, servers: u32) -> (f64, f64) {
    let h = ROW / servers.max(1) as f64;
    let top = -(row as f64) + ROW / 2.0 - h * k as f64;
    (top - h, top)
}

/// The station row and server at plot height `y`.
fn row_at(y: f64, capacities: &[u32]) -> Option<(usize, u32)> {
    let r = (-y).round();
    if r < 0.0 || r as usize >= capacities.len() {
        return None;
    }
    let row = r as usize;
    let from_top = -(row as f64) + ROW / 2.0 - y;
    if !(0.0..=ROW).contains(&from_top) {
        return Some((row, u32::MAX));
    }
    let c = capacities[row].max(1);
    Some((row, ((from_top / (ROW / c as f64)) as u32).min(c - 1)))
}

/// The plot item that paints the bars.
pub struct GanttItem<'a> {
    base: PlotItemBase,
    bars: &'a GanttBars,
    capacities: &'a [u32],
    selected: Option<usize>,
    highlight: Color32,
}

impl<'a> GanttItem<'a> {
    /// Paints `bars`; `capacities` gives each station's servers.
    pub fn new(bars: &'a GanttBars, capacities: &'a [u32], selected: Option<usize>, highlight: Color32) -> Self {
        GanttItem {
            base: PlotItemBase::new("bars".into()),
            bars,
            capacities,
            selected,
            highlight,
        }
    }

    /// The shapes for the visible part of the chart (also used by the frame benchmark).
    pub fn paint(&self, transform: &PlotTransform, shapes: &mut Vec<Shape>) {
        let b = transform.bounds();
        let (x0, x1) = (b.min()[0], b.max()[0]);
        let (y0, y1) = (b.min()[1], b.max()[1]);
        let rows = self.capacities.len();
        if let Some(s) = self.selected.filter(|&s| s < rows) {
            let y = -(s as f64);
            let band = transform.rect_from_values(&PlotPoint::new(x0, y - 0.5), &PlotPoint::new(x1, y + 0.5));
            shapes.push(Shape::rect_filled(band, 0.0, self.highlight));
        }
        // Rows are at y = 0, -1, ...: the visible ones lie between -y1 and -y0.
        let first = (-y1 - 1.0).max(0.0) as usize;
        let last = ((-y0 + 1.0).max(0.0) as usize).min(rows.saturating_sub(1));
        if rows == 0 || first > last {
            return;
        }
        for row in first..=last {
            let servers = self.capacities[row];
            // One pending rectangle per server, extended while bars touch within a pixel.
            let mut pending: Vec<Option<(Rect, Color32)>> = vec![None; servers.max(1) as usize];
            for bar in self.bars.visible(row, x0, x1) {
                if bar.end_s < x0 {
                    continue;
                }
                let k = bar.server.min(servers.max(1) - 1);
                let (lo, hi) = server_span(row, k, servers);
                let mut r =
                    transform.rect_from_values(&PlotPoint::new(bar.start_s, lo), &PlotPoint::new(bar.end_s, hi));
                if r.width() < 1.0 {
                    r.max.x = r.min.x + 1.0;
                }
                let color = bar_color(bar);
                let slot = &mut pending[k as usize];
                match slot {
                    // Only bars too narrow to tell apart are merged; wider ones keep their
                    // outline, so each operation stays visible when zoomed in.
                    Some((p, c)) if *c == color && r.width() < 2.0 && r.min.x <= p.max.x + 0.5 => {
                        p.max.x = p.max.x.max(r.max.x)
                    }
                    _ => {
                        if let Some((p, c)) = slot.replace((r, color)) {
                            push_bar(shapes, p, c);
                        }
                    }
                }
            }
            for (p, c) in pending.into_iter().flatten() {
                push_bar(shapes, p, c);
            }
        }
    }
}

fn push_bar(shapes: &mut Vec<Shape>, r: Rect, c: Color32) {
    let stroke = if r.width() > 6.0 {
        Stroke::new(1.0, Color32::from_black_alpha(110))
    } else {
        Stroke::NONE
    };
    shapes.push(Shape::Rect(RectShape::new(
        r,
        CornerRadius::ZERO,
        c,
        stroke,
        StrokeKind::Inside,
    )));
}

impl PlotItem for GanttItem<'_> {
    fn shapes(&self, _ui: &Ui, transform: &PlotTransform, shapes: &mut Vec<Shape>) {
        self.paint(transform, shapes);
    }

    fn initialize(&mut self, _x_range: RangeInclusive<f64>) {}

    fn color(&self) -> Color32 {
        Color32::GRAY
    }

    fn geometry(&self) -> PlotGeometry<'_> {
        PlotGeometry::None
    }

    fn bounds(&self) -> PlotBounds {
        let (a, z) = self.bars.span().unwrap_or((0.0, 3600.0));
        let rows = self.capacities.len().max(1) as f64;
        PlotBounds::from_min_max([a, -(rows - 1.0) - 0.5], [z.max(a + 1.0), DUE_ROW + 0.5])
    }

    fn base(&self) -> &PlotItemBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut PlotItemBase {
        &mut self.base
    }
}

/// One grid mark per visible row (every n-th row when many are visible).
fn row_marks(input: GridInput, rows: usize) -> Vec<GridMark> {
    let (lo, hi) = (input.bounds.0, input.bounds.1);
    let visible = (hi - lo).max(1.0);
    let step = (visible / 40.0).ceil().max(1.0);
    let mut marks = Vec::new();
    let mut y = (hi.min(DUE_ROW)).floor();
    while y >= lo.max(-(rows as f64)) {
        if y == DUE_ROW || (y <= 0.0 && (-y) % step == 0.0) {
            marks.push(GridMark {
                value: y,
                step_size: step,
            });
        }
        y -= 1.0;
    }
    marks
}

/// Draws the panel.
pub fn show(ui: &mut Ui, state: &mut ViewState) {
    let plant: &PlantModel = &state.plant;
    let capacities: Vec<u32> = plant.stations.iter().map(|s| s.capacity).collect();
    ui.horizontal(|ui| {
        ui.strong("Gantt");
        ui.weak(format!("{} bars", state.bars.len()));
        if let Some(s) = state.selected {
            ui.label(format!("Gantt: {} highlighted", plant.stations[s].name));
        }
        ui.weak("colour = order; amber setup, red down, grey off-shift; diamonds = due dates. Drag to pan, ctrl+wheel to zoom, double-click to fit");
    });
    let names: Vec<&str> = plant.stations.iter().map(|s| s.name.as_str()).collect();
    let rows = names.len();
    // Due dates inside the chart's time span (and a little beyond its end), so that far-off
    // due dates do not squeeze the bars into a corner; zooming out shows the rest.
    let (from, to) = state.bars.span().unwrap_or((0.0, 0.0));
    let reach = to + 0.05 * (to - from);
    let (due, due_colors): (Vec<[f64; 2]>, Vec<Color32>) = plant
        .orders
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let d = o.due?.secs();
            (from <= d && d <= reach).then_some(([d, DUE_ROW], palette(i as u32)))
        })
        .unzip();
    let highlight = ui.visuals().selection.bg_fill.gamma_multiply(0.45);
    let bars = &state.bars;
    let selected = state.selected;
    let resp = Plot::new("gantt")
        .allow_scroll(false)
        .allow_double_click_reset(true)
        .y_grid_spacer(move |input| row_marks(input, rows))
        .y_axis_formatter({
            let names = names.clone();
            move |mark, _range| {
                if mark.value == DUE_ROW {
                    "due".to_string()
                } else {
                    names
                        .get((-mark.value) as usize)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                }
            }
        })
        .y_axis_min_width(70.0)
        .x_axis_formatter(|mark, _range| fmt_time(mark.value))
        .show_crosshair(false)
        .show(ui, |plot_ui| {
            plot_ui.add(GanttItem::new(bars, &capacities, selected, highlight));
            for (p, c) in due.iter().zip(&due_colors) {
                plot_ui.add(
                    Points::new("due dates", vec![*p])
                        .shape(MarkerShape::Diamond)
                        .radius(5.0)
                        .color(*c)
                        .filled(true),
                );
            }
            let p = plot_ui.pointer_coordinate()?;
            let (row, server) = row_at(p.y, &capacities)?;
            // u32::MAX: between the servers' bands, on no bar.
            let bar = if server == u32::MAX {
                None
            } else {
                bars.at(row, Some(server), p.x).copied()
            };
            Some((row, bar))
        });
    if let Some((row, bar)) = resp.inner {
        if resp.response.clicked() {
            state.selected = if state.selected == Some(row) { None } else { Some(row) };
        }
        if let Some(bar) = bar {
            resp.response.on_hover_ui_at_pointer(|ui| bar_details(ui, plant, &bar));
        }
    }
}

fn bar_details(ui: &mut Ui, plant: &PlantModel, b: &Bar) {
    let station = &plant.stations[b.station as usize];
    ui.strong(format!("{} · {}", b.kind.as_str(), station.name));
    if station.capacity > 1 {
        ui.label(format!("server {}", b.server + 1));
    }
    if let Some(part) = b.part {
        ui.label(format!("part #{part}"));
    }
    if let Some(p) = b.product.and_then(|p| plant.products.get(p as usize)) {
        ui.label(format!("product {}", p.name));
    }
    if let Some(o) = b.order.and_then(|o| plant.orders.get(o as usize)) {
        let due = o
            .due
            .map(|d| format!(", due {}", fmt_time(d.secs())))
            .unwrap_or_default();
        ui.label(format!("order {}{due}", o.id));
    }
    ui.label(format!("start {}", fmt_time(b.start_s)));
    ui.label(format!(
        "end {} ({:.1} min)",
        fmt_time(b.end_s),
        (b.end_s - b.start_s) / 60.0
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_servers_map_back_from_plot_heights() {
        let caps = [1, 2, 1];
        assert_eq!(row_at(0.0, &caps), Some((0, 0)));
        let (lo, hi) = server_span(1, 1, 2);
        assert_eq!(row_at((lo + hi) / 2.0, &caps), Some((1, 1)));
        let (lo, hi) = server_span(1, 0, 2);
        assert_eq!(row_at((lo + hi) / 2.0, &caps), Some((1, 0)));
        assert_eq!(row_at(-2.45, &caps), Some((2, u32::MAX)), "the gap between rows");
        assert_eq!(row_at(DUE_ROW, &caps), None);
        assert_eq!(row_at(-3.0, &caps), None);
    }
}
