//! Planning a plant's orders: a `PlantModel` and its orders become a [`Problem`], and a solved
//! [`Schedule`] comes back in plant terms as a [`PlantSchedule`] — the documented JSON that the
//! viewer and the dispatcher read (`solvers/aps/schedule.schema.json`).
//!
//! The mapping, stated plainly:
//! - every parallel server of a station is one machine (`Lathe#0`, `Lathe#1`);
//! - an order is one job per lot (`Split::Lot`: each operation processes the whole quantity,
//!   duration = quantity × mean unit time) or one job per unit (`Split::Unit`);
//! - an operation is a routing step; its alternatives are all servers of the step's stations,
//!   with the mean of the step's process-time distribution at that station;
//! - setups: the mean of the station's setup distribution from one product family to another
//!   (none within a family); a station's initial setup (`setup.initial`, before a server's
//!   first part) makes its servers ready only at its mean (`Problem::machine_ready`), and the
//!   schedule lists it as a setup from no family at time 0 — the twin, executing the plan,
//!   sets up ahead from time 0 as well;
//! - release = order release, due = order due date, weight = order priority;
//! - time unit: whole seconds from the plant's time 0 (its calendar start, if it has one).
//!
//! Not modelled by the schedule (the simulation has them): shift calendars, breakdowns, scrap and
//! random process times. The schedule is the deterministic plan; run it through the twin to see
//! how it fares against them.

use serde::{Deserialize, Serialize};
use twinworks_twins::plant::PlantModel;

use crate::problem::{Alternative, Job, Operation, Problem, SetupMatrix, Time};
use crate::schedule::Schedule;

mod state;

pub use state::{InProgress, JobProgress, MachineNow, ShopState};

/// The version tag of the schedule JSON format.
pub const FORMAT: &str = "twinworks-schedule/1";

/// How orders become jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// One job per order: each operation processes the whole lot.
    Lot,
    /// One job per unit of an order.
    Unit,
}

/// A machine of the problem: one server of a station.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MachineRef {
    /// Station name.
    pub station: String,
    /// Server index within the station (0-based).
    pub server: u32,
}

/// A job of the problem: an order, or one unit of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRef {
    /// Order id.
    pub order: String,
    /// Product name.
    pub product: String,
    /// Units in this job.
    pub quantity: u32,
    /// Which unit (0-based) with `Split::Unit`.
    pub unit: Option<u32>,
    /// Release [s].
    pub release: Time,
    /// Due date [s], if any.
    pub due: Option<Time>,
    /// Weight (the order's priority).
    pub weight: i64,
}

/// A plant's orders as a scheduling problem, with the way back to plant names.
#[derive(Clone, Debug)]
pub struct PlantProblem {
    /// The problem for the solvers.
    pub problem: Problem,
    /// Machine index → station and server.
    pub machines: Vec<MachineRef>,
    /// Job index → order.
    pub jobs: Vec<JobRef>,
    /// Family index → name.
    pub families: Vec<String>,
    /// How orders were split.
    pub split: Split,
    /// Per job: its index among the jobs of the whole plant's problem (the identity, except
    /// from a running state, where gone jobs drop out).
    pub source_job: Vec<usize>,
    /// Per job: the routing step its first operation is (0, except in a plan from a running
    /// plant's state, [`PlantProblem::at`], where done steps are gone).
    pub first_step: Vec<usize>,
    /// Plant time [s] that the problem's time 0 stands for (0, except from a running state).
    pub origin: Time,
    /// Whether machine ready times are the stations' initial setups (listed in the schedule
    /// as setups from no family), as in a plan from time 0.
    pub ready_is_initial_setup: bool,
}

/// Why a plant cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// There is nothing to plan.
    #[error("the plant has no orders to schedule (add [[order]] entries or --orders FILE)")]
    NoOrders,
    /// Unit split would make too many jobs.
    #[error("splitting into units makes {jobs} jobs (at most {max}); use --split lot")]
    TooManyJobs { jobs: usize, max: usize },
    /// The plan's times would not fit the solvers' integer seconds.
    #[error(
        "the orders' work and releases add up to {total:e} s, beyond the scheduler's limit of {MAX_PLAN_SPAN:e} s; schedule fewer or shorter orders"
    )]
    TooLong { total: f64 },
}

/// The longest span a plant plan may need (all work in sequence after the latest release) [s]:
/// any start time the solvers compute stays below it, far from `i64::MAX`.
pub const MAX_PLAN_SPAN: f64 = 1e15;

/// Most jobs a unit split may create.
pub const MAX_UNIT_JOBS: usize = 20_000;

fn secs(x: f64) -> Time {
    x.round() as Time
}

/// Builds the scheduling problem of `plant`'s orders.
pub fn plant_problem(plant: &PlantModel, split: Split) -> Result<PlantProblem, PlanError> {
    if plant.orders.is_empty() {
        return Err(PlanError::NoOrders);
    }
    if split == Split::Unit {
        let jobs: usize = plant.orders.iter().map(|o| o.quantity as usize).sum();
        if jobs > MAX_UNIT_JOBS {
            return Err(PlanError::TooManyJobs {
                jobs,
                max: MAX_UNIT_JOBS,
            });
        }
    }
    let mut machines = Vec::new();
    let mut first_machine = Vec::new();
    for st in &plant.stations {
        first_machine.push(machines.len());
        for k in 0..st.capacity {
            machines.push(MachineRef {
                station: st.name.clone(),
                server: k,
            });
        }
    }
    let mut jobs = Vec::new();
    let mut refs = Vec::new();
    for o in &plant.orders {
        let product = &plant.products[o.product];
        let (count, per_job) = match split {
            Split::Lot => (1, o.quantity),
            Split::Unit => (o.quantity, 1),
        };
        for u in 0..count {
            let operations = product
                .routing
                .iter()
                .enumerate()
                .map(|(k, step)| {
                    let alternatives = step
                        .stations
                        .iter()
                        .flat_map(|&s| {
                            let d = secs(plant.process_time(o.product, k, s).mean() * per_job as f64);
                            let first = first_machine[s];
                            (0..plant.stations[s].capacity as usize).map(move |srv| Alternative {
                                machine: first + srv,
                                duration: d,
                            })
                        })
                        .collect();
                    Operation {
                        alternatives,
                        family: product.family,
                    }
                })
                .collect();
            let mut job = Job::new(operations);
            job.release = secs(o.release.secs());
            job.due = o.due.map(|d| secs(d.secs()));
            job.weight = o.priority.max(0) as i64;
            jobs.push(job);
            refs.push(JobRef {
                order: o.id.clone(),
                product: product.name.clone(),
                quantity: per_job,
                unit: (split == Split::Unit).then_some(u),
                release: secs(o.release.secs()),
                due: o.due.map(|d| secs(d.secs())),
                weight: o.priority.max(0) as i64,
            });
        }
    }
    let families = plant.families.len();
    let setups = plant.stations.iter().any(|s| s.setups.any()).then(|| {
        let mut m = SetupMatrix::zeros(machines.len(), families);
        for (s, st) in plant.stations.iter().enumerate() {
            for srv in 0..st.capacity as usize {
                for from in 0..families {
                    for to in 0..families {
                        if from != to
                            && let Some(d) = st.setups.between(Some(from), to)
                        {
                            m.set(first_machine[s] + srv, from, to, secs(d.mean()));
                        }
                    }
                }
            }
        }
        m
    });
    // Every start time is at most the latest release plus all work (and setups) in sequence.
    let work: f64 = jobs
        .iter()
        .flat_map(|j| &j.operations)
        .map(|o| o.alternatives.iter().map(|a| a.duration).max().unwrap_or(0) as f64)
        .sum();
    let setup = setups.as_ref().map_or(0.0, |m| {
        m.times.iter().copied().max().unwrap_or(0) as f64
            * jobs.iter().map(|j| j.operations.len()).sum::<usize>() as f64
    });
    let release = jobs.iter().map(|j| j.release).max().unwrap_or(0) as f64;
    let initial = plant
        .stations
        .iter()
        .filter_map(|s| s.setups.initial.as_ref().map(|d| d.mean()))
        .fold(0.0, f64::max);
    let total = work + setup + release + initial;
    if total.is_nan() || total > MAX_PLAN_SPAN {
        return Err(PlanError::TooLong { total });
    }
    // A station's initial setup: its servers are ready only after it.
    let ready: Vec<Time> = plant
        .stations
        .iter()
        .flat_map(|st| {
            let r = st.setups.initial.as_ref().map_or(0, |d| secs(d.mean()));
            (0..st.capacity).map(move |_| r)
        })
        .collect();
    let machine_ready = if ready.iter().any(|&r| r > 0) {
        ready
    } else {
        Vec::new()
    };
    Ok(PlantProblem {
        problem: Problem {
            name: plant.name.clone(),
            machines: machines.len(),
            jobs,
            setups,
            machine_ready,
            initial_family: Vec::new(),
            pinned: Vec::new(),
        },
        machines,
        first_step: vec![0; refs.len()],
        source_job: (0..refs.len()).collect(),
        jobs: refs,
        families: plant.families.clone(),
        split,
        origin: 0,
        ready_is_initial_setup: true,
    })
}

/// One operation of a plant schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedOperation {
    /// Job index.
    pub job: usize,
    /// Order id.
    pub order: String,
    /// Product name.
    pub product: String,
    /// Routing step (0-based).
    pub step: usize,
    /// Machine index.
    pub machine: usize,
    /// Station name.
    pub station: String,
    /// Server of the station.
    pub server: u32,
    /// Start [s].
    pub start: Time,
    /// End [s].
    pub end: Time,
}

/// A setup interval of a plant schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedSetup {
    /// Machine index.
    pub machine: usize,
    /// Station name.
    pub station: String,
    /// Server of the station.
    pub server: u32,
    /// Start [s].
    pub start: Time,
    /// End [s].
    pub end: Time,
    /// Family set up from (`null` for a server's initial setup).
    pub from_family: Option<String>,
    /// Family set up for.
    pub to_family: String,
}

/// A schedule in plant terms: the documented JSON (`schedule.schema.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlantSchedule {
    /// Always [`FORMAT`].
    pub format: String,
    /// Plant name.
    pub plant: String,
    /// Unit of every time in the document: seconds from the plant's time 0.
    pub time_unit: String,
    /// The plant's calendar start (RFC 3339) that time 0 stands for, if it has one.
    pub calendar_start: Option<String>,
    /// How orders were split into jobs.
    pub split: Split,
    /// The objective optimized.
    pub objective: String,
    /// Its value.
    pub value: i64,
    /// A lower bound on it.
    pub lower_bound: i64,
    /// Machines (station servers).
    pub machines: Vec<MachineRef>,
    /// Jobs (orders or units).
    pub jobs: Vec<JobRef>,
    /// Operations in order of start time.
    pub operations: Vec<PlannedOperation>,
    /// Setups in order of start time.
    pub setups: Vec<PlannedSetup>,
}

impl PlantSchedule {
    /// Translates a solved schedule back into plant terms.
    pub fn new(
        pp: &PlantProblem,
        plant: &PlantModel,
        schedule: &Schedule,
        objective: String,
        value: i64,
        lower_bound: i64,
    ) -> PlantSchedule {
        let mut operations: Vec<PlannedOperation> = schedule
            .operations
            .iter()
            .map(|o| PlannedOperation {
                job: o.job,
                order: pp.jobs[o.job].order.clone(),
                product: pp.jobs[o.job].product.clone(),
                step: pp.first_step[o.job] + o.operation,
                machine: o.machine,
                station: pp.machines[o.machine].station.clone(),
                server: pp.machines[o.machine].server,
                start: pp.origin + o.start,
                end: pp.origin + o.end,
            })
            .collect();
        operations.sort_by_key(|o| (o.start, o.machine));
        let family =
            |r: &crate::schedule::OpRef| pp.families[pp.problem.jobs[r.job].operations[r.operation].family].clone();
        let mut setups: Vec<PlannedSetup> = schedule
            .setups
            .iter()
            .map(|s| PlannedSetup {
                machine: s.machine,
                station: pp.machines[s.machine].station.clone(),
                server: pp.machines[s.machine].server,
                start: pp.origin + s.start,
                end: pp.origin + s.end,
                from_family: Some(family(&s.from)),
                to_family: family(&s.to),
            })
            .collect();
        let first_on = |m: usize| operations.iter().filter(|o| o.machine == m).min_by_key(|o| o.start);
        let family_of = |o: &PlannedOperation| pp.problem.jobs[o.job].operations[o.step - pp.first_step[o.job]].family;
        // The setup from a machine's current family, just before its first operation.
        for (m, from) in pp.problem.initial_family.iter().enumerate() {
            if let (Some(from), Some(first)) = (*from, first_on(m)) {
                let to = family_of(first);
                let d = pp.problem.setup(m, from, to);
                if d > 0 {
                    setups.push(PlannedSetup {
                        machine: m,
                        station: pp.machines[m].station.clone(),
                        server: pp.machines[m].server,
                        start: first.start - d,
                        end: first.start,
                        from_family: Some(pp.families[from].clone()),
                        to_family: pp.families[to].clone(),
                    });
                }
            }
        }
        // Initial setups: from time 0 to the machine's ready time, for the first operation.
        for (m, &ready) in pp.problem.machine_ready.iter().enumerate() {
            let first = first_on(m);
            if let Some(first) = first
                && ready > 0
                && pp.ready_is_initial_setup
            {
                let fam = family_of(first);
                setups.push(PlannedSetup {
                    machine: m,
                    station: pp.machines[m].station.clone(),
                    server: pp.machines[m].server,
                    start: 0,
                    end: ready,
                    from_family: None,
                    to_family: pp.families[fam].clone(),
                });
            }
        }
        setups.sort_by_key(|s| (s.start, s.machine));
        PlantSchedule {
            format: FORMAT.to_string(),
            plant: plant.name.clone(),
            time_unit: "s".into(),
            calendar_start: plant.start.as_ref().map(|s| s.text.clone()),
            split: pp.split,
            objective,
            value,
            lower_bound,
            machines: pp.machines.clone(),
            jobs: pp.jobs.clone(),
            operations,
            setups,
        }
    }
}

/// Reads a schedule JSON (`schedule.schema.json`) for `plant`: the JSON itself, its format
/// and plant, and every name and number in it against the plant: stations, servers, machines,
/// jobs, orders, products and routing steps exist, and every interval is `0 <= start <= end`;
/// and that it covers the plant's orders: every unit (unit split) or order (lot split) once,
/// each of its steps planned once.
/// Problems are located in the text (`path:line:column`, the JSON key), with the nearest
/// valid name where one is wrong.
pub fn read_plant_schedule(
    text: &str,
    path: &std::path::Path,
    plant: &PlantModel,
) -> Result<PlantSchedule, twinworks_twins::diagnostic::LoadError> {
    use twinworks_twins::diagnostic::{Reporter, json_spans, offset_of};
    let mut r = Reporter::new(path, text);
    let s: PlantSchedule = match serde_json::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            let at = offset_of(text, e.line(), e.column());
            r.error(at..at, format!("not a schedule: {e}"));
            return Err(r.into_error());
        }
    };
    let spans = json_spans(text);
    let span = |key: &str| spans.get(key).cloned().unwrap_or(0..0);
    if s.format != FORMAT {
        r.error(
            span("format"),
            format!("format: expected '{FORMAT}', got '{}'", s.format),
        );
    }
    if s.plant != plant.name {
        r.error(
            span("plant"),
            format!("plant: the schedule is for plant '{}', not '{}'", s.plant, plant.name),
        );
    }
    if s.time_unit != "s" {
        r.error(
            span("time_unit"),
            format!("time_unit: expected 's', got '{}'", s.time_unit),
        );
    }
    let station_names = || plant.stations.iter().map(|st| st.name.as_str());
    let server_of = |r: &mut Reporter, at: &str, station: &str, server: u32| -> Option<usize> {
        let Some(i) = plant.station_id(station) else {
            r.unknown(span(&format!("{at}.station")), "station", station, "", station_names());
            return None;
        };
        let cap = plant.stations[i].capacity;
        if server >= cap {
            r.error(
                span(&format!("{at}.server")),
                format!("{at}.server: station '{station}' has servers 0..{cap}, got {server}"),
            );
            return None;
        }
        Some(i)
    };
    for (m, mr) in s.machines.iter().enumerate() {
        server_of(&mut r, &format!("machines[{m}]"), &mr.station, mr.server);
    }
    let products = || plant.products.iter().map(|p| p.name.as_str());
    for (j, job) in s.jobs.iter().enumerate() {
        let at = format!("jobs[{j}]");
        if plant.products.iter().all(|p| p.name != job.product) {
            r.unknown(span(&format!("{at}.product")), "product", &job.product, "", products());
        }
        if plant.orders.iter().all(|o| o.id != job.order) {
            r.unknown(
                span(&format!("{at}.order")),
                "order",
                &job.order,
                "",
                plant.orders.iter().map(|o| o.id.as_str()),
            );
        }
    }
    let interval = |r: &mut Reporter, at: &str, start: Time, end: Time| {
        if start < 0 || end < start {
            r.error(
                span(&format!("{at}.start")),
                format!("{at}: an interval needs 0 <= start <= end, got start {start}, end {end}"),
            );
        }
    };
    for (k, op) in s.operations.iter().enumerate() {
        let at = format!("operations[{k}]");
        interval(&mut r, &at, op.start, op.end);
        let station = server_of(&mut r, &at, &op.station, op.server);
        match s.machines.get(op.machine) {
            Some(m) if m.station == op.station && m.server == op.server => {}
            Some(m) => r.error(
                span(&format!("{at}.machine")),
                format!(
                    "{at}.machine: machine {} is '{}' server {}, not '{}' server {}",
                    op.machine, m.station, m.server, op.station, op.server
                ),
            ),
            None => r.error(
                span(&format!("{at}.machine")),
                format!(
                    "{at}.machine: {} is not one of the {} machines",
                    op.machine,
                    s.machines.len()
                ),
            ),
        }
        match s.jobs.get(op.job) {
            Some(j) if j.order == op.order && j.product == op.product => {}
            Some(j) => r.error(
                span(&format!("{at}.job")),
                format!(
                    "{at}.job: job {} is order '{}' of '{}', not order '{}' of '{}'",
                    op.job, j.order, j.product, op.order, op.product
                ),
            ),
            None => r.error(
                span(&format!("{at}.job")),
                format!("{at}.job: {} is not one of the {} jobs", op.job, s.jobs.len()),
            ),
        }
        let Some(product) = plant.products.iter().find(|p| p.name == op.product) else {
            r.unknown(span(&format!("{at}.product")), "product", &op.product, "", products());
            continue;
        };
        match product.routing.get(op.step) {
            None => r.error(
                span(&format!("{at}.step")),
                format!(
                    "{at}.step: product '{}' has steps 0..{}, got {}",
                    op.product,
                    product.routing.len(),
                    op.step
                ),
            ),
            Some(step) => {
                if let Some(st) = station
                    && !step.stations.contains(&st)
                {
                    let names: Vec<&str> = step.stations.iter().map(|&i| plant.stations[i].name.as_str()).collect();
                    r.error(
                        span(&format!("{at}.station")),
                        format!(
                            "{at}.station: step {} of '{}' runs on {}, not on '{}'",
                            op.step,
                            op.product,
                            names.join(" or "),
                            op.station
                        ),
                    );
                }
            }
        }
    }
    // Coverage: every unit (unit split) or order (lot split) planned once, each step once.
    let mut seen = std::collections::HashSet::new();
    for (j, job) in s.jobs.iter().enumerate() {
        let at = format!("jobs[{j}]");
        let Some(order) = plant.orders.iter().find(|o| o.id == job.order) else {
            continue;
        };
        let ok = match s.split {
            Split::Lot => job.unit.is_none() && job.quantity == order.quantity,
            Split::Unit => job.unit.is_some_and(|u| u < order.quantity) && job.quantity == 1,
        };
        if !ok {
            r.error(
                span(&format!("{at}.quantity")),
                format!(
                    "{at}: a {} plan of order '{}' ({} units) needs {}, got quantity {} unit {:?}",
                    if s.split == Split::Lot { "lot" } else { "unit" },
                    order.id,
                    order.quantity,
                    if s.split == Split::Lot {
                        "one job of the whole quantity".to_string()
                    } else {
                        format!("one job per unit 0..{}", order.quantity)
                    },
                    job.quantity,
                    job.unit
                ),
            );
        } else if !seen.insert((job.order.clone(), job.unit)) {
            r.error(
                span(&format!("{at}.order")),
                format!("{at}: order '{}' unit {:?} is planned twice", job.order, job.unit),
            );
        }
    }
    if !r.has_errors() {
        let mut planned = std::collections::HashSet::new();
        for (k, op) in s.operations.iter().enumerate() {
            if !planned.insert((op.job, op.step)) {
                r.error(
                    span(&format!("operations[{k}].step")),
                    format!("operations[{k}]: step {} of job {} is planned twice", op.step, op.job),
                );
            }
        }
        for o in &plant.orders {
            let units: Vec<Option<u32>> = match s.split {
                Split::Lot => vec![None],
                Split::Unit => (0..o.quantity).map(Some).collect(),
            };
            let steps = plant.products[o.product].routing.len();
            for u in units {
                let unit = u.map_or(String::new(), |u| format!(" unit {u}"));
                let Some(j) = s.jobs.iter().position(|job| job.order == o.id && job.unit == u) else {
                    r.error(span("jobs"), format!("jobs: order '{}'{unit} is not planned", o.id));
                    continue;
                };
                if let Some(step) = (0..steps).find(|&st| !planned.contains(&(j, st))) {
                    r.error(
                        span("operations"),
                        format!(
                            "operations: step {step} of order '{}'{unit} (job {j}) is not planned",
                            o.id
                        ),
                    );
                }
            }
        }
    }
    let families = || plant.families.iter().map(String::as_str);
    for (k, su) in s.setups.iter().enumerate() {
        let at = format!("setups[{k}]");
        interval(&mut r, &at, su.start, su.end);
        server_of(&mut r, &at, &su.station, su.server);
        for (key, family) in [
            ("from_family", su.from_family.as_ref()),
            ("to_family", Some(&su.to_family)),
        ] {
            if let Some(family) = family
                && plant.families.iter().all(|f| f != family)
            {
                r.unknown(span(&format!("{at}.{key}")), "family", family, "", families());
            }
        }
    }
    r.finish(s)
}

/// Plans `plant`'s orders: the problem, solved under `opts`, checked feasible by the
/// independent checker, in plant terms. What `twin schedule PLANT` and `twin dispatch`'s `plan`
/// policy both run.
pub fn plan_plant(
    plant: &PlantModel,
    split: Split,
    opts: &crate::solve::SolveOptions,
) -> Result<PlantSchedule, PlantPlanError> {
    let pp = plant_problem(plant, split)?;
    let r = crate::solve::solve(&pp.problem, opts).map_err(|e| PlantPlanError::Solve(e.to_string()))?;
    if let Err(v) = crate::schedule::check(&pp.problem, &r.schedule) {
        return Err(PlantPlanError::Infeasible {
            violations: v.len(),
            first: v[0].to_string(),
        });
    }
    Ok(PlantSchedule::new(
        &pp,
        plant,
        &r.schedule,
        r.objective.to_string(),
        r.value,
        r.lower_bound,
    ))
}

/// Why [`plan_plant`] gave no schedule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlantPlanError {
    /// The plant cannot be planned (input).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The solver failed.
    #[error("{0}")]
    Solve(String),
    /// The solver's schedule failed the independent check (a bug).
    #[error("the solver returned an infeasible schedule ({violations} violations, first: {first})")]
    Infeasible { violations: usize, first: String },
}
