//! What the panels draw: the latest snapshot and what the viewer accumulated from the earlier
//! ones (Gantt bars, KPI trends, alarms), plus the selection shared by all panels.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use twinworks_twins::PlantModel;
use twinworks_twins::kpi::KpiStat;
use twinworks_twins::sim::{Compiled, STATES, build_twin};
use twinworks_twins::snapshot::{Alarm, PlantSnapshot, take};

use crate::gantt::{Bar, GanttBars};
use crate::layout::Layout;
use crate::sim_thread::SimStatus;
use crate::trend::Trend;

/// Alarms kept (the latest).
pub const ALARM_CAPACITY: usize = 5_000;
/// Points per plant-wide trend.
pub const TREND_CAPACITY: usize = 1024;
/// Points per station trend (one per state and station, so fewer).
pub const STATION_TREND_CAPACITY: usize = 128;

/// KPI trends over simulated (or live) time.
#[derive(Clone, Debug)]
pub struct Trends {
    /// Good parts out per hour since the start [1/h].
    pub throughput: Trend,
    /// Parts in the plant.
    pub wip: Trend,
    /// Mean OEE of the stations.
    pub oee: Trend,
    /// Energy used since the start [kWh].
    pub energy_kwh: Trend,
    /// Per station: share of time in each state (busy, setup, idle, blocked, down, off-shift).
    pub stations: Vec<[Trend; STATES]>,
}

impl Trends {
    fn new(stations: usize) -> Trends {
        Trends {
            throughput: Trend::new(TREND_CAPACITY),
            wip: Trend::new(TREND_CAPACITY),
            oee: Trend::new(TREND_CAPACITY),
            energy_kwh: Trend::new(TREND_CAPACITY),
            stations: (0..stations)
                .map(|_| std::array::from_fn(|_| Trend::new(STATION_TREND_CAPACITY)))
                .collect(),
        }
    }

    fn push(&mut self, s: &TrendSample) {
        let t = s.t_s;
        self.throughput.push(t, s.throughput_per_h);
        self.wip.push(t, s.wip);
        self.oee.push(t, s.oee);
        self.energy_kwh.push(t, s.energy_kwh);
        for (tr, shares) in self.stations.iter_mut().zip(&s.shares) {
            for (x, share) in tr.iter_mut().zip(shares) {
                x.push(t, *share);
            }
        }
    }
}

/// The trended KPIs at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendSample {
    /// When [s].
    pub t_s: f64,
    /// Good parts out per hour since the start [1/h].
    pub throughput_per_h: f64,
    /// Parts in the plant.
    pub wip: f64,
    /// Mean OEE of the stations.
    pub oee: f64,
    /// Energy since the start [kWh].
    pub energy_kwh: f64,
    /// Per station: shares of time by state.
    pub shares: Vec<[f64; STATES]>,
}

impl TrendSample {
    /// The sample of a snapshot.
    pub fn of(s: &PlantSnapshot) -> TrendSample {
        let k = &s.kpis;
        let oee = if k.stations.is_empty() {
            0.0
        } else {
            k.stations.iter().map(|x| x.oee).sum::<f64>() / k.stations.len() as f64
        };
        TrendSample {
            t_s: s.time_s,
            throughput_per_h: k.plant.throughput_per_h,
            wip: s.wip_now as f64,
            oee,
            energy_kwh: k.plant.energy_kwh,
            shares: s.stations.iter().map(|st| st.shares).collect(),
        }
    }
}

/// Statistics over replications, run on demand on a background thread.
#[derive(Debug, Default)]
pub enum Replications {
    /// Not asked for.
    #[default]
    None,
    /// Running.
    Running(Receiver<Result<(u32, Vec<KpiStat>), String>>),
    /// Means and 95% confidence half-widths over this many replications.
    Done(u32, Vec<KpiStat>),
    /// The run failed.
    Failed(String),
}

/// Facts about a schedule shown.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleInfo {
    /// Objective optimized.
    pub objective: String,
    /// Its value.
    pub value: i64,
    /// A lower bound on it.
    pub lower_bound: i64,
    /// Operations in it.
    pub operations: usize,
}

/// Everything the panels read.
#[derive(Debug)]
pub struct ViewState {
    /// The plant.
    pub plant: PlantModel,
    /// Tile positions.
    pub layout: Layout,
    /// The latest snapshot.
    pub snapshot: PlantSnapshot,
    /// Gantt bars (the latest ones).
    pub bars: GanttBars,
    /// KPI trends.
    pub trends: Trends,
    /// Alarms, oldest first (the latest [`ALARM_CAPACITY`]).
    pub alarms: VecDeque<Alarm>,
    /// The simulation's state (simulate source only).
    pub status: Option<SimStatus>,
    /// The selected station (index), shared by all panels.
    pub selected: Option<usize>,
    /// The schedule shown (schedule source only).
    pub schedule: Option<ScheduleInfo>,
    /// Replication statistics for the KPI table.
    pub replications: Replications,
    /// Snapshots received.
    pub updates: u64,
}

impl ViewState {
    /// The plant at time 0, nothing received yet.
    pub fn new(plant: PlantModel, bar_capacity: usize) -> ViewState {
        let snapshot = initial_snapshot(&plant);
        let n = plant.stations.len();
        ViewState {
            layout: Layout::of(&plant),
            snapshot,
            bars: GanttBars::new(n, bar_capacity),
            trends: Trends::new(n),
            alarms: VecDeque::new(),
            status: None,
            selected: None,
            schedule: None,
            replications: Replications::None,
            updates: 0,
            plant,
        }
    }

    /// Takes in a snapshot and the bars that ended since the previous one; the snapshot is
    /// also a trend sample.
    pub fn apply(&mut self, snapshot: PlantSnapshot, bars: Vec<Bar>) {
        self.trends.push(&TrendSample::of(&snapshot));
        self.apply_without_sample(snapshot, bars);
    }

    /// Takes in KPI samples taken elsewhere (the simulation thread samples on a time grid).
    pub fn push_samples(&mut self, samples: &[TrendSample]) {
        for s in samples {
            self.trends.push(s);
        }
    }

    /// Takes in a snapshot and bars, leaving the trends alone.
    pub fn apply_without_sample(&mut self, snapshot: PlantSnapshot, bars: Vec<Bar>) {
        self.bars.extend(bars);
        self.alarms.extend(snapshot.alarms.iter().cloned());
        while self.alarms.len() > ALARM_CAPACITY {
            self.alarms.pop_front();
        }
        self.snapshot = snapshot;
        self.updates += 1;
    }

    /// Forgets the previous run (a restart).
    pub fn reset(&mut self) {
        self.bars.clear();
        self.trends = Trends::new(self.plant.stations.len());
        self.alarms.clear();
        self.snapshot = initial_snapshot(&self.plant);
    }

    /// Index of the station called `name`.
    pub fn station_index(&self, name: &str) -> Option<usize> {
        self.plant.stations.iter().position(|s| s.name == name)
    }
}

/// The plant at time 0 (what every source shows before its first snapshot).
pub fn initial_snapshot(plant: &PlantModel) -> PlantSnapshot {
    let mut twin = build_twin(Arc::new(Compiled::new(plant.clone())), 0);
    take(&mut twin)
}
