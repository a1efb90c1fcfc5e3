//! The validated plant model: what a plant file means, with names resolved to indices.
//!
//! Every reference in a `PlantModel` is valid by construction (checked in
//! [`crate::plant_file`]); the simulation, the APS and the studies read this type, never the raw
//! file. Times are [`SimTime`] offsets from the run start (or from the calendar start).

use twinworks_engine::{Distribution, SimTime};

use crate::clock::{CalendarStart, ShiftCalendar};
use crate::rules::Rule;

/// Index of a station in [`PlantModel::stations`].
pub type StationId = usize;
/// Index of a buffer in [`PlantModel::buffers`].
pub type BufferId = usize;
/// Index of a product in [`PlantModel::products`].
pub type ProductId = usize;
/// Index of a product family in [`PlantModel::families`].
pub type FamilyId = usize;
/// Index of a sink in [`PlantModel::sinks`].
pub type SinkId = usize;

/// A whole plant: equipment, products, calendars, orders and run settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PlantModel {
    /// The plant's display name.
    pub name: String,
    /// Where time 0 is on the wall calendar, if the file says.
    pub start: Option<CalendarStart>,
    /// Run settings from the file's `[run]` (the CLI may override them).
    pub run: RunSettings,
    /// Stations (machines, work centres) with parallel servers.
    pub stations: Vec<Station>,
    /// Buffers, including the implicit unbounded queue of each station without `input`.
    pub buffers: Vec<Buffer>,
    /// Sources of parts.
    pub sources: Vec<Source>,
    /// Sinks where finished parts leave.
    pub sinks: Vec<Sink>,
    /// Products and their routings.
    pub products: Vec<Product>,
    /// Product family names (for sequence-dependent setups).
    pub families: Vec<String>,
    /// Shift calendars.
    pub shift_calendars: Vec<ShiftCalendar>,
    /// Customer or production orders.
    pub orders: Vec<Order>,
    /// Injected events at given times (`[[event]]`), in time order.
    pub disruptions: Vec<Disruption>,
    /// When and how a plan being executed is rescheduled (`[reschedule]`).
    pub reschedule: Reschedule,
}

/// When and how a plan being executed is rescheduled (`[reschedule]` in the plant file; the
/// plan policies `plan+repair` and `plan+resolve` read it, plain `plan` only right-shifts).
#[derive(Clone, Debug, PartialEq)]
pub struct Reschedule {
    /// Reschedule when a server breaks down.
    pub on_breakdown: bool,
    /// Reschedule when a server is repaired.
    pub on_repair: bool,
    /// Reschedule when an order is released.
    pub on_release: bool,
    /// Reschedule every `period` [s] (at the first event at or after each multiple).
    pub period: Option<SimTime>,
    /// Reschedule when an operation begins more than this late or early against the plan.
    pub deviation: Option<SimTime>,
    /// The frozen horizon: planned operations starting within this time from now keep their
    /// server and order.
    pub frozen: SimTime,
    /// Tabu iterations per search slot of a full re-solve (the budget that keeps runs
    /// reproducible).
    pub iterations: u64,
}

impl Default for Reschedule {
    fn default() -> Self {
        Reschedule {
            on_breakdown: true,
            on_repair: true,
            on_release: false,
            period: None,
            deviation: None,
            frozen: SimTime::ZERO,
            iterations: 2_000,
        }
    }
}

/// An event injected at a given time (what-if studies: "the mill breaks down on Wednesday").
#[derive(Clone, Debug, PartialEq)]
pub struct Disruption {
    /// When it happens [s from run start].
    pub at: SimTime,
    /// What happens.
    pub kind: DisruptionKind,
}

/// What an injected event does.
#[derive(Clone, Debug, PartialEq)]
pub enum DisruptionKind {
    /// The whole station stops for `duration` (all servers; work in progress resumes after).
    Outage { station: StationId, duration: SimTime },
    /// The station switches to another shift calendar (`None`: always on shift).
    ShiftChange { station: StationId, shift: Option<usize> },
}

/// How long a run lasts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Horizon {
    /// Until this simulated time (measured from the start, warm-up included).
    Time(SimTime),
    /// Until this many parts have left through sinks after the warm-up.
    Parts(u64),
}

/// How long the warm-up lasts (statistics are reset at its end).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Warmup {
    /// No warm-up.
    None,
    /// Until this simulated time.
    Time(SimTime),
    /// Until this many parts have left through sinks.
    Parts(u64),
}

/// The `[run]` section.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSettings {
    /// Length of each replication.
    pub horizon: Horizon,
    /// Warm-up of each replication.
    pub warmup: Warmup,
    /// Number of independent replications.
    pub replications: u32,
    /// Base seed; replication r uses `replication_seed(seed, r)`.
    pub seed: u64,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            horizon: Horizon::Time(SimTime::from_hours(24.0)),
            warmup: Warmup::None,
            replications: 1,
            seed: 1,
        }
    }
}

/// Energy draw of a station per state [kW] (per server).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EnergyKw {
    /// Processing [kW].
    pub busy: f64,
    /// Setting up [kW].
    pub setup: f64,
    /// Idle, waiting for parts [kW].
    pub idle: f64,
    /// Holding a finished part it cannot pass on [kW].
    pub blocked: f64,
    /// Broken down or under repair [kW].
    pub down: f64,
    /// Outside its shifts [kW].
    pub off_shift: f64,
}

/// On what clock the time to failure runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureBasis {
    /// Calendar time: the failure clock runs in every state except down (including idle,
    /// blocked and off-shift). Availability = MTBF / (MTBF + MTTR).
    Calendar,
    /// Busy time: the failure clock runs only while processing (not during setup, idle,
    /// blocked or off-shift).
    Busy,
    /// Operation count: the machine fails after a drawn number of completed operations.
    Operations,
}

/// Breakdowns of each server of a station.
#[derive(Clone, Debug, PartialEq)]
pub struct Failures {
    /// Which clock the time (or count) to failure runs on.
    pub basis: FailureBasis,
    /// Time between failures [s] (or operations between failures, for `Operations`).
    pub between: Distribution,
    /// Time to repair [s].
    pub repair: Distribution,
}

/// Sequence-dependent setups by product family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Setups {
    /// Setup when the family changes and no matrix entry applies (`None`: no setup).
    pub default: Option<Distribution>,
    /// `(from, to, time)`: setup from family `from` to family `to`.
    pub matrix: Vec<(FamilyId, FamilyId, Distribution)>,
    /// Setup before the first part a server ever processes (`None`: no initial setup).
    pub initial: Option<Distribution>,
}

impl Setups {
    /// The setup time distribution when a server last processed `from` and now gets `to`.
    pub fn between(&self, from: Option<FamilyId>, to: FamilyId) -> Option<&Distribution> {
        match from {
            None => self.initial.as_ref(),
            Some(f) if f == to => None,
            Some(f) => self
                .matrix
                .iter()
                .find(|(a, b, _)| *a == f && *b == to)
                .map(|(_, _, d)| d)
                .or(self.default.as_ref()),
        }
    }

    /// Whether any setup can ever occur.
    pub fn any(&self) -> bool {
        self.default.is_some() || self.initial.is_some() || !self.matrix.is_empty()
    }
}

impl Step {
    /// The process time of this step of `product` on `station`: the step's own time, else the
    /// station's time for the product, else its default (`None`: none is given).
    pub fn time_on<'a>(&'a self, station: &'a Station, product: ProductId) -> Option<&'a Distribution> {
        self.time.as_ref().or_else(|| {
            station
                .process_times
                .iter()
                .find(|(pid, _)| *pid == product)
                .map(|(_, d)| d)
                .or(station.process_time.as_ref())
        })
    }
}

/// A station: `capacity` identical parallel servers fed from one input buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Station {
    /// Unique name (also the key of its random streams).
    pub name: String,
    /// Number of parallel servers (>= 1).
    pub capacity: u32,
    /// The buffer it takes parts from.
    pub input: BufferId,
    /// Default process time [s] when neither the routing step nor `process_times` gives one.
    pub process_time: Option<Distribution>,
    /// Process time per product [s], overriding the default.
    pub process_times: Vec<(ProductId, Distribution)>,
    /// Probability that an operation's part is scrapped.
    pub scrap: f64,
    /// Setups.
    pub setups: Setups,
    /// Breakdowns (per server), if any.
    pub failures: Option<Failures>,
    /// Energy draw per state and server [kW].
    pub energy_kw: EnergyKw,
    /// The shift calendar (index into `shift_calendars`); `None`: always on shift.
    pub shift: Option<usize>,
    /// Layout position for the viewer.
    pub position: Option<(f64, f64)>,
    /// The dispatching rule its servers choose their next part by (FIFO by default).
    pub dispatch: Rule,
    /// Its process model, if any: setpoints → process time, scrap, energy, quality.
    pub model: Option<ProcessModel>,
}

/// A station's process model (`model = { ... }` in the plant file, docs/plant-file.md).
///
/// Outputs are expressions ([`crate::expr`]) over the parameters (by name), `base` (the mean
/// process time of the operation as the plant file gives it [s]) and, with a thermal state,
/// `T`. They are evaluated when an operation begins: `time` is the operation's mean [s] (the
/// process-time distribution keeps its family and coefficient of variation: it is scaled by
/// `time / base`), `scrap` its scrap probability (clamped to [0, 1]), `energy_kw` the draw
/// while it runs [kW], `quality` a quality measure averaged over operations.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessModel {
    /// Setpoints, in file order.
    pub params: Vec<ModelParam>,
    /// Mean process time [s].
    pub time: Option<crate::expr::Expr>,
    /// Scrap probability.
    pub scrap: Option<crate::expr::Expr>,
    /// Power while processing [kW].
    pub energy_kw: Option<crate::expr::Expr>,
    /// Quality measure.
    pub quality: Option<crate::expr::Expr>,
    /// First-order thermal dynamics, if any.
    pub thermal: Option<Thermal>,
}

impl ProcessModel {
    /// The names the output expressions may use, in the order of their values: the
    /// parameters, `base`, then `T` with a thermal state.
    pub fn variables(params: &[ModelParam], thermal: bool) -> Vec<String> {
        let mut v: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
        v.push("base".into());
        if thermal {
            v.push("T".into());
        }
        v
    }
}

/// A process-model setpoint with its bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelParam {
    /// Name (used in the expressions and in commands).
    pub name: String,
    /// Its value at time 0.
    pub value: f64,
    /// Lowest allowed value.
    pub min: f64,
    /// Highest allowed value.
    pub max: f64,
    /// Unit, for display.
    pub unit: String,
}

/// First-order thermal dynamics `dT/dt = (K·u − (T − T_amb)) / τ`, with `u` a parameter,
/// integrated exactly between changes (`u` is constant in between):
/// `T(t + Δ) = T_amb + K·u + (T(t) − T_amb − K·u)·exp(−Δ/τ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Thermal {
    /// The parameter that drives it (index into [`ProcessModel::params`]).
    pub input: usize,
    /// Gain K [°C per unit of u].
    pub gain: f64,
    /// Time constant τ [s].
    pub tau_s: f64,
    /// Ambient temperature T_amb [°C].
    pub ambient: f64,
    /// Temperature at time 0 [°C].
    pub initial: f64,
}

/// A buffer (a queue with a capacity).
#[derive(Clone, Debug, PartialEq)]
pub struct Buffer {
    /// Unique name.
    pub name: String,
    /// Most parts it holds; `None` = unbounded.
    pub capacity: Option<u32>,
    /// Whether the plant file declared it (false: a station's implicit input queue).
    pub declared: bool,
    /// Layout position for the viewer.
    pub position: Option<(f64, f64)>,
}

/// What a source does.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    /// Parts arrive one at a time with random interarrival times [s].
    Arrivals {
        interarrival: Distribution,
        /// Products with weights (one entry: always that product).
        mix: Vec<(ProductId, f64)>,
        /// Stop after this many parts.
        limit: Option<u64>,
    },
    /// The first station of the product's routing is never starved: a part is there whenever
    /// the station can take one.
    Infinite { product: ProductId },
}

/// A source of parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Unique name (also the key of its random stream).
    pub name: String,
    /// Arrival process.
    pub kind: SourceKind,
}

/// A sink where parts leave the plant.
#[derive(Clone, Debug, PartialEq)]
pub struct Sink {
    /// Unique name.
    pub name: String,
}

/// One step of a routing.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Stations that can do this step (alternatives; at least one).
    pub stations: Vec<StationId>,
    /// Process time [s] of this step; `None`: the station's own time for the product.
    pub time: Option<Distribution>,
}

/// A product and its routing.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    /// Unique name.
    pub name: String,
    /// Its setup family.
    pub family: FamilyId,
    /// Steps in order.
    pub routing: Vec<Step>,
    /// Where it leaves.
    pub sink: SinkId,
}

/// A customer or production order.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// Order id.
    pub id: String,
    /// What to make.
    pub product: ProductId,
    /// How many units.
    pub quantity: u32,
    /// When it may start [s from run start].
    pub release: SimTime,
    /// When it is due [s from run start], if it has a due date.
    pub due: Option<SimTime>,
    /// Priority (higher is more important); also the weight of its tardiness.
    pub priority: i32,
}

impl PlantModel {
    /// The process time of `step` of `product` when done on `station`.
    pub fn process_time(&self, product: ProductId, step: usize, station: StationId) -> &Distribution {
        self.products[product].routing[step]
            .time_on(&self.stations[station], product)
            .expect("validated: every step has a process time on every eligible station")
    }

    /// Index of the station called `name`.
    pub fn station_id(&self, name: &str) -> Option<StationId> {
        self.stations.iter().position(|s| s.name == name)
    }

    /// Index of the product called `name`.
    pub fn product_id(&self, name: &str) -> Option<ProductId> {
        self.products.iter().position(|p| p.name == name)
    }
}
