//! The Gantt chart's data: bars per station row, a bounded window of the latest ones, and the
//! three ways to get them (trace rows of a running twin, an APS schedule, state changes of
//! external snapshots).

use std::collections::HashMap;

use twinworks_aps::plant_plan::PlantSchedule;
use twinworks_twins::PlantModel;
use twinworks_twins::sim::NO_ORDER;
use twinworks_twins::sim::StationState;
use twinworks_twins::snapshot::PlantSnapshot;
use twinworks_twins::trace::{TraceKind, TraceRow};

use crate::ViewerError;

/// Bars kept by default: the latest 20,000.
pub const DEFAULT_BAR_CAPACITY: usize = 20_000;

/// What a bar shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarKind {
    /// Processing of a part (or, from external snapshots, a busy interval).
    Operation,
    /// A setup.
    Setup,
    /// A breakdown, an outage, or a station reported down.
    Down,
    /// Outside the shifts.
    OffShift,
}

impl BarKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            BarKind::Operation => "operation",
            BarKind::Setup => "setup",
            BarKind::Down => "down",
            BarKind::OffShift => "off_shift",
        }
    }
}

/// One interval on one server of a station.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    /// Station index (the row).
    pub station: u32,
    /// Server within the station.
    pub server: u32,
    /// What it shows.
    pub kind: BarKind,
    /// Start [s].
    pub start_s: f64,
    /// End [s].
    pub end_s: f64,
    /// Part id (simulation only).
    pub part: Option<u64>,
    /// Product index in the plant.
    pub product: Option<u32>,
    /// Order index in the plant.
    pub order: Option<u32>,
}

impl Bar {
    /// The bar of a trace row (none for a state-interval row: the Gantt chart draws
    /// operations, setups, breakdowns and shifts).
    pub fn from_trace(r: &TraceRow) -> Option<Bar> {
        Some(Bar {
            station: r.station as u32,
            server: r.server as u32,
            kind: match r.kind {
                TraceKind::Operation => BarKind::Operation,
                TraceKind::Setup => BarKind::Setup,
                TraceKind::Down => BarKind::Down,
                TraceKind::OffShift => BarKind::OffShift,
                TraceKind::State(_) => return None,
            },
            start_s: r.start,
            end_s: r.end,
            part: r.part.map(|p| p.id),
            product: r.part.map(|p| u32::from(p.product)),
            order: r.part.and_then(|p| (p.order != NO_ORDER).then_some(p.order)),
        })
    }
}

/// Bars by station row, each row sorted by start; at most about `capacity` bars (the latest
/// ones by end time are kept).
#[derive(Clone, Debug)]
pub struct GanttBars {
    rows: Vec<Vec<Bar>>,
    /// Longest bar of each row [s] (to find the bars that reach into a time window).
    longest: Vec<f64>,
    len: usize,
    capacity: usize,
    /// Earliest start and latest end of all bars ever added [s].
    span: Option<(f64, f64)>,
}

impl GanttBars {
    /// An empty chart of `stations` rows keeping about `capacity` bars.
    pub fn new(stations: usize, capacity: usize) -> GanttBars {
        GanttBars {
            rows: vec![Vec::new(); stations],
            longest: vec![0.0; stations],
            len: 0,
            capacity: capacity.max(1),
            span: None,
        }
    }

    /// Bars held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No bars.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bound on [`len`](Self::len): `capacity` plus one eighth (bars are dropped in batches).
    pub fn max_len(&self) -> usize {
        self.capacity + self.capacity / 8
    }

    /// Drops every bar.
    pub fn clear(&mut self) {
        for r in &mut self.rows {
            r.clear();
        }
        self.longest.fill(0.0);
        self.len = 0;
        self.span = None;
    }

    /// The rows (one per station).
    pub fn rows(&self) -> &[Vec<Bar>] {
        &self.rows
    }

    /// Earliest start and latest end of the bars held [s].
    pub fn span(&self) -> Option<(f64, f64)> {
        self.span
    }

    /// Adds bars (in any order); when more than [`max_len`](Self::max_len) are held, the oldest
    /// (by end time) are dropped down to the capacity.
    pub fn extend(&mut self, bars: impl IntoIterator<Item = Bar>) {
        for b in bars {
            let Some(row) = self.rows.get_mut(b.station as usize) else {
                continue;
            };
            let at = row.partition_point(|x| x.start_s <= b.start_s);
            row.insert(at, b);
            self.longest[b.station as usize] = self.longest[b.station as usize].max(b.end_s - b.start_s);
            self.len += 1;
            self.span = Some(match self.span {
                None => (b.start_s, b.end_s),
                Some((a, z)) => (a.min(b.start_s), z.max(b.end_s)),
            });
        }
        if self.len > self.max_len() {
            self.evict();
        }
    }

    /// Drops the oldest bars (by end time) down to the capacity.
    fn evict(&mut self) {
        let mut ends: Vec<f64> = self.rows.iter().flatten().map(|b| b.end_s).collect();
        let drop = self.len - self.capacity;
        let (_, cut, _) = ends.select_nth_unstable_by(drop - 1, f64::total_cmp);
        let cut = *cut;
        // Ties at the cut may keep a few more than the capacity; that is fine.
        let mut len = 0;
        let mut first = f64::INFINITY;
        for row in &mut self.rows {
            row.retain(|b| b.end_s > cut);
            len += row.len();
            if let Some(b) = row.first() {
                first = first.min(b.start_s);
            }
        }
        self.len = len;
        if let Some((_, z)) = self.span {
            self.span = (len > 0).then_some((first, z));
        }
    }

    /// The bars of `row` that overlap `[from_s, to_s]`.
    pub fn visible(&self, row: usize, from_s: f64, to_s: f64) -> &[Bar] {
        let bars = &self.rows[row];
        let lo = bars.partition_point(|b| b.start_s < from_s - self.longest[row]);
        let hi = bars.partition_point(|b| b.start_s <= to_s);
        &bars[lo..hi.max(lo)]
    }

    /// The bar of `row` under time `t_s` on server `server` (if any), preferring operations.
    pub fn at(&self, row: usize, server: Option<u32>, t_s: f64) -> Option<&Bar> {
        self.visible(row, t_s, t_s)
            .iter()
            .filter(|b| b.start_s <= t_s && t_s <= b.end_s && server.is_none_or(|k| k == b.server))
            .min_by_key(|b| match b.kind {
                BarKind::Operation => 0,
                BarKind::Setup => 1,
                BarKind::Down => 2,
                BarKind::OffShift => 3,
            })
    }
}

/// The bars of an APS schedule of `plant` (operations and setups), resolving its names.
pub fn bars_from_schedule(plant: &PlantModel, s: &PlantSchedule) -> Result<Vec<Bar>, ViewerError> {
    let station = |name: &str| {
        plant
            .stations
            .iter()
            .position(|st| st.name == name)
            .map(|i| i as u32)
            .ok_or_else(|| ViewerError::Schedule(format!("station '{name}' is not in plant '{}'", plant.name)))
    };
    let orders: HashMap<&str, u32> = plant
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.as_str(), i as u32))
        .collect();
    let products: HashMap<&str, u32> = plant
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i as u32))
        .collect();
    let mut bars = Vec::with_capacity(s.operations.len() + s.setups.len());
    for op in &s.operations {
        bars.push(Bar {
            station: station(&op.station)?,
            server: op.server,
            kind: BarKind::Operation,
            start_s: op.start as f64,
            end_s: op.end as f64,
            part: None,
            product: Some(*products.get(op.product.as_str()).ok_or_else(|| {
                ViewerError::Schedule(format!("product '{}' is not in plant '{}'", op.product, plant.name))
            })?),
            order: orders.get(op.order.as_str()).copied(),
        });
    }
    for su in &s.setups {
        bars.push(Bar {
            station: station(&su.station)?,
            server: su.server,
            kind: BarKind::Setup,
            start_s: su.start as f64,
            end_s: su.end as f64,
            part: None,
            product: None,
            order: None,
        });
    }
    Ok(bars)
}

/// Builds bars from the state changes of consecutive snapshots (the Gantt chart of an external
/// source, which sends no trace): a busy, setup, down or off-shift interval of a station becomes
/// a bar when its state changes. The bars are as fine as the snapshots are frequent.
#[derive(Clone, Debug, Default)]
pub struct StateBars {
    /// Per station: the interval under way.
    open: Vec<Option<OpenInterval>>,
}

/// A station's state, product and order since a time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OpenInterval {
    state: StationState,
    product: Option<u32>,
    order: Option<u32>,
    since_s: f64,
}

impl StateBars {
    /// The bars closed by `snap` (and the intervals it opens, kept until the next change).
    pub fn update(&mut self, plant: &PlantModel, snap: &PlantSnapshot) -> Vec<Bar> {
        if self.open.len() != snap.stations.len() {
            self.open = vec![None; snap.stations.len()];
        }
        let mut out = Vec::new();
        for (i, st) in snap.stations.iter().enumerate() {
            let product = st
                .product
                .as_deref()
                .and_then(|p| plant.products.iter().position(|x| x.name == p))
                .map(|p| p as u32);
            let order = st
                .order
                .as_deref()
                .and_then(|o| plant.orders.iter().position(|x| x.id == o))
                .map(|o| o as u32);
            let same = |o: &OpenInterval| (o.state, o.product, o.order) == (st.state, product, order);
            match self.open[i] {
                Some(o) if same(&o) => {}
                prev => {
                    if let Some(o) = prev
                        && let Some(kind) = bar_kind(o.state)
                        && snap.time_s > o.since_s
                    {
                        out.push(Bar {
                            station: i as u32,
                            server: 0,
                            kind,
                            start_s: o.since_s,
                            end_s: snap.time_s,
                            part: None,
                            product: o.product,
                            order: o.order,
                        });
                    }
                    self.open[i] = Some(OpenInterval {
                        state: st.state,
                        product,
                        order,
                        since_s: snap.time_s,
                    });
                }
            }
        }
        out
    }
}

fn bar_kind(s: StationState) -> Option<BarKind> {
    match s {
        StationState::Busy => Some(BarKind::Operation),
        StationState::Setup => Some(BarKind::Setup),
        StationState::Down => Some(BarKind::Down),
        StationState::OffShift => Some(BarKind::OffShift),
        StationState::Idle | StationState::Blocked => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(station: u32, start_s: f64, end_s: f64) -> Bar {
        Bar {
            station,
            server: 0,
            kind: BarKind::Operation,
            start_s,
            end_s,
            part: None,
            product: None,
            order: None,
        }
    }

    #[test]
    fn rows_stay_sorted_and_window_finds_overlaps() {
        let mut g = GanttBars::new(2, 100);
        g.extend([
            bar(0, 10.0, 20.0),
            bar(0, 0.0, 5.0),
            bar(1, 3.0, 4.0),
            bar(0, 30.0, 31.0),
        ]);
        let starts: Vec<f64> = g.rows()[0].iter().map(|b| b.start_s).collect();
        assert_eq!(starts, [0.0, 10.0, 30.0]);
        // A window inside the long bar still finds it.
        let v = g.visible(0, 12.0, 13.0);
        assert_eq!(v.iter().filter(|b| b.end_s >= 12.0).count(), 1);
        assert_eq!(g.at(0, None, 15.0).map(|b| b.start_s), Some(10.0));
        assert!(g.at(0, None, 25.0).is_none());
        assert_eq!(g.span(), Some((0.0, 31.0)));
    }

    #[test]
    fn memory_is_bounded_and_the_latest_bars_stay() {
        let mut g = GanttBars::new(3, 1000);
        for i in 0..100_000u32 {
            let t = i as f64;
            g.extend([bar(i % 3, t, t + 1.0)]);
            assert!(g.len() <= g.max_len());
        }
        assert!(g.len() >= 1000);
        let oldest = g.rows().iter().flatten().map(|b| b.end_s).fold(f64::INFINITY, f64::min);
        assert!(oldest > 100_000.0 - g.max_len() as f64 - 1.0, "{oldest}");
        assert_eq!(g.span().map(|s| s.1), Some(100_000.0));
    }
}
