//! Alarms and events: breakdowns, repairs, stale tags, rejected setpoints and the rest of
//! [`AlarmKind`], newest first, filtered by kind, by text, or by the selected station.

use std::collections::BTreeSet;

use egui::{Color32, Ui};
use twinworks_twins::snapshot::{Alarm, AlarmKind};

use crate::control_panel::fmt_time;
use crate::view_state::ViewState;

/// Every kind, in the order of the filter checkboxes.
pub const KINDS: [AlarmKind; 9] = [
    AlarmKind::Breakdown,
    AlarmKind::Repair,
    AlarmKind::Stale,
    AlarmKind::Fresh,
    AlarmKind::SetpointRejected,
    AlarmKind::SetpointWritten,
    AlarmKind::Divergence,
    AlarmKind::Connection,
    AlarmKind::Halted,
];

/// The filter's settings.
#[derive(Clone, Debug, Default)]
pub struct AlarmFilter {
    /// Kinds hidden.
    pub hidden: BTreeSet<AlarmKind>,
    /// Only alarms whose source or message contains this (case-insensitive).
    pub text: String,
    /// Only the selected station's alarms.
    pub selected_only: bool,
}

/// Short name of a kind.
pub fn kind_name(k: AlarmKind) -> &'static str {
    match k {
        AlarmKind::Breakdown => "breakdown",
        AlarmKind::Repair => "repair",
        AlarmKind::Stale => "stale",
        AlarmKind::Fresh => "fresh",
        AlarmKind::SetpointRejected => "setpoint rejected",
        AlarmKind::SetpointWritten => "setpoint written",
        AlarmKind::Divergence => "divergence",
        AlarmKind::Connection => "connection",
        AlarmKind::Halted => "halted",
    }
}

fn kind_color(k: AlarmKind) -> Color32 {
    match k {
        AlarmKind::Breakdown | AlarmKind::SetpointRejected | AlarmKind::Connection | AlarmKind::Halted => {
            Color32::from_rgb(235, 90, 90)
        }
        AlarmKind::Stale | AlarmKind::Divergence => Color32::from_rgb(190, 140, 230),
        AlarmKind::Repair | AlarmKind::Fresh => Color32::from_rgb(110, 200, 120),
        _ => Color32::GRAY,
    }
}

impl AlarmFilter {
    /// Whether `a` passes (`selected`: the selected station's name).
    pub fn accepts(&self, a: &Alarm, selected: Option<&str>) -> bool {
        if self.hidden.contains(&a.kind) {
            return false;
        }
        if self.selected_only && selected.is_some_and(|s| s != a.source) {
            return false;
        }
        if self.text.is_empty() {
            return true;
        }
        let t = self.text.to_lowercase();
        a.source.to_lowercase().contains(&t) || a.message.to_lowercase().contains(&t)
    }
}

/// Draws the panel.
pub fn show(ui: &mut Ui, state: &ViewState, filter: &mut AlarmFilter) {
    ui.horizontal_wrapped(|ui| {
        ui.strong("Alarms");
        ui.weak(format!("{} kept", state.alarms.len()));
        ui.add(
            egui::TextEdit::singleline(&mut filter.text)
                .hint_text("filter text")
                .desired_width(90.0),
        );
        ui.checkbox(&mut filter.selected_only, "selected station only");
    });
    ui.horizontal_wrapped(|ui| {
        for k in KINDS {
            let mut shown = !filter.hidden.contains(&k);
            if ui.checkbox(&mut shown, kind_name(k)).changed() {
                if shown {
                    filter.hidden.remove(&k);
                } else {
                    filter.hidden.insert(k);
                }
            }
        }
    });
    ui.separator();
    let selected = state.selected.map(|s| state.plant.stations[s].name.as_str());
    // Newest first; the filter runs over what is kept (bounded), rows are laid out only when
    // visible.
    let shown: Vec<&Alarm> = state
        .alarms
        .iter()
        .rev()
        .filter(|a| filter.accepts(a, selected))
        .collect();
    if shown.is_empty() {
        ui.weak("no alarms");
        return;
    }
    let row_h = ui.text_style_height(&egui::TextStyle::Body);
    egui::ScrollArea::vertical()
        .id_salt("alarms")
        .auto_shrink(false)
        .show_rows(ui, row_h, shown.len(), |ui, range| {
            for a in &shown[range] {
                ui.horizontal(|ui| {
                    ui.monospace(fmt_time(a.time_s));
                    ui.colored_label(kind_color(a.kind), kind_name(a.kind));
                    ui.label(&a.message);
                });
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(kind: AlarmKind, source: &str) -> Alarm {
        Alarm {
            time_s: 1.0,
            kind,
            source: source.into(),
            message: format!("{source} {}", kind_name(kind)),
        }
    }

    #[test]
    fn filter_by_kind_text_and_station() {
        let mut f = AlarmFilter::default();
        let a = alarm(AlarmKind::Breakdown, "Lathe");
        let b = alarm(AlarmKind::Repair, "Saw");
        assert!(f.accepts(&a, None) && f.accepts(&b, None));
        f.hidden.insert(AlarmKind::Repair);
        assert!(f.accepts(&a, None) && !f.accepts(&b, None));
        f.hidden.clear();
        f.text = "LATH".into();
        assert!(f.accepts(&a, None) && !f.accepts(&b, None));
        f.text.clear();
        f.selected_only = true;
        assert!(!f.accepts(&a, Some("Saw")) && f.accepts(&b, Some("Saw")));
    }
}
