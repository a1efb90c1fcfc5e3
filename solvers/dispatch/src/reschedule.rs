//! [`ReschedulePolicy`]: plan execution that reschedules when the plant changes.
//!
//! It executes a unit plan as [`PlanPolicy`] does and follows the plant through the hook's
//! callbacks: which unit each server holds and since when, each server's family, which
//! servers are down and since when. A trigger of the plant's `[reschedule]` (breakdown,
//! repair, order release, a start more than `deviation` off the plan, every `period`) makes it
//! build the APS problem of what is left ([`PlantProblem::at`]), with expected times:
//! - an operation in progress keeps its server and starts at 0 with its remaining time (its
//!   mean minus the time it has run, plus the expected rest of the repair if its server is
//!   down; the mean plus the mean setup while it is being set up);
//! - a down server is ready at its expected repair end (down since + mean repair time);
//! - every server keeps the family it is set up for;
//! - the operations of the running plan that start within the frozen horizon keep their
//!   server and order.
//!
//! and to re-plan it by one of two methods:
//! - [`Method::Repair`] (affected-operations repair): the operations planned on the servers
//!   whose availability changed move to the best machine and place for total weighted
//!   tardiness (`twinworks_aps::solve::repair`); every other operation keeps server and order
//!   and only shifts in time;
//! - [`Method::Resolve`] (full re-solve): the tabu search under the iteration budget
//!   `[reschedule] iterations`, warm-started from the running plan, so that a run stays
//!   reproducible.
//!
//! Stability per reschedule goes to the KPIs: operations moved to another server, mean
//! absolute start change, sequence changes (operations whose predecessor on their server
//! changed), solver iterations. The solver's wall time is measured ([`Latencies`]) but kept
//! out of the KPIs, which must be the same for the same seed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use twinworks_aps::objective::Objective;
use twinworks_aps::plant_plan::{InProgress, JobProgress, MachineNow, PlantProblem, PlantSchedule, ShopState, Split};
use twinworks_aps::rng::mix;
use twinworks_aps::schedule::{Schedule, ScheduledOperation};
use twinworks_aps::solve::{Budget, SolveOptions, repair, solve_from};
use twinworks_twins::plant::Reschedule;
use twinworks_twins::sim::dispatch::{Candidate, Decision, DispatchPolicy, Held, PolicyFactory};
use twinworks_twins::sim::{Compiled, NO_ORDER, Part};

use crate::plan::{Key, PlanError, PlanPolicy};

/// An operation of the whole plant's problem: (job, routing step).
type OpKey = (usize, usize);

/// A running plan: per operation, its machine and planned start [s].
type PlanMap = HashMap<OpKey, (usize, f64)>;

/// How a triggered reschedule re-plans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Affected-operations repair: only the operations of servers whose availability changed
    /// move.
    Repair,
    /// Full re-solve from the present state under the iteration budget.
    Resolve,
}

/// Wall times of the re-plans of every policy made by one factory [ms] (for benchmarks; the
/// KPIs never include them).
pub type Latencies = Arc<Mutex<Vec<f64>>>;

/// What every policy of one plan shares.
#[derive(Debug)]
struct Shared {
    /// The whole plant's problem, as the plan was made.
    pp: PlantProblem,
    settings: Reschedule,
    method: Method,
    /// Per order: the index of its unit 0's job.
    job0: Vec<usize>,
    /// Per order: its product.
    product: Vec<usize>,
    /// Per product: its family.
    family: Vec<u16>,
    step_base: Vec<u32>,
    /// Per station: its first machine.
    first_machine: Vec<usize>,
    /// Machine → (station, server).
    machine_of: Vec<(u32, u32)>,
    /// Per station: the mean repair time [s], if it fails; and the mean initial setup.
    repair_mean: Vec<f64>,
    initial_setup: Vec<f64>,
    latencies: Latencies,
}

/// One server as the policy follows it.
#[derive(Clone, Copy, Debug, Default)]
struct ServerNow {
    /// The unit it holds: (order, unit, global step), and when processing began.
    op: Option<(Key, Option<f64>)>,
    /// The family it is set up for.
    family: Option<usize>,
    /// The mean setup [s] its current operation started with.
    setup_s: f64,
    down_since: Option<f64>,
    /// Its availability changed since the last reschedule.
    changed: bool,
}

/// Plan execution with event-driven rescheduling (see the module docs).
#[derive(Clone, Debug)]
pub struct ReschedulePolicy {
    plan: PlanPolicy,
    shared: Arc<Shared>,
    servers: Vec<Vec<ServerNow>>,
    /// The trigger waiting for the next poll, if any.
    pending: Option<&'static str>,
    next_period: f64,
    /// The running plan: per (job, step), its machine and start [s].
    current: PlanMap,
    count: HashMap<&'static str, u64>,
    moved: u64,
    seq_changes: u64,
    start_change_sum: f64,
    start_change_n: u64,
    iterations: u64,
    failed: u64,
}

impl ReschedulePolicy {
    /// Executes `schedule` (a unit plan of `cfg`'s plant, made from `pp`) and reschedules it by
    /// `method` on the plant's `[reschedule]` triggers.
    pub fn new(
        cfg: &Compiled,
        pp: PlantProblem,
        schedule: &PlantSchedule,
        method: Method,
        latencies: Latencies,
    ) -> Result<ReschedulePolicy, PlanError> {
        if schedule.split != Split::Unit || pp.split != Split::Unit {
            return Err(PlanError(
                "rescheduling needs a unit plan (`plan`, not `plan(lot)`)".into(),
            ));
        }
        let plan = PlanPolicy::new(cfg, schedule)?;
        let plant = &cfg.plant;
        let mut job0 = Vec::with_capacity(plant.orders.len());
        let mut acc = 0usize;
        for o in &plant.orders {
            job0.push(acc);
            acc += o.quantity as usize;
        }
        let mut first_machine = Vec::new();
        let mut machine_of = Vec::new();
        for (s, st) in plant.stations.iter().enumerate() {
            first_machine.push(machine_of.len());
            for k in 0..st.capacity {
                machine_of.push((s as u32, k));
            }
        }
        let mut current = HashMap::new();
        for op in &schedule.operations {
            current.insert((op.job, op.step), (op.machine, op.start as f64));
        }
        let settings = plant.reschedule.clone();
        let next_period = settings.period.map_or(f64::INFINITY, |p| p.secs());
        let shared = Shared {
            settings,
            method,
            job0,
            product: plant.orders.iter().map(|o| o.product).collect(),
            family: cfg.family.clone(),
            step_base: cfg.step_base.clone(),
            first_machine,
            machine_of,
            repair_mean: plant
                .stations
                .iter()
                .map(|s| s.failures.as_ref().map_or(0.0, |f| f.repair.mean()))
                .collect(),
            initial_setup: plant
                .stations
                .iter()
                .map(|s| s.setups.initial.as_ref().map_or(0.0, |d| d.mean()))
                .collect(),
            latencies,
            pp,
        };
        Ok(ReschedulePolicy {
            plan,
            servers: plant
                .stations
                .iter()
                .map(|s| vec![ServerNow::default(); s.capacity as usize])
                .collect(),
            shared: Arc::new(shared),
            pending: None,
            next_period,
            current,
            count: HashMap::new(),
            moved: 0,
            seq_changes: 0,
            start_change_sum: 0.0,
            start_change_n: 0,
            iterations: 0,
            failed: 0,
        })
    }

    /// The job index of unit `unit` of order `o`.
    fn job(&self, o: u32, unit: u32) -> usize {
        self.shared.job0[o as usize] + unit as usize
    }

    /// The routing step of global step `g` of order `o`.
    fn step(&self, o: u32, g: u32) -> usize {
        (g - self.shared.step_base[self.shared.product[o as usize]]) as usize
    }

    fn machine(&self, s: usize, k: usize) -> usize {
        self.shared.first_machine[s] + k
    }

    /// The plant now, as the APS needs it (see the module docs).
    fn state(&self, now: f64) -> ShopState {
        let sh = &*self.shared;
        let base = &sh.pp.problem;
        let mut jobs: Vec<JobProgress> = vec![JobProgress::default(); base.jobs.len()];
        for (o, &j0) in sh.job0.iter().enumerate() {
            let units = if o + 1 < sh.job0.len() {
                sh.job0[o + 1] - j0
            } else {
                base.jobs.len() - j0
            };
            for u in 0..units {
                let (gone, started) = self.plan.unit(o as u32, u as u32);
                jobs[j0 + u] = JobProgress {
                    gone,
                    next_step: started.map_or(0, |g| self.step(o as u32, g) + 1),
                    in_progress: None,
                };
            }
        }
        let mut machines = vec![
            MachineNow {
                ready_s: now,
                family: None,
            };
            base.machines
        ];
        for (s, servers) in self.servers.iter().enumerate() {
            for (k, v) in servers.iter().enumerate() {
                let m = self.machine(s, k);
                let repair_left = v.down_since.map_or(0.0, |d| (d + sh.repair_mean[s] - now).max(0.0));
                machines[m].family = v.family;
                machines[m].ready_s = if v.family.is_none() && v.op.is_none() {
                    // Never started: its initial setup is still to come.
                    now.max(sh.initial_setup[s]) + repair_left
                } else {
                    now + repair_left
                };
                let Some(((o, u, g), began)) = v.op else { continue };
                let j = self.job(o, u);
                let step = self.step(o, g);
                if jobs[j].gone || jobs[j].next_step != step + 1 {
                    continue; // it moved on
                }
                let p = base.jobs[j].operations[step].duration_on(m).unwrap_or(0) as f64;
                let left = match began {
                    Some(b) => (b + p - now).max(0.0),
                    // Being set up: the mean setup, then the operation.
                    None => p + v.setup_s,
                };
                jobs[j].in_progress = Some(InProgress {
                    machine: m,
                    remaining_s: left + repair_left,
                });
            }
        }
        let horizon = now + sh.settings.frozen.secs();
        let mut frozen = Vec::new();
        if sh.settings.frozen.secs() > 0.0 {
            for (s, servers) in self.plan.sequences().iter().enumerate() {
                for (k, q) in servers.iter().enumerate() {
                    for &(o, u, g) in q {
                        let Some((_, _, start)) = self.plan.planned((o, u, g)) else {
                            continue;
                        };
                        if start < horizon {
                            frozen.push((start, self.job(o, u), self.step(o, g), self.machine(s, k)));
                        }
                    }
                }
            }
        }
        frozen.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        ShopState {
            now,
            jobs,
            machines,
            frozen: frozen.into_iter().map(|(_, j, st, m)| (j, st, m)).collect(),
        }
    }

    /// Re-plans from the present (the trigger `why`). Returns whether the plan changed.
    fn reschedule(&mut self, now: f64, why: &'static str) -> bool {
        *self.count.entry(why).or_default() += 1;
        let state = self.state(now);
        let sh = Arc::clone(&self.shared);
        let Ok(pp) = sh.pp.at(&state) else {
            return false; // nothing left to plan
        };
        let origin = pp.origin as f64;
        // The running plan on the new problem's axis: its order is the warm start.
        let mut warm = Vec::new();
        for (nj, job) in pp.problem.jobs.iter().enumerate() {
            let j = pp.source_job[nj];
            for (k, op) in job.operations.iter().enumerate() {
                let step = pp.first_step[nj] + k;
                let (machine, start) = match self.current.get(&(j, step)) {
                    Some(&(m, t)) if op.duration_on(m).is_some() => (m, (t - origin).max(0.0) as i64),
                    _ => (op.alternatives[0].machine, 0),
                };
                warm.push(ScheduledOperation {
                    job: nj,
                    operation: k,
                    machine,
                    start,
                    end: start,
                    position: 0,
                });
            }
        }
        // A pin's machine is its own whatever the running plan said.
        for p in &pp.problem.pinned {
            if let Some(w) = warm.iter_mut().find(|w| w.job == p.job && w.operation == p.op) {
                w.machine = p.machine;
                w.start = p.start.unwrap_or(w.start);
            }
        }
        let warm = Schedule {
            operations: warm,
            setups: Vec::new(),
        };
        let clock = Instant::now();
        let result = match sh.method {
            Method::Repair => {
                let changed: Vec<usize> = self
                    .servers
                    .iter()
                    .enumerate()
                    .flat_map(|(s, v)| {
                        v.iter()
                            .enumerate()
                            .filter(|(_, x)| x.changed || x.down_since.is_some())
                            .map(move |(k, _)| (s, k))
                    })
                    .map(|(s, k)| self.machine(s, k))
                    .collect();
                let moved: Vec<(usize, usize)> = warm
                    .operations
                    .iter()
                    .filter(|w| changed.contains(&w.machine))
                    .map(|w| (w.job, w.operation))
                    .collect();
                repair(&pp.problem, Objective::Twt, &warm, &moved).map(|s| (s, 0))
            }
            Method::Resolve => {
                let opts = SolveOptions {
                    objective: Objective::Twt,
                    threads: 1,
                    seed: mix(1, self.count.values().sum()),
                    budget: Budget::Iterations(sh.settings.iterations),
                    slots: 2,
                };
                solve_from(&pp.problem, &opts, Some(&warm)).map(|r| (r.schedule, r.iterations))
            }
        };
        sh.latencies
            .lock()
            .expect("latency log")
            .push(clock.elapsed().as_secs_f64() * 1e3);
        for v in self.servers.iter_mut().flatten() {
            v.changed = false;
        }
        let Ok((schedule, iterations)) = result else {
            self.failed += 1;
            return false;
        };
        self.iterations += iterations;
        self.install(&pp, &schedule, origin);
        true
    }

    /// Makes `schedule` (of `pp`, time 0 = `origin`) the running plan and counts how it
    /// differs from the one before.
    fn install(&mut self, pp: &PlantProblem, schedule: &Schedule, origin: f64) {
        let sh = Arc::clone(&self.shared);
        let pinned_start: Vec<(usize, usize)> = pp
            .problem
            .pinned
            .iter()
            .filter(|p| p.start.is_some())
            .map(|p| (p.job, p.op))
            .collect();
        let mut ops: Vec<(Key, u32, u32, f64)> = Vec::new();
        let mut next = HashMap::new();
        for so in &schedule.operations {
            if pinned_start.contains(&(so.job, so.operation)) {
                continue; // in progress
            }
            let j = pp.source_job[so.job];
            let step = pp.first_step[so.job] + so.operation;
            let start = origin + so.start as f64;
            next.insert((j, step), (so.machine, start));
            let jr = &pp.jobs[so.job];
            let o = sh.job0.partition_point(|&j0| j0 <= j) - 1;
            let unit = jr.unit.unwrap_or(0);
            let g = sh.step_base[sh.product[o]] + step as u32;
            let (s, k) = sh.machine_of[so.machine];
            ops.push(((o as u32, unit, g), s, k, start));
        }
        ops.sort_by(|a, b| a.3.total_cmp(&b.3).then(a.0.cmp(&b.0)));
        // Stability against the running plan, over the operations both still plan.
        let before = |m: &PlanMap| {
            let mut per: HashMap<usize, Vec<(f64, OpKey)>> = HashMap::new();
            for (&key, &(mach, start)) in m {
                if next.contains_key(&key) {
                    per.entry(mach).or_default().push((start, key));
                }
            }
            let mut pred = HashMap::new();
            for v in per.values_mut() {
                v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for w in v.windows(2) {
                    pred.insert(w[1].1, w[0].1);
                }
            }
            pred
        };
        let old: PlanMap = self
            .current
            .iter()
            .filter(|(k, _)| next.contains_key(k))
            .map(|(k, v)| (*k, *v))
            .collect();
        let (pred_old, pred_new) = (before(&old), before(&next));
        for (key, &(m, start)) in &next {
            if let Some(&(m0, s0)) = old.get(key) {
                self.moved += u64::from(m0 != m);
                self.start_change_sum += (start - s0).abs();
                self.start_change_n += 1;
                self.seq_changes += u64::from(pred_old.get(key) != pred_new.get(key));
            }
        }
        self.current = next;
        self.plan.replace(&ops);
    }
}

impl DispatchPolicy for ReschedulePolicy {
    fn pick_part(&mut self, d: &Decision, candidates: &[Candidate]) -> usize {
        self.plan.pick_part(d, candidates)
    }

    fn reservation(&mut self, station: usize, server: usize) -> Option<Held> {
        self.plan.reservation(station, server)
    }

    fn route(&mut self, now: f64, part: &Part, alternatives: &[u32]) -> Option<usize> {
        self.plan.route(now, part, alternatives)
    }

    fn started(&mut self, station: usize, server: usize, part: &Part) {
        self.plan.started(station, server, part);
        let m = self.machine(station, server);
        let sh = &*self.shared;
        let v = &mut self.servers[station][server];
        let family = sh.family[part.product as usize] as usize;
        // The mean setup it starts with: from the family before, or the initial one.
        v.setup_s = match v.family {
            Some(f) => sh.pp.problem.setup(m, f, family) as f64,
            None => sh.initial_setup[station],
        };
        v.family = Some(family);
        if part.order == NO_ORDER {
            v.op = None;
            return;
        }
        let key = (part.order, part.unit, part.gstep);
        v.op = Some((key, None));
        // It left the server it was on before.
        for (s, servers) in self.servers.iter_mut().enumerate() {
            for (k, w) in servers.iter_mut().enumerate() {
                if (s, k) != (station, server)
                    && let Some(((o, u, _), _)) = w.op
                    && (o, u) == (part.order, part.unit)
                {
                    w.op = None;
                }
            }
        }
    }

    fn began(&mut self, now: f64, station: usize, server: usize, part: &Part) {
        self.plan.began(now, station, server, part);
        if part.order == NO_ORDER {
            return;
        }
        if let Some((_, b)) = &mut self.servers[station][server].op {
            *b = Some(now);
        }
        if let Some(dev) = self.shared.settings.deviation
            && let Some((_, _, start)) = self.plan.planned((part.order, part.unit, part.gstep))
            && (now - start).abs() > dev.secs()
        {
            self.pending.get_or_insert("deviation");
        }
    }

    fn left(&mut self, now: f64, part: &Part, scrapped: bool) {
        self.plan.left(now, part, scrapped);
        for w in self.servers.iter_mut().flatten() {
            if let Some(((o, u, _), _)) = w.op
                && (o, u) == (part.order, part.unit)
            {
                w.op = None;
            }
        }
    }

    fn deadlock(&mut self, station: usize, server: usize, held: Held) {
        self.plan.deadlock(station, server, held);
    }

    fn availability(&mut self, now: f64, station: usize, server: usize, down: bool) {
        let v = &mut self.servers[station][server];
        v.down_since = down.then_some(now);
        v.changed = true;
        let s = &self.shared.settings;
        if down && s.on_breakdown {
            self.pending.get_or_insert("breakdown");
        } else if !down && s.on_repair {
            self.pending.get_or_insert("repair");
        }
    }

    fn released(&mut self, _now: f64, _order: u32) {
        if self.shared.settings.on_release {
            self.pending.get_or_insert("release");
        }
    }

    fn replan(&mut self, now: f64) -> bool {
        if now >= self.next_period {
            let p = self.shared.settings.period.map_or(f64::INFINITY, |p| p.secs());
            while self.next_period <= now {
                self.next_period += p;
            }
            self.pending.get_or_insert("period");
        }
        match self.pending.take() {
            Some(why) => self.reschedule(now, why),
            None => false,
        }
    }

    fn kpis(&self) -> Vec<(String, f64)> {
        let mut out = self.plan.kpis();
        let total: u64 = self.count.values().sum();
        out.push(("reschedules".into(), total as f64));
        for why in ["breakdown", "repair", "release", "deviation", "period"] {
            out.push((
                format!("reschedules_on_{why}"),
                self.count.get(why).copied().unwrap_or(0) as f64,
            ));
        }
        out.push(("reschedule_failures".into(), self.failed as f64));
        out.push(("moved_to_other_server".into(), self.moved as f64));
        out.push(("sequence_changes".into(), self.seq_changes as f64));
        out.push((
            "start_change_abs_mean_s".into(),
            if self.start_change_n == 0 {
                0.0
            } else {
                self.start_change_sum / self.start_change_n as f64
            },
        ));
        out.push(("solver_iterations".into(), self.iterations as f64));
        out
    }
}

/// A factory of fresh [`ReschedulePolicy`]s (see [`ReschedulePolicy::new`]); the wall times of
/// all their re-plans go to `latencies`.
pub fn reschedule_factory(
    cfg: &Compiled,
    pp: PlantProblem,
    schedule: &PlantSchedule,
    method: Method,
    latencies: Latencies,
) -> Result<PolicyFactory, PlanError> {
    let template = ReschedulePolicy::new(cfg, pp, schedule, method, latencies)?;
    Ok(Arc::new(move || Box::new(template.clone())))
}
