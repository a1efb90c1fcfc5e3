//! [`PlanPolicy`]: the dispatching policy that executes a plant schedule.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use twinworks_aps::plant_plan::{PlantSchedule, Split};
use twinworks_twins::rules::Rule;
use twinworks_twins::sim::dispatch::{Candidate, Decision, DispatchPolicy, Held, PolicyFactory};
use twinworks_twins::sim::{Compiled, NO_ORDER, Part};

/// Why a schedule cannot be executed on a plant. (`aps::plant_plan::read_plant_schedule`
/// reports these located in the file; this is the check for schedules built in code.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

/// The unit field of a lot operation's key.
const LOT: u32 = u32::MAX;

/// (order, unit or [`LOT`], global step).
pub(crate) type Key = (u32, u32, u32);

/// One unit of an order as the policy follows it.
#[derive(Clone, Copy, Debug, Default)]
struct Unit {
    /// Still in the plant (not out, not scrapped).
    gone: bool,
    /// The last global step it was started at, if any.
    started: Option<u32>,
}

/// Plan adherence of one order.
#[derive(Clone, Debug, PartialEq)]
pub struct Adherence {
    /// Order id.
    pub order: String,
    /// Planned completion [s].
    pub planned_completion_s: f64,
    /// Realized completion [s], if the order completed.
    pub completion_s: Option<f64>,
    /// Planned tardiness [s] (0 without a due date).
    pub planned_tardiness_s: f64,
    /// Realized tardiness [s], if the order completed.
    pub tardiness_s: Option<f64>,
}

/// Executes a [`PlantSchedule`] on the twin (see the crate docs).
#[derive(Clone, Debug)]
pub struct PlanPolicy {
    /// Per station: the rule it falls back to.
    rules: Vec<Rule>,
    /// Per station and server: the planned operations still to start, in planned order.
    seq: Vec<Vec<VecDeque<Key>>>,
    lot: bool,
    /// Where each planned operation is: (station, server), and its planned start [s].
    planned: HashMap<Key, (u32, u32, f64)>,
    /// Per order, per unit.
    units: Vec<Vec<Unit>>,
    /// Lots whose first unit has begun.
    begun: HashSet<Key>,
    /// Realized minus planned start of every operation (lot: its first unit) begun [s].
    deviations: Vec<f64>,
    deadlocks: u64,
    out_of_plan: u64,
    /// Per order: planned completion [s].
    planned_completion: Vec<f64>,
    /// Per order: units still in the plant, and the realized completion.
    left: Vec<u32>,
    completion: Vec<Option<f64>>,
    ids: Vec<String>,
    due: Vec<Option<f64>>,
    weight: Vec<f64>,
    /// Per order: the global index of its product's last step.
    last_gstep: Vec<u32>,
}

impl PlanPolicy {
    /// The policy executing `schedule` on `cfg`'s plant. Every operation of every unit (unit
    /// split) or order (lot split) must be planned exactly once, on a server that can do it.
    pub fn new(cfg: &Compiled, schedule: &PlantSchedule) -> Result<PlanPolicy, PlanError> {
        let plant = &cfg.plant;
        let lot = schedule.split == Split::Lot;
        let err = |m: String| Err(PlanError(m));
        let mut seq: Vec<Vec<VecDeque<Key>>> = plant
            .stations
            .iter()
            .map(|s| vec![VecDeque::new(); s.capacity as usize])
            .collect();
        let mut planned = HashMap::new();
        let mut planned_completion = vec![f64::NEG_INFINITY; plant.orders.len()];
        let mut ops: Vec<_> = schedule.operations.iter().collect();
        // In planned order per server (stable: the file's order breaks ties).
        ops.sort_by_key(|o| o.start);
        for op in ops {
            let Some(o) = plant.orders.iter().position(|x| x.id == op.order) else {
                return err(format!("operation of unknown order '{}'", op.order));
            };
            let Some(s) = plant.station_id(&op.station) else {
                return err(format!("operation on unknown station '{}'", op.station));
            };
            let order = &plant.orders[o];
            let routing = &plant.products[order.product].routing;
            if op.step >= routing.len() || !routing[op.step].stations.contains(&s) {
                return err(format!(
                    "order '{}' step {} cannot run on station '{}'",
                    op.order, op.step, op.station
                ));
            }
            if op.server >= plant.stations[s].capacity {
                return err(format!("station '{}' has no server {}", op.station, op.server));
            }
            let unit = match (lot, schedule.jobs.get(op.job).and_then(|j| j.unit)) {
                (true, _) => LOT,
                (false, Some(u)) if u < order.quantity => u,
                (false, _) => {
                    return err(format!(
                        "a unit plan needs a unit below {} for every job of order '{}'",
                        order.quantity, op.order
                    ));
                }
            };
            let gstep = cfg.step_base[order.product] + op.step as u32;
            let key = (o as u32, unit, gstep);
            if planned.insert(key, (s as u32, op.server, op.start as f64)).is_some() {
                return err(format!("order '{}' step {} is planned twice", op.order, op.step));
            }
            seq[s][op.server as usize].push_back(key);
            planned_completion[o] = planned_completion[o].max(op.end as f64);
        }
        for (o, order) in plant.orders.iter().enumerate() {
            let units = if lot { 1 } else { order.quantity };
            for u in 0..units {
                for k in 0..plant.products[order.product].routing.len() {
                    let key = (
                        o as u32,
                        if lot { LOT } else { u },
                        cfg.step_base[order.product] + k as u32,
                    );
                    if !planned.contains_key(&key) {
                        let what = if lot { String::new() } else { format!(" unit {u}") };
                        return err(format!("order '{}'{what} step {k} is not planned", order.id));
                    }
                }
            }
        }
        Ok(PlanPolicy {
            rules: plant.stations.iter().map(|s| s.dispatch).collect(),
            seq,
            lot,
            planned,
            units: plant
                .orders
                .iter()
                .map(|o| vec![Unit::default(); o.quantity as usize])
                .collect(),
            begun: HashSet::new(),
            deviations: Vec::new(),
            deadlocks: 0,
            out_of_plan: 0,
            planned_completion,
            left: plant.orders.iter().map(|o| o.quantity).collect(),
            completion: vec![None; plant.orders.len()],
            ids: plant.orders.iter().map(|o| o.id.clone()).collect(),
            due: plant.orders.iter().map(|o| o.due.map(|d| d.secs())).collect(),
            weight: plant.orders.iter().map(|o| o.priority as f64).collect(),
            last_gstep: plant
                .orders
                .iter()
                .map(|o| cfg.step_base[o.product] + plant.products[o.product].routing.len() as u32 - 1)
                .collect(),
        })
    }

    fn key(&self, part: &Part) -> Key {
        (part.order, if self.lot { LOT } else { part.unit }, part.gstep)
    }

    /// Units of order `o` still in the plant that have not started global step `g`.
    fn to_start(&self, o: u32, g: u32) -> u32 {
        self.units[o as usize]
            .iter()
            .filter(|u| !u.gone && u.started.is_none_or(|s| s < g))
            .count() as u32
    }

    /// Strikes planned operation `key` from its server's sequence.
    fn strike(&mut self, key: Key) {
        if let Some(&(s, k, _)) = self.planned.get(&key) {
            let q = &mut self.seq[s as usize][k as usize];
            if let Some(i) = q.iter().position(|x| *x == key) {
                q.remove(i);
            }
        }
    }

    /// Replaces the plan of every operation not yet started by `ops`: (key, station, server,
    /// planned start [s]), in planned order. The completions it was first planned with stay
    /// the reference of the adherence figures; start deviations count against the latest plan.
    pub(crate) fn replace(&mut self, ops: &[(Key, u32, u32, f64)]) {
        for q in self.seq.iter_mut().flatten() {
            q.clear();
        }
        for &(key, s, k, start) in ops {
            self.seq[s as usize][k as usize].push_back(key);
            self.planned.insert(key, (s, k, start));
        }
    }

    /// Where and when operation `key` is planned: (station, server, start [s]).
    pub(crate) fn planned(&self, key: Key) -> Option<(u32, u32, f64)> {
        self.planned.get(&key).copied()
    }

    /// The planned operations not yet started, per station and server, in planned order.
    pub(crate) fn sequences(&self) -> &[Vec<VecDeque<Key>>] {
        &self.seq
    }

    /// Unit `unit` of order `o`: whether it left the plant, and the last global step started.
    pub(crate) fn unit(&self, o: u32, unit: u32) -> (bool, Option<u32>) {
        let u = self.units[o as usize][unit as usize];
        (u.gone, u.started)
    }

    /// Per order: planned and realized completion and tardiness.
    pub fn adherence(&self) -> Vec<Adherence> {
        (0..self.ids.len())
            .map(|o| {
                let tard = |c: f64| self.due[o].map_or(0.0, |d| (c - d).max(0.0));
                Adherence {
                    order: self.ids[o].clone(),
                    planned_completion_s: self.planned_completion[o],
                    completion_s: self.completion[o],
                    planned_tardiness_s: tard(self.planned_completion[o]),
                    tardiness_s: self.completion[o].map(tard),
                }
            })
            .collect()
    }
}

impl DispatchPolicy for PlanPolicy {
    fn pick_part(&mut self, d: &Decision, candidates: &[Candidate]) -> usize {
        self.rules[d.station].pick(d.now, candidates, |c| &c.facts)
    }

    fn reservation(&mut self, station: usize, server: usize) -> Option<Held> {
        loop {
            let Some(&(o, u, g)) = self.seq[station][server].front() else {
                return Some(Held::NoOrder);
            };
            if u != LOT {
                return Some(Held::Unit {
                    order: o,
                    unit: u,
                    gstep: g,
                });
            }
            let gather = self.to_start(o, g);
            if gather > 0 {
                return Some(Held::Lot {
                    order: o,
                    gstep: g,
                    gather,
                });
            }
            // Every unit of the lot started elsewhere or left the plant.
            self.seq[station][server].pop_front();
        }
    }

    fn route(&mut self, _now: f64, part: &Part, alternatives: &[u32]) -> Option<usize> {
        let &(s, _, _) = self.planned.get(&self.key(part))?;
        alternatives.iter().position(|&a| a == s)
    }

    fn started(&mut self, station: usize, server: usize, part: &Part) {
        if part.order == NO_ORDER {
            return;
        }
        let key = self.key(part);
        self.units[part.order as usize][part.unit as usize].started = Some(part.gstep);
        let done = !self.lot || self.to_start(part.order, part.gstep) == 0;
        if self.seq[station][server].front() == Some(&key) {
            if done {
                self.seq[station][server].pop_front();
            }
            return;
        }
        // Taken out of plan order (after a deadlock fell back to the station's rule).
        self.out_of_plan += 1;
        if done {
            self.strike(key);
        }
    }

    fn began(&mut self, now: f64, _station: usize, _server: usize, part: &Part) {
        if part.order == NO_ORDER {
            return;
        }
        let key = self.key(part);
        if self.lot && !self.begun.insert(key) {
            return;
        }
        if let Some(&(_, _, start)) = self.planned.get(&key) {
            self.deviations.push(now - start);
        }
    }

    fn left(&mut self, now: f64, part: &Part, scrapped: bool) {
        if part.order == NO_ORDER {
            return;
        }
        let o = part.order as usize;
        self.units[o][part.unit as usize].gone = true;
        self.left[o] = self.left[o].saturating_sub(1);
        if self.left[o] == 0 {
            self.completion[o] = Some(now);
        }
        if scrapped && !self.lot {
            // Its later operations will never come.
            let (first, last) = (part.gstep + 1, self.last_gstep[o]);
            for g in first..=last {
                self.strike((part.order, part.unit, g));
            }
        }
    }

    fn deadlock(&mut self, _station: usize, _server: usize, _held: Held) {
        self.deadlocks += 1;
    }

    fn kpis(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let n = self.deviations.len();
        let mean = |xs: &mut dyn Iterator<Item = f64>| {
            let (mut s, mut k) = (0.0, 0usize);
            for x in xs {
                s += x;
                k += 1;
            }
            if k == 0 { 0.0 } else { s / k as f64 }
        };
        out.push(("operations_begun".into(), n as f64));
        out.push((
            "start_deviation_mean_s".into(),
            mean(&mut self.deviations.iter().copied()),
        ));
        out.push((
            "start_deviation_abs_mean_s".into(),
            mean(&mut self.deviations.iter().map(|x| x.abs())),
        ));
        let mut sorted = self.deviations.clone();
        sorted.sort_by(f64::total_cmp);
        let p95 = if n == 0 {
            0.0
        } else {
            // Nearest rank.
            sorted[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1]
        };
        out.push(("start_deviation_p95_s".into(), p95));
        out.push(("fallbacks".into(), self.deadlocks as f64));
        out.push(("out_of_plan_starts".into(), self.out_of_plan as f64));
        let adh = self.adherence();
        let orders = adh.len().max(1) as f64;
        let planned_on_time = adh.iter().filter(|a| a.planned_tardiness_s <= 0.0).count() as f64;
        let on_time = adh.iter().filter(|a| a.tardiness_s == Some(0.0)).count() as f64;
        out.push(("planned_on_time_pct".into(), 100.0 * planned_on_time / orders));
        out.push(("on_time_pct".into(), 100.0 * on_time / orders));
        let pwt: f64 = adh
            .iter()
            .zip(&self.weight)
            .map(|(a, w)| w * a.planned_tardiness_s)
            .sum();
        out.push(("planned_weighted_tardiness_s".into(), pwt));
        out.push((
            "completion_deviation_mean_s".into(),
            mean(
                &mut adh
                    .iter()
                    .filter_map(|a| a.completion_s.map(|c| c - a.planned_completion_s)),
            ),
        ));
        for a in &adh {
            let at = |k: &str| format!("order.{}.{k}", a.order);
            out.push((at("planned_completion_s"), a.planned_completion_s));
            out.push((at("planned_tardiness_s"), a.planned_tardiness_s));
            if let (Some(c), Some(t)) = (a.completion_s, a.tardiness_s) {
                out.push((at("completion_s"), c));
                out.push((at("tardiness_s"), t));
            }
        }
        out
    }
}

/// A factory of fresh [`PlanPolicy`]s executing `schedule` on `cfg`'s plant, for
/// [`Compiled::with_policy`] (every replication and fork starts the plan afresh).
pub fn plan_factory(cfg: &Compiled, schedule: &PlantSchedule) -> Result<PolicyFactory, PlanError> {
    let template = PlanPolicy::new(cfg, schedule)?;
    Ok(Arc::new(move || Box::new(template.clone())))
}
