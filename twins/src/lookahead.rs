//! Deterministic look-ahead: where each station's next operations will run if nothing random
//! happens. A fork of a running twin ([`Restorable`]) is restored into a variant of its plant
//! with every time at its mean (process, setup, interarrival, time between failures, repair)
//! and no scrap ([`mean_times`]), dispatched by one rule, and run forward; its operations, station by station,
//! are the dispatch lists the shop floor gets (`twin live --dispatch`).
//!
//! - An operation in progress keeps its start; it ends when its remaining mean time has run.
//! - A station the live plant holds down (observed through its state tag) stays down in the
//!   fork until its expected repair end (the mean repair time of the plant file, from when it
//!   went down; at once if that has passed), then comes back.
//! - The running twin is not touched: the fork has its own world.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use twinworks_engine::{Distribution, SimTime};

use crate::plant::{PlantModel, SourceKind};
use crate::rules::Rule;
use crate::sim::{Command, Compiled, NO_ORDER, Twin};
use crate::state::{Restorable, StateError, Streams};
use crate::trace::{TraceKind, TraceRow, TraceSink};

/// One planned operation of a dispatch list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedOp {
    /// Order id (`null` for a part without an order).
    pub order: Option<String>,
    /// Product name.
    pub product: String,
    /// The unit of the order (0-based).
    pub unit: u32,
    /// Routing step (0-based).
    pub step: u16,
    /// Server of the station.
    pub server: u32,
    /// Planned start of processing [s of twin time].
    pub start_s: f64,
    /// Planned end [s].
    pub end_s: f64,
    /// It is being processed now.
    pub in_progress: bool,
}

/// The dispatch list of one station: its next operations in order of start.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StationList {
    /// Station name.
    pub station: String,
    /// The next operations, in order of planned start.
    pub operations: Vec<PlannedOp>,
}

/// A look-ahead of one plant under one rule (built once, run at every trigger).
pub struct LookAhead {
    cfg: Arc<Compiled>,
    /// Per station: mean repair time [s] of the plant file (0 without failures).
    repair_mean: Vec<f64>,
    rule: Rule,
}

/// The distribution's mean as a constant.
fn mean(d: &Distribution) -> Distribution {
    Distribution::Constant { value: d.mean() }
}

/// `plant` with every random time at its mean and no scrap (its rules as they are).
pub fn mean_times(plant: &PlantModel) -> PlantModel {
    let mut p = plant.clone();
    for s in &mut p.stations {
        s.process_time = s.process_time.as_ref().map(mean);
        for (_, d) in &mut s.process_times {
            *d = mean(d);
        }
        s.scrap = 0.0;
        s.setups.default = s.setups.default.as_ref().map(mean);
        s.setups.initial = s.setups.initial.as_ref().map(mean);
        for (_, _, d) in &mut s.setups.matrix {
            *d = mean(d);
        }
        if let Some(f) = &mut s.failures {
            f.between = mean(&f.between);
            f.repair = mean(&f.repair);
        }
    }
    for pr in &mut p.products {
        for st in &mut pr.routing {
            st.time = st.time.as_ref().map(mean);
        }
    }
    for so in &mut p.sources {
        if let SourceKind::Arrivals { interarrival, .. } = &mut so.kind {
            *interarrival = mean(interarrival);
        }
    }
    p
}

/// Collects operation rows (shared with the look-ahead through a mutex: the fork owns the sink).
struct Collect(Arc<Mutex<Vec<TraceRow>>>);

impl TraceSink for Collect {
    fn write(&mut self, row: &TraceRow) {
        if row.kind == TraceKind::Operation
            && let Ok(mut v) = self.0.lock()
        {
            v.push(*row);
        }
    }
    fn rows(&self) -> u64 {
        self.0.lock().map_or(0, |v| v.len() as u64)
    }
    fn finish(self: Box<Self>) -> std::io::Result<u64> {
        Ok(self.rows())
    }
}

impl LookAhead {
    /// The look-ahead of a twin of `twin_plant` (the running twin's own plant, e.g. a live
    /// mirror's) under `rule`; `file_plant` gives the mean repair times of stations the
    /// running twin does not break down itself.
    pub fn new(twin_plant: &PlantModel, file_plant: &PlantModel, rule: Rule) -> LookAhead {
        let mut plant = mean_times(twin_plant);
        for s in &mut plant.stations {
            s.dispatch = rule;
        }
        LookAhead {
            cfg: Arc::new(Compiled::new(plant)),
            repair_mean: file_plant
                .stations
                .iter()
                .map(|s| s.failures.as_ref().map_or(0.0, |f| f.repair.mean()))
                .collect(),
            rule,
        }
    }

    /// The rule the lists are made under.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// Each station's next `per_station` operations, from a fork of `twin` run with mean times
    /// for at most `horizon_s`. `held` lists the stations the live plant holds down, each with
    /// when it went down [s of twin time].
    pub fn lists(
        &self,
        twin: &mut Twin,
        held: &[(usize, f64)],
        per_station: usize,
        horizon_s: f64,
    ) -> Result<Vec<StationList>, StateError> {
        let now = twin.now().secs();
        let state = twin.state();
        let mut fork = Twin::restore(self.cfg.clone(), &state, Streams::Continue)?;
        let rows = Arc::new(Mutex::new(Vec::new()));
        fork.model.trace = Some(Box::new(Collect(rows.clone())));
        let plant = &self.cfg.plant;
        let end = now + horizon_s;
        // Repairs of held stations, in time order.
        let mut repairs: Vec<(f64, usize)> = held
            .iter()
            .map(|&(s, since)| ((since + self.repair_mean.get(s).copied().unwrap_or(0.0)).max(now), s))
            .collect();
        repairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let enough = |rows: &[TraceRow]| {
            let mut count = vec![0usize; plant.stations.len()];
            for r in rows {
                count[r.station] += 1;
            }
            count.iter().all(|&c| c >= per_station)
        };
        let mut t = now;
        let mut next_repair = 0;
        // In steps of a tenth of the horizon: stop as soon as every list is full.
        let step = (horizon_s / 10.0).max(1.0);
        while t < end {
            let mut until = (t + step).min(end);
            if let Some(&(at, _)) = repairs.get(next_repair) {
                until = until.min(at);
            }
            fork.run_until(SimTime::from_secs(until));
            t = until;
            while let Some(&(at, s)) = repairs.get(next_repair)
                && at <= t
            {
                fork.model.commands.push(Command::SetDown {
                    station: s as u32,
                    down: false,
                });
                next_repair += 1;
            }
            if enough(&rows.lock().map(|v| v.clone()).unwrap_or_default()) {
                break;
            }
        }
        let rows = rows.lock().map(|v| v.clone()).unwrap_or_default();
        let mut lists: Vec<StationList> = plant
            .stations
            .iter()
            .map(|s| StationList {
                station: s.name.clone(),
                operations: Vec::new(),
            })
            .collect();
        for r in &rows {
            let Some(part) = r.part else { continue };
            lists[r.station].operations.push(PlannedOp {
                order: (part.order != NO_ORDER).then(|| plant.orders[part.order as usize].id.clone()),
                product: plant.products[part.product as usize].name.clone(),
                unit: part.unit,
                step: part.step,
                server: r.server as u32,
                start_s: r.start,
                end_s: r.end,
                in_progress: r.start < now,
            });
        }
        for l in &mut lists {
            l.operations
                .sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.server.cmp(&b.server)));
            l.operations.truncate(per_station);
        }
        Ok(lists)
    }
}
