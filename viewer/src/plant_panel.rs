//! The plant: one tile per station coloured by its state, with its name, current product,
//! parts done and utilization; declared buffers as fill bars. Hovering a tile shows its details,
//! clicking selects the station in every panel.
//!
//! Each tile is a widget in the accessibility tree labelled `station NAME: STATE` (`stale` when
//! its live data is old), each buffer `buffer NAME: LEVEL/CAPACITY`, so tests and screen readers
//! find them. Only the tiles inside the visible part of the panel are laid out and painted, so a
//! plant of hundreds of stations costs what fits on the screen.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Ui, Vec2, vec2};
use twinworks_twins::sim::StationState;
use twinworks_twins::snapshot::StationSnapshot;

use crate::layout::Link;
use crate::view_state::ViewState;

/// Pixels per layout unit.
const UNIT: Vec2 = vec2(115.0, 110.0);
/// A station tile.
const TILE: Vec2 = vec2(140.0, 80.0);
/// A buffer bar.
const BUFFER: Vec2 = vec2(76.0, 34.0);
/// Space around the drawing.
const MARGIN: f32 = 12.0;

/// The colour of a state (tiles and Gantt bars use the same).
pub fn state_color(state: StationState) -> Color32 {
    match state {
        StationState::Busy => Color32::from_rgb(46, 160, 67),
        StationState::Setup => Color32::from_rgb(214, 160, 0),
        StationState::Idle => Color32::from_rgb(110, 130, 150),
        StationState::Blocked => Color32::from_rgb(230, 110, 20),
        StationState::Down => Color32::from_rgb(210, 40, 40),
        StationState::OffShift => Color32::from_rgb(70, 70, 78),
    }
}

/// Colour of a station whose live data is stale.
pub const STALE: Color32 = Color32::from_rgb(140, 90, 170);

/// What a tile says its state is: `stale` overrides the state.
pub fn shown_state(st: &StationSnapshot) -> &'static str {
    if st.stale { "stale" } else { st.state.as_str() }
}

/// The accessibility label of a station tile, e.g. `station Lathe: down`.
pub fn station_label(st: &StationSnapshot) -> String {
    format!("station {}: {}", st.name, shown_state(st))
}

/// Draws the panel.
pub fn show(ui: &mut Ui, state: &mut ViewState) {
    let size = vec2(
        state.layout.extent[0] * UNIT.x + TILE.x + 2.0 * MARGIN,
        state.layout.extent[1] * UNIT.y + TILE.y + 2.0 * MARGIN,
    );
    egui::ScrollArea::both()
        .id_salt("plant")
        .auto_shrink(false)
        .show_viewport(ui, |ui, viewport| {
            let (content, _) = ui.allocate_exact_size(size, Sense::hover());
            let origin = content.min + vec2(MARGIN, MARGIN) + TILE / 2.0;
            let visible = viewport.translate(content.min.to_vec2()).expand(TILE.x);
            draw_links(ui, state, origin, visible);
            draw_buffers(ui, state, origin, visible);
            draw_stations(ui, state, origin, visible);
        });
}

fn center(origin: Pos2, p: [f32; 2]) -> Pos2 {
    origin + vec2(p[0] * UNIT.x, p[1] * UNIT.y)
}

fn draw_links(ui: &Ui, state: &ViewState, origin: Pos2, visible: Rect) {
    let painter = ui.painter();
    let stroke = Stroke::new(1.5, ui.visuals().weak_text_color().gamma_multiply(0.6));
    let l = &state.layout;
    for link in &l.links {
        let (a, b) = match *link {
            Link::BufferToStation(b, s) => match l.buffers[b] {
                Some(p) => (
                    center(origin, p) + vec2(BUFFER.x / 2.0, 0.0),
                    center(origin, l.stations[s]) - vec2(TILE.x / 2.0, 0.0),
                ),
                None => continue,
            },
            Link::StationToStation(a, s) => {
                let to = match l.buffers[state.plant.stations[s].input] {
                    Some(p) => center(origin, p) - vec2(BUFFER.x / 2.0, 0.0),
                    None => center(origin, l.stations[s]) - vec2(TILE.x / 2.0, 0.0),
                };
                (center(origin, l.stations[a]) + vec2(TILE.x / 2.0, 0.0), to)
            }
        };
        if visible.intersects(Rect::from_two_pos(a, b)) {
            painter.line_segment([a, b], stroke);
        }
    }
}

fn draw_buffers(ui: &mut Ui, state: &ViewState, origin: Pos2, visible: Rect) {
    let text = ui.visuals().text_color();
    for (b, pos) in state.layout.buffers.iter().enumerate() {
        let Some(pos) = pos else { continue };
        let rect = Rect::from_center_size(center(origin, *pos), BUFFER);
        if !visible.intersects(rect) {
            continue;
        }
        let snap = &state.snapshot.buffers[b];
        let cap = snap.capacity.map_or_else(|| "no limit".to_string(), |c| c.to_string());
        let label = format!("buffer {}: {}/{}", snap.name, snap.level, cap);
        let resp = ui.interact(rect, ui.make_persistent_id(("plant buffer", b)), Sense::hover());
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ProgressIndicator, true, &label));
        let painter = ui.painter();
        painter.rect_filled(rect, 3.0, ui.visuals().extreme_bg_color);
        let fill = match snap.capacity {
            Some(c) if c > 0 => (snap.level as f32 / c as f32).min(1.0),
            // Unlimited: a soft scale that never looks full.
            _ => snap.level as f32 / (snap.level as f32 + 10.0),
        };
        let bar = Rect::from_min_size(rect.left_bottom() - vec2(0.0, 12.0), vec2(rect.width() * fill, 12.0));
        let color = if fill >= 1.0 {
            Color32::from_rgb(230, 110, 20)
        } else {
            Color32::from_rgb(70, 130, 200)
        };
        painter.rect_filled(bar, 2.0, color);
        painter.rect_stroke(
            rect,
            3.0,
            Stroke::new(1.0, ui.visuals().weak_text_color()),
            StrokeKind::Inside,
        );
        painter.text(
            rect.center_top() + vec2(0.0, 2.0),
            Align2::CENTER_TOP,
            &snap.name,
            FontId::proportional(10.5),
            text,
        );
        painter.text(
            rect.center_bottom() - vec2(0.0, 6.0),
            Align2::CENTER_CENTER,
            format!("{}/{}", snap.level, cap),
            FontId::proportional(10.0),
            Color32::WHITE,
        );
        resp.on_hover_text(format!(
            "{}\nlevel {} of {}\n(declared buffer)",
            snap.name, snap.level, cap
        ));
    }
}

fn draw_stations(ui: &mut Ui, state: &mut ViewState, origin: Pos2, visible: Rect) {
    let mut clicked = None;
    for (i, pos) in state.layout.stations.iter().enumerate() {
        let rect = Rect::from_center_size(center(origin, *pos), TILE);
        if !visible.intersects(rect) {
            continue;
        }
        let Some(st) = state.snapshot.stations.get(i) else {
            continue;
        };
        let selected = state.selected == Some(i);
        let resp = ui.interact(rect, ui.make_persistent_id(("plant station", i)), Sense::click());
        let label = station_label(st);
        resp.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
        let fill = if st.stale { STALE } else { state_color(st.state) };
        let painter = ui.painter();
        painter.rect_filled(rect, 6.0, fill);
        let (w, c) = if selected {
            (3.0, Color32::WHITE)
        } else if resp.hovered() {
            (2.0, Color32::from_gray(220))
        } else {
            (1.0, Color32::from_black_alpha(120))
        };
        painter.rect_stroke(rect, 6.0, Stroke::new(w, c), StrokeKind::Inside);
        let ink = Color32::WHITE;
        let left = rect.left_top() + vec2(7.0, 5.0);
        painter.text(left, Align2::LEFT_TOP, &st.name, FontId::proportional(13.5), ink);
        painter.text(
            rect.right_top() + vec2(-7.0, 6.0),
            Align2::RIGHT_TOP,
            shown_state(st),
            FontId::proportional(10.5),
            ink,
        );
        let product = st.product.as_deref().unwrap_or("–");
        painter.text(
            left + vec2(0.0, 22.0),
            Align2::LEFT_TOP,
            product,
            FontId::proportional(11.5),
            ink,
        );
        painter.text(
            left + vec2(0.0, 39.0),
            Align2::LEFT_TOP,
            format!("{} done · q {}", st.parts_done, st.queue),
            FontId::proportional(11.0),
            ink,
        );
        // Utilization as a thin bar along the bottom edge.
        let u = st.utilization.clamp(0.0, 1.0) as f32;
        let track = Rect::from_min_size(rect.left_bottom() + vec2(7.0, -12.0), vec2(rect.width() - 14.0, 5.0));
        painter.rect_filled(track, 2.0, Color32::from_black_alpha(90));
        painter.rect_filled(
            Rect::from_min_size(track.min, vec2(track.width() * u, 5.0)),
            2.0,
            Color32::WHITE,
        );
        painter.text(
            rect.right_bottom() + vec2(-7.0, -15.0),
            Align2::RIGHT_BOTTOM,
            format!("{:.0}%", 100.0 * u),
            FontId::proportional(10.5),
            ink,
        );
        if resp.clicked() {
            clicked = Some(i);
        }
        resp.on_hover_ui(|ui| station_details(ui, st));
    }
    if let Some(i) = clicked {
        state.selected = if state.selected == Some(i) { None } else { Some(i) };
    }
}

fn station_details(ui: &mut Ui, st: &StationSnapshot) {
    ui.strong(&st.name);
    ui.label(format!("state: {}", shown_state(st)));
    if st.servers.len() > 1 {
        let servers: Vec<&str> = st.servers.iter().map(|s| s.as_str()).collect();
        ui.label(format!("servers: {}", servers.join(", ")));
    }
    ui.label(format!(
        "product: {}, order: {}",
        st.product.as_deref().unwrap_or("–"),
        st.order.as_deref().unwrap_or("–")
    ));
    ui.label(format!("parts done: {}, failures: {}", st.parts_done, st.failures));
    ui.label(format!("queue: {}, speed ×{:.2}", st.queue, st.speed));
    let shares: Vec<String> = StationState::ALL
        .iter()
        .zip(st.shares)
        .filter(|(_, x)| *x > 0.0005)
        .map(|(n, x)| format!("{} {:.1}%", n.as_str(), 100.0 * x))
        .collect();
    ui.label(format!("time: {}", shares.join(", ")));
    for (k, v) in &st.observed {
        ui.label(format!("observed {k}: {v:.3}"));
    }
    if st.stale {
        ui.colored_label(STALE, "live data is stale");
    }
}
