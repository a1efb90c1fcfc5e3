//! The plant on an ECS world: components holding all model state, the events, and building a
//! runnable [`Twin`] from a [`PlantModel`].
//!
//! Hot-loop design (see `shared/ECS_HOT_LOOP.md`): each station, buffer, source and sink is an
//! entity whose *hot* state is one fused component ([`StationHot`], [`BufferHot`], ...) holding
//! its servers, queue, random streams and statistics. At the start of a batch the model borrows
//! all of them once through a held `SystemState` and builds a slot cache — a `Vec<&mut T>`
//! indexed by the element's index in the plant model — so a handler reaches any component in one
//! `Vec` index (~1 ns) instead of a World lookup (~6 ns) or a `Query::get_mut` (~3 ns).
//! The cache lives only for the batch; no structural change happens inside a batch.
//!
//! Parts are compact `Copy` records ([`Part`], 40 bytes), not entities: a part is moved between
//! queues and servers millions of times per second in a statistical run, and spawning and
//! despawning an entity per part would add two structural changes per part and invalidate the
//! slot cache. Their genealogy (station, server, start, end, setup, order, blocked-until) is
//! streamed to the trace as each interval ends when `--trace` asks for it, so memory stays
//! bounded whatever the run length.

pub mod dispatch;
pub use dispatch::PolicyMaker;
mod handlers;

use std::collections::VecDeque;
use std::sync::Arc;

use bevy_ecs::prelude::*;
use bevy_ecs::system::SystemState;
use serde::{Deserialize, Serialize};
use twinworks_engine::{BatchMeans, Distribution, RngStream, SimTime, Simulation, StreamKey, Tally, TimeWeighted};

use crate::plant::{FailureBasis, PlantModel, SourceKind};
use crate::trace::TraceSink;

/// "No order" in [`Part::order`].
pub const NO_ORDER: u32 = u32::MAX;

/// A part in the plant: a compact record moved by value between queues and servers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Unique within a run, in order of creation.
    pub id: u64,
    /// When it entered the plant [s].
    pub created: f64,
    /// When it entered its current queue [s].
    pub entered: f64,
    /// Product index.
    pub product: u16,
    /// Index of the routing step it is at (or waiting for).
    pub step: u16,
    /// Order index, or [`NO_ORDER`].
    pub order: u32,
    /// Its unit number within its order (0-based; 0 without an order).
    #[serde(default)]
    pub unit: u32,
    /// Index of its current step in [`Compiled::steps`] (all products' steps in one table).
    pub gstep: u32,
}

/// What a server is doing, apart from being down or off-shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No part.
    Idle,
    /// Setting up for its part.
    Setup,
    /// Processing its part.
    Busy,
    /// Holding a finished part that it cannot pass on (blocking after service).
    Blocked,
}

/// What a station's server is doing, in the states its time is accounted in (utilization
/// split, energy, OEE, trace intervals) and shown in (snapshots, the viewer, the live mirror's
/// `state` tag). One vocabulary everywhere: the JSON and the viewer spell the states as
/// [`StationState::as_str`] does. [`Phase`] is separate: a busy server can also be down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationState {
    /// Processing.
    Busy = 0,
    /// Setting up.
    Setup = 1,
    /// Idle (starved): on shift, up, and no part to work on.
    Idle = 2,
    /// Blocked by a full downstream buffer.
    Blocked = 3,
    /// Broken down or under repair (in a snapshot also: in an outage, or reported down by
    /// the plant).
    Down = 4,
    /// Outside its shifts.
    OffShift = 5,
}

/// Number of [`StationState`]s.
pub const STATES: usize = 6;

impl StationState {
    /// Every state, in index order (the order of the utilization split).
    pub const ALL: [StationState; STATES] = [
        StationState::Busy,
        StationState::Setup,
        StationState::Idle,
        StationState::Blocked,
        StationState::Down,
        StationState::OffShift,
    ];

    /// Lower-case name, as in the JSON, the trace and the viewer.
    pub fn as_str(self) -> &'static str {
        match self {
            StationState::Busy => "busy",
            StationState::Setup => "setup",
            StationState::Idle => "idle",
            StationState::Blocked => "blocked",
            StationState::Down => "down",
            StationState::OffShift => "off_shift",
        }
    }

    /// The state shown for a whole station: the most pressing of its servers' states
    /// (down, then busy, setup, blocked, idle, off shift).
    pub fn dominant(states: &[StationState]) -> StationState {
        let rank = |s: &StationState| match s {
            StationState::Down => 0,
            StationState::Busy => 1,
            StationState::Setup => 2,
            StationState::Blocked => 3,
            StationState::Idle => 4,
            StationState::OffShift => 5,
        };
        states.iter().copied().min_by_key(rank).unwrap_or(StationState::Idle)
    }
}

/// One of a station's parallel servers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Server {
    /// What it is doing.
    pub phase: Phase,
    /// The part it holds (in setup, busy or blocked).
    pub part: Option<Part>,
    /// Broken down.
    pub down: bool,
    /// Its setup or operation was interrupted (breakdown or end of shift) and will resume.
    pub suspended: bool,
    /// To be retired ([`Command::SetCapacity`] lowered the capacity) when it next frees.
    #[serde(default)]
    pub retiring: bool,
    /// Retired: it takes no more parts (it is kept, marked down, so indices stay valid; its
    /// time counts as off shift).
    #[serde(default)]
    pub retired: bool,
    pub(crate) remaining: f64,
    pub(crate) phase_end: f64,
    pub(crate) phase_start: f64,
    pub(crate) op_start: f64,
    pub(crate) op_end: f64,
    pub(crate) setup_s: f64,
    /// Family the server was set up from for its current setup (`None`: the initial setup);
    /// with the part's family it names the setup's distribution (a fork redraws its residual).
    pub(crate) setup_from: Option<u16>,
    /// The current operation's drawn process time before the speed factor [s], and the
    /// station's speed when it started (a fork redraws the residual of `work`).
    pub(crate) work: f64,
    /// The station's process-time scale and speed when the operation started.
    pub(crate) op_scale: f64,
    pub(crate) op_speed: f64,
    pub(crate) token: u32,
    pub(crate) fail_token: u32,
    /// Busy basis: busy time left to failure [s]; operations basis: operations left.
    pub(crate) to_failure: f64,
    pub(crate) busy_since: f64,
    pub(crate) down_since: f64,
    /// Calendar basis: when the running time to failure started [s].
    pub(crate) fail_clock_start: f64,
    /// Family of the last part it was set up for.
    pub last_family: Option<u16>,
    pub(crate) state: StationState,
    pub(crate) since: f64,
    /// Time spent in each [`StationState`] since the last statistics reset [s].
    pub time_in: [f64; STATES],
}

impl Server {
    pub(crate) fn new() -> Server {
        Server {
            phase: Phase::Idle,
            part: None,
            down: false,
            suspended: false,
            retiring: false,
            retired: false,
            remaining: 0.0,
            phase_end: 0.0,
            phase_start: 0.0,
            op_start: 0.0,
            op_end: 0.0,
            setup_s: 0.0,
            setup_from: None,
            work: 0.0,
            op_scale: 1.0,
            op_speed: 1.0,
            token: 0,
            fail_token: 0,
            to_failure: 0.0,
            busy_since: 0.0,
            down_since: 0.0,
            fail_clock_start: 0.0,
            last_family: None,
            state: StationState::Idle,
            since: 0.0,
            time_in: [0.0; STATES],
        }
    }

    /// The state time is currently accounted in.
    pub fn state(&self) -> StationState {
        self.state
    }

    /// Time in each state up to `now`, including the current, still open, interval.
    pub fn time_in_until(&self, now: f64) -> [f64; STATES] {
        let mut t = self.time_in;
        t[self.state as usize] += now - self.since;
        t
    }
}

/// Statistics of a station since the last reset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StationStats {
    /// Operations completed (good and scrapped).
    pub ops_done: u64,
    /// Operations whose part was scrapped.
    pub scrapped: u64,
    /// Sum of the ideal (mean) process times of completed operations [s] (OEE performance).
    pub ideal_s: f64,
    /// Time parts waited in the input queue before starting here [s], as batch means (which
    /// also give the overall mean and a confidence interval from one run).
    #[serde(with = "crate::state::batch_means")]
    pub wait: BatchMeans,
    /// Parts that had to wait (> 0 s) before starting.
    pub waited: u64,
    /// Σ wait² [s²] (the wait's second moment, with `wait`'s count).
    #[serde(default)]
    pub wait_sq: f64,
    /// Reservations of the dispatching policy that could not be met (deadlocks).
    #[serde(default)]
    pub deviations: u64,
    /// Breakdowns.
    pub failures: u64,
}

impl StationStats {
    fn new() -> StationStats {
        StationStats {
            ops_done: 0,
            scrapped: 0,
            ideal_s: 0.0,
            wait: BatchMeans::new(30),
            waited: 0,
            wait_sq: 0.0,
            deviations: 0,
            failures: 0,
        }
    }
}

/// A station's hot state: servers, random streams, statistics.
#[derive(Component, Clone, Debug, Serialize, Deserialize)]
pub struct StationHot {
    /// Index in [`PlantModel::stations`].
    pub idx: u32,
    /// Outside its shifts.
    pub off_shift: bool,
    /// The parallel servers.
    pub servers: Vec<Server>,
    #[serde(with = "crate::state::rng")]
    pub(crate) rng_process: RngStream,
    #[serde(with = "crate::state::rng")]
    pub(crate) rng_setup: RngStream,
    #[serde(with = "crate::state::rng")]
    pub(crate) rng_scrap: RngStream,
    #[serde(with = "crate::state::rng")]
    pub(crate) rng_fail: RngStream,
    #[serde(with = "crate::state::rng")]
    pub(crate) rng_repair: RngStream,
    /// Statistics since the last reset.
    pub stats: StationStats,
    off_since: f64,
    /// Closed by an injected outage (`[[event]] kind = "outage"`).
    pub outage: bool,
    outage_since: f64,
    outage_until: f64,
    /// Its current shift calendar (a `shift_change` event may switch it).
    pub calendar: Option<u32>,
    /// Speed factor applied to operations started from now on (1 = nominal; 2 = twice as
    /// fast). Set by [`Command::SetSpeed`] — a setpoint written to the plant or its twin.
    pub speed: f64,
    /// Held down by an observation of the real plant ([`Command::SetDown`]).
    pub observed_down: bool,
    /// Process-time scale applied to operations started from now on (1 = as in the plant
    /// file; [`Command::SetProcessScale`]).
    #[serde(default = "one")]
    pub scale: f64,
    /// Scrap probability of each operation ([`Command::SetScrap`]; the plant file's at first).
    #[serde(default)]
    pub scrap: f64,
    /// The process model's state, if the station has a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelHot>,
}

/// A process model's state: its setpoints now, its thermal state, and its output statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelHot {
    /// Parameter values, in the model's order ([`Command::SetModelParameter`] changes them).
    pub params: Vec<f64>,
    /// Thermal state T [°C] at `t_at` (0 without thermal dynamics).
    pub temperature: f64,
    /// When `temperature` was last brought up to date [s].
    pub t_at: f64,
    /// Energy of the operations begun since the last reset, at their model draw [kWh].
    pub energy_kwh: f64,
    /// Sum and count of the quality of operations begun since the last reset.
    pub quality_sum: f64,
    /// Operations the quality sum is over.
    pub quality_n: u64,
}

impl ModelHot {
    /// The state at time 0 of `m`.
    pub fn new(m: &crate::plant::ProcessModel) -> ModelHot {
        ModelHot {
            params: m.params.iter().map(|p| p.value).collect(),
            temperature: m.thermal.as_ref().map_or(0.0, |t| t.initial),
            t_at: 0.0,
            energy_kwh: 0.0,
            quality_sum: 0.0,
            quality_n: 0,
        }
    }

    /// Brings the thermal state to `now`, exactly: the input is constant since `t_at`.
    pub fn advance(&mut self, m: &crate::plant::ProcessModel, now: f64) {
        if let Some(t) = &m.thermal {
            let target = t.ambient + t.gain * self.params[t.input];
            let dt = (now - self.t_at).max(0.0);
            self.temperature = target + (self.temperature - target) * (-dt / t.tau_s).exp();
        }
        self.t_at = now;
    }
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

impl StationHot {
    /// Whether the station can work: on shift and not in an injected outage.
    #[inline]
    pub fn open(&self) -> bool {
        !self.off_shift && !self.outage
    }
}

/// A buffer's hot state: its queue and who waits for space in it.
#[derive(Component, Clone, Debug, Serialize, Deserialize)]
pub struct BufferHot {
    /// Index in [`PlantModel::buffers`].
    pub idx: u32,
    /// Parts waiting, in arrival order.
    pub queue: VecDeque<Part>,
    pub(crate) waiters: VecDeque<Waiter>,
    /// Released order units waiting to enter (they do not count against the capacity).
    pub backlog: VecDeque<Part>,
    /// Number of parts in the queue over time.
    #[serde(with = "crate::state::time_weighted")]
    pub level: TimeWeighted,
    /// Its capacity [parts] (`usize::MAX`: unbounded; [`Command::SetBufferCapacity`]).
    #[serde(default = "unbounded")]
    pub capacity: usize,
    pub(crate) infinite: Option<u16>,
}

fn unbounded() -> usize {
    usize::MAX
}

/// A source's hot state.
#[derive(Component, Clone, Debug, Serialize, Deserialize)]
pub struct SourceHot {
    /// Index in [`PlantModel::sources`].
    pub idx: u32,
    #[serde(with = "crate::state::rng")]
    pub(crate) rng: RngStream,
    #[serde(with = "crate::state::rng")]
    pub(crate) rng_mix: RngStream,
    /// Parts created.
    pub created: u64,
    pub(crate) blocked: Option<Part>,
    pub(crate) token: u32,
    /// When the running interarrival time started [s] (a fork redraws its residual).
    pub(crate) clock_start: f64,
    /// Arrival-rate factor: interarrival times drawn from now on are divided by it
    /// ([`Command::SetArrivalRate`]).
    #[serde(default = "one")]
    pub rate: f64,
}

/// A sink's hot state.
#[derive(Component, Clone, Debug, Default, Serialize, Deserialize)]
pub struct SinkHot {
    /// Index in [`PlantModel::sinks`].
    pub idx: u32,
    /// Good parts that left here since the last reset.
    pub count: u64,
}

/// Progress of one order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OrderProgress {
    /// Units that left good.
    pub good: u32,
    /// Units scrapped.
    pub scrapped: u32,
    /// When its last unit left [s], once complete.
    pub completed: Option<f64>,
}

/// Plant-wide statistics.
#[derive(Resource, Clone, Debug, Serialize, Deserialize)]
pub struct PlantHot {
    /// Parts in the plant over time (WIP).
    #[serde(with = "crate::state::time_weighted")]
    pub wip: TimeWeighted,
    /// Lead times (creation to sink) of good parts since the last reset [s].
    #[serde(with = "crate::state::tally")]
    pub lead: Tally,
    /// Batch means of the lead times.
    #[serde(with = "crate::state::batch_means")]
    pub lead_batches: BatchMeans,
    /// Good parts out since the last reset.
    pub exits: u64,
    /// Parts scrapped since the last reset.
    pub scrapped: u64,
    /// Parts created since the last reset.
    pub created: u64,
    pub(crate) next_id: u64,
    /// Time 0's start event has run (elements started, servers pulled).
    #[serde(default = "yes")]
    pub started: bool,
    /// Per order, in plant order (never reset: orders are a finite batch).
    pub orders: Vec<OrderProgress>,
    /// When statistics were last reset [s] (end of warm-up).
    pub stats_since: f64,
}

/// Who waits for space in a buffer.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Waiter {
    Server { station: u32, server: u32, token: u32 },
    Source { source: u32, token: u32 },
}

/// Events of the plant model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Time 0: every idle server tries to start.
    Start,
    /// Next arrival at a source.
    Arrival(u32),
    /// An order is released.
    Release(u32),
    /// End of a setup or operation (station, server, token).
    PhaseEnd(u32, u32, u32),
    /// A breakdown (station, server, token).
    Fail(u32, u32, u32),
    /// End of a repair (station, server).
    Repair(u32, u32),
    /// A shift calendar changes between on and off shift.
    Shift(u32),
    /// An injected event from the plant's `[[event]]` list (its index).
    Disruption(u32),
    /// A station's injected outage may end.
    OutageEnd(u32),
}

/// A routing step, flattened for the hot loop.
#[derive(Debug, Clone)]
pub struct StepInfo {
    /// The alternative stations.
    pub alts: Vec<u32>,
    /// The only station, when there is exactly one alternative (else `u32::MAX`).
    pub single: u32,
    /// Whether this is the product's last step.
    pub last: bool,
}

/// Immutable data derived from the plant model for the hot loop.
#[derive(Debug)]
pub struct Compiled {
    /// The plant.
    pub plant: PlantModel,
    /// Per buffer: the stations that take parts from it.
    pub consumers: Vec<Vec<u32>>,
    /// Per product: its family.
    pub family: Vec<u16>,
    /// Every product's steps, product after product.
    pub steps: Vec<StepInfo>,
    /// Per product: the index of its first step in `steps`.
    pub step_base: Vec<u32>,
    /// Per station: which optional behaviours it has (lets the hot path skip them).
    pub flags: Vec<StationFlags>,
    /// Per buffer: its capacity [parts] (`usize::MAX` when unbounded).
    pub buffer_cap: Vec<usize>,
    /// Per station: its input buffer.
    pub input: Vec<u32>,
    /// Per step in `steps`: the expected work left from it on, it included [s] (means of each
    /// step's first alternative), and the operations left, it included.
    pub rest: Vec<(f64, u32)>,
    /// Per step in `steps`, per alternative: (station, process time, its mean [s]), as in the
    /// plant file. A twin starts with these and may change its own copy
    /// ([`Command::SetProcessTime`]).
    pub times: StepTimes,
    /// Makes each new twin's dispatching policy, if not the plant's own rules.
    pub policy: Option<PolicyMaker>,
}

/// Per step, per alternative: (station, process time, its mean [s]).
pub type StepTimes = Arc<Vec<Vec<(u32, Distribution, f64)>>>;

/// Which optional behaviours a station has.
#[derive(Debug, Clone, Copy, Default)]
pub struct StationFlags {
    /// Failures on the busy-time clock.
    pub busy_failures: bool,
    /// Failures after a count of operations.
    pub ops_failures: bool,
    /// Any setup can occur.
    pub setups: bool,
    /// It has a process model (evaluated when each operation begins).
    pub model: bool,
}

impl Compiled {
    /// Whether part `p`'s current step can be done at station `s`.
    #[inline]
    pub fn eligible(&self, p: &Part, s: usize) -> bool {
        let step = &self.steps[p.gstep as usize];
        step.single == s as u32 || (step.single == u32::MAX && step.alts.contains(&(s as u32)))
    }

    /// Derives the hot-loop tables from a validated plant.
    pub fn new(plant: PlantModel) -> Compiled {
        let mut consumers = vec![Vec::new(); plant.buffers.len()];
        for (i, s) in plant.stations.iter().enumerate() {
            consumers[s.input].push(i as u32);
        }
        let family = plant.products.iter().map(|p| p.family as u16).collect();
        let mut steps = Vec::new();
        let mut times: Vec<Vec<(u32, Distribution, f64)>> = Vec::new();
        let mut step_base = Vec::new();
        for (p, prod) in plant.products.iter().enumerate() {
            step_base.push(steps.len() as u32);
            for (k, step) in prod.routing.iter().enumerate() {
                let alts: Vec<u32> = step.stations.iter().map(|&x| x as u32).collect();
                times.push(
                    step.stations
                        .iter()
                        .map(|&s| {
                            let d = plant.process_time(p, k, s).clone();
                            let m = d.mean();
                            (s as u32, d, m)
                        })
                        .collect(),
                );
                steps.push(StepInfo {
                    single: if alts.len() == 1 { alts[0] } else { u32::MAX },
                    alts,
                    last: k + 1 == prod.routing.len(),
                });
            }
        }
        let flags = plant
            .stations
            .iter()
            .map(|st| StationFlags {
                busy_failures: st.failures.as_ref().is_some_and(|f| f.basis == FailureBasis::Busy),
                ops_failures: st
                    .failures
                    .as_ref()
                    .is_some_and(|f| f.basis == FailureBasis::Operations),
                setups: st.setups.any(),
                model: st.model.is_some(),
            })
            .collect();
        let buffer_cap = plant
            .buffers
            .iter()
            .map(|b| b.capacity.map_or(usize::MAX, |c| c as usize))
            .collect();
        let input = plant.stations.iter().map(|s| s.input as u32).collect();
        let mut rest = vec![(0.0, 0); steps.len()];
        for (p, prod) in plant.products.iter().enumerate() {
            let base = step_base[p] as usize;
            let mut acc = (0.0, 0);
            for k in (0..prod.routing.len()).rev() {
                acc = (acc.0 + times[base + k][0].2, acc.1 + 1);
                rest[base + k] = acc;
            }
        }
        Compiled {
            rest,
            times: Arc::new(times),
            plant,
            buffer_cap,
            input,
            consumers,
            family,
            steps,
            step_base,
            flags,
            policy: None,
        }
    }

    /// This plant with every new twin's dispatching policy made by `make` instead of the
    /// plant's rules (plan execution: `twinworks-dispatch`).
    pub fn with_policy(mut self, make: dispatch::PolicyFactory) -> Compiled {
        self.policy = Some(PolicyMaker(make));
        self
    }
}

type HotState = SystemState<(
    Query<'static, 'static, &'static mut StationHot>,
    Query<'static, 'static, &'static mut BufferHot>,
    Query<'static, 'static, &'static mut SourceHot>,
    Query<'static, 'static, &'static mut SinkHot>,
    ResMut<'static, PlantHot>,
)>;

/// The plant model driven by the kernel: handlers plus immutable configuration.
pub struct PlantSim {
    /// The compiled plant.
    pub cfg: Arc<Compiled>,
    /// The seed its random streams are keyed with.
    pub seed: u64,
    state: HotState,
    /// Where operation intervals are streamed, if a trace was asked for.
    pub trace: Option<Box<dyn TraceSink>>,
    /// Stop when this many good parts have left since the last reset.
    pub stop_at_exits: Option<u64>,
    /// Throughput and WIP over time, filled by the runner between batches.
    pub series: Vec<crate::kpi::SeriesPoint>,
    /// Changes from outside the model (observations of the real plant, setpoints), applied in
    /// order at the current time at the start of the next run call. See [`Command`].
    pub commands: Vec<Command>,
    /// Elements to start at the beginning of the next batch (see [`Wake`]).
    pub(crate) wake: Option<Wake>,
    /// The dispatching policy (FIFO by default).
    pub policy: dispatch::Policy,
    /// This twin's process times (shared with the compiled plant until a command changes one).
    pub(crate) times: StepTimes,
}

/// Elements that the next batch starts as time 0 starts a plant: all of them at time 0; after
/// a restore into a what-if variant, those the saved state did not hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct Wake {
    pub(crate) sources: Vec<usize>,
    pub(crate) stations: Vec<usize>,
    pub(crate) calendars: Vec<usize>,
    pub(crate) disruptions: Vec<usize>,
    /// A restore into a variant: every buffer also wakes its waiters.
    pub(crate) restored: bool,
}

impl Wake {
    pub(crate) fn all(plant: &PlantModel) -> Wake {
        Wake {
            sources: (0..plant.sources.len()).collect(),
            stations: (0..plant.stations.len()).collect(),
            calendars: (0..plant.shift_calendars.len()).collect(),
            disruptions: (0..plant.disruptions.len()).collect(),
            restored: false,
        }
    }
}

/// A change applied to the twin from outside the model: the live mirror uses these to make the
/// twin agree with what the plant reports, and the virtual plant to apply written setpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// The station is (`true`) or is no longer (`false`) held down: its servers stop as in a
    /// breakdown (work in progress is suspended and resumes later), and the time counts as down.
    SetDown {
        /// Station index.
        station: u32,
        /// Held down or released.
        down: bool,
    },
    /// Sets the station's speed factor (operations started later take `time / speed`).
    SetSpeed {
        /// Station index.
        station: u32,
        /// Factor, > 0.
        speed: f64,
    },
    /// Overrides the station's completed-operations counter (re-alignment to a plant counter).
    SetPartsDone {
        /// Station index.
        station: u32,
        /// The counter's new value.
        count: u64,
    },
    /// Scales the station's process times for operations started later (1 = as in the plant
    /// file); with the speed, an operation takes `drawn time × scale / speed`.
    SetProcessScale {
        /// Station index.
        station: u32,
        /// Factor, > 0.
        scale: f64,
    },
    /// Sets the process time of the station's operations started later, for one product
    /// (`None`: every product), at every routing step the station can do for it.
    SetProcessTime {
        /// Station index.
        station: u32,
        /// Product index, or every product.
        product: Option<u32>,
        /// The new distribution (validated by the caller).
        #[serde(with = "crate::state::distribution")]
        time: Distribution,
    },
    /// Sets a process-model parameter of a station for operations that begin from now on
    /// (within its bounds; a value outside them, or an unknown station or parameter, is
    /// ignored). A thermal state is brought up to date first, so the change drives it from now.
    SetModelParameter {
        /// Station index.
        station: u32,
        /// Parameter index ([`crate::plant::ProcessModel::params`]).
        param: u32,
        /// The new value.
        value: f64,
    },
    /// Sets the scrap probability of the station's operations that end later.
    SetScrap {
        /// Station index.
        station: u32,
        /// Probability in [0, 1].
        probability: f64,
    },
    /// Sets a buffer's capacity (`None`: unbounded). More room wakes blocked parts at once; less
    /// room keeps the parts already there and takes no more until the queue is below it.
    SetBufferCapacity {
        /// Buffer index.
        buffer: u32,
        /// Parts it holds.
        capacity: Option<u32>,
    },
    /// Multiplies a source's arrival rate: interarrival times drawn later are divided by it.
    SetArrivalRate {
        /// Source index.
        source: u32,
        /// Factor, > 0.
        factor: f64,
    },
    /// Switches the station to another shift calendar (`None`: always on shift), as an
    /// injected `shift_change` event does.
    SetShiftCalendar {
        /// Station index.
        station: u32,
        /// Shift calendar index, or none.
        calendar: Option<u32>,
    },
    /// Sets the number of servers. New servers are appended (idle, with their failure
    /// clocks); removed ones are the last in service, each retired when it next frees (after
    /// its current part). Indices are never reused, so trace rows and names like `Lathe#1`
    /// stay valid.
    SetCapacity {
        /// Station index.
        station: u32,
        /// Servers in service.
        servers: u32,
    },
}

/// A runnable twin of a plant.
pub type Twin = Simulation<PlantSim>;

/// Builds the world for `cfg` with random streams from `seed`, ready to run from time 0.
pub fn build_twin(cfg: Arc<Compiled>, seed: u64) -> Twin {
    let plant = &cfg.plant;
    let mut world = World::new();
    let key = |name: &str, purpose: &'static str| RngStream::new(StreamKey { seed, name, purpose });
    for (i, s) in plant.stations.iter().enumerate() {
        let mut rng_fail = key(&s.name, "failure");
        let mut servers: Vec<Server> = (0..s.capacity).map(|_| Server::new()).collect();
        if let Some(f) = &s.failures
            && f.basis != FailureBasis::Calendar
        {
            for srv in &mut servers {
                srv.to_failure = draw_to_failure(&f.between, f.basis, &mut rng_fail);
            }
        }
        world.spawn(StationHot {
            idx: i as u32,
            off_shift: false,
            servers,
            rng_process: key(&s.name, "process"),
            rng_setup: key(&s.name, "setup"),
            rng_scrap: key(&s.name, "scrap"),
            rng_fail,
            rng_repair: key(&s.name, "repair"),
            stats: StationStats::new(),
            off_since: 0.0,
            outage: false,
            outage_since: 0.0,
            outage_until: 0.0,
            calendar: s.shift.map(|c| c as u32),
            speed: 1.0,
            observed_down: false,
            scale: 1.0,
            scrap: s.scrap,
            model: s.model.as_ref().map(ModelHot::new),
        });
    }
    let mut infinite = vec![None; plant.buffers.len()];
    for s in &plant.sources {
        if let SourceKind::Infinite { product } = s.kind {
            for &st in &plant.products[product].routing[0].stations {
                infinite[plant.stations[st].input] = Some(product as u16);
            }
        }
    }
    for (i, infinite) in infinite.into_iter().enumerate() {
        world.spawn(BufferHot {
            idx: i as u32,
            queue: VecDeque::new(),
            waiters: VecDeque::new(),
            backlog: VecDeque::new(),
            level: TimeWeighted::new(0.0, 0.0),
            capacity: cfg.buffer_cap[i],
            infinite,
        });
    }
    for (i, s) in plant.sources.iter().enumerate() {
        world.spawn(SourceHot {
            idx: i as u32,
            rng: key(&s.name, "interarrival"),
            rng_mix: key(&s.name, "mix"),
            created: 0,
            blocked: None,
            token: 0,
            clock_start: 0.0,
            rate: 1.0,
        });
    }
    for i in 0..plant.sinks.len() {
        world.spawn(SinkHot {
            idx: i as u32,
            count: 0,
        });
    }
    world.insert_resource(PlantHot {
        wip: TimeWeighted::new(0.0, 0.0),
        lead: Tally::with_quantiles(),
        lead_batches: BatchMeans::new(30),
        exits: 0,
        scrapped: 0,
        created: 0,
        next_id: 0,
        started: false,
        orders: vec![OrderProgress::default(); plant.orders.len()],
        stats_since: 0.0,
    });
    let state: HotState = SystemState::new(&mut world);
    let model = PlantSim {
        cfg: cfg.clone(),
        seed,
        state,
        trace: None,
        stop_at_exits: None,
        series: Vec::new(),
        commands: Vec::new(),
        wake: None,
        policy: match &cfg.policy {
            Some(make) => dispatch::Policy::External((make.0)()),
            None => dispatch::Policy::for_plant(plant),
        },
        times: cfg.times.clone(),
    };
    let mut twin = Simulation::new(world, model);
    let k = twin.kernel_mut();
    k.schedule_at(SimTime::ZERO, Event::Start);
    for (i, o) in cfg.plant.orders.iter().enumerate() {
        k.schedule_at(o.release, Event::Release(i as u32));
    }
    twin
}

/// A server added to station `m` at time `now` (a capacity command, or a restore into a
/// variant with more servers), and when its calendar-basis failure clock ends, if it has one.
pub(crate) fn new_server(m: &crate::plant::Station, rng_fail: &mut RngStream, now: f64) -> (Server, Option<f64>) {
    let mut srv = Server::new();
    srv.since = now;
    let mut fail_at = None;
    if let Some(f) = &m.failures {
        if f.basis == FailureBasis::Calendar {
            srv.fail_clock_start = now;
            fail_at = Some(now + f.between.sample(rng_fail));
        } else {
            srv.to_failure = draw_to_failure(&f.between, f.basis, rng_fail);
        }
    }
    (srv, fail_at)
}

pub(crate) fn draw_to_failure(d: &Distribution, basis: FailureBasis, rng: &mut RngStream) -> f64 {
    let x = d.sample(rng);
    match basis {
        FailureBasis::Operations => x.round().max(1.0),
        _ => x,
    }
}

impl PlantSim {
    /// The twin's process time of global step `gstep` at station `s` (with its mean), if the
    /// station can do that step.
    pub fn process_time(&self, gstep: usize, s: usize) -> Option<(&Distribution, f64)> {
        self.times
            .get(gstep)?
            .iter()
            .find(|t| t.0 as usize == s)
            .map(|t| (&t.1, t.2))
    }

    /// Applies [`Command::SetProcessTime`] (between run calls).
    pub(crate) fn set_process_time(&mut self, station: u32, product: Option<u32>, time: &Distribution) {
        let cfg = self.cfg.clone();
        let mean = time.mean();
        let times = Arc::make_mut(&mut self.times);
        for (p, prod) in cfg.plant.products.iter().enumerate() {
            if product.is_some_and(|x| x as usize != p) {
                continue;
            }
            let base = cfg.step_base[p] as usize;
            for k in 0..prod.routing.len() {
                for t in times[base + k].iter_mut().filter(|t| t.0 == station) {
                    t.1 = time.clone();
                    t.2 = mean;
                }
            }
        }
    }

    /// Writes the intervals still open at `now` — off shift, down, injected outages — to the
    /// trace, ending at `now`, so a Gantt chart drawn from the trace covers the whole run.
    /// Operations still under way are not written (they have not finished).
    pub fn close_open_intervals(&mut self, world: &mut World, now: f64) {
        use crate::trace::{TraceKind, TraceRow};
        let Some(trace) = self.trace.as_mut() else { return };
        let states = trace.wants_states();
        let mut stations: Vec<&StationHot> = world.query::<&StationHot>().iter(world).collect();
        stations.sort_by_key(|s| s.idx);
        for st in stations {
            for (k, srv) in st.servers.iter().enumerate() {
                let mut row = |kind, start: f64| {
                    trace.write(&TraceRow {
                        kind,
                        station: st.idx as usize,
                        server: k,
                        part: None,
                        start,
                        end: now,
                        blocked_until: now,
                    });
                };
                if states && srv.since < now {
                    row(TraceKind::State(srv.state), srv.since);
                }
                if st.off_shift {
                    row(TraceKind::OffShift, st.off_since);
                }
                if srv.down {
                    row(TraceKind::Down, srv.down_since);
                } else if st.outage {
                    row(TraceKind::Down, st.outage_since);
                }
            }
        }
    }

    /// Resets all statistics at time `now` (end of warm-up); model state is untouched.
    pub fn reset_stats(world: &mut World, now: f64) {
        for mut s in world.query::<&mut StationHot>().iter_mut(world) {
            s.stats = StationStats::new();
            if let Some(m) = s.model.as_mut() {
                m.energy_kwh = 0.0;
                m.quality_sum = 0.0;
                m.quality_n = 0;
            }
            for srv in &mut s.servers {
                srv.time_in = [0.0; STATES];
                srv.since = now;
            }
        }
        for mut b in world.query::<&mut BufferHot>().iter_mut(world) {
            b.level.reset(now);
        }
        for mut s in world.query::<&mut SinkHot>().iter_mut(world) {
            s.count = 0;
        }
        let mut p = world.resource_mut::<PlantHot>();
        p.wip.reset(now);
        p.lead.reset();
        p.lead_batches.reset();
        p.exits = 0;
        p.scrapped = 0;
        p.created = 0;
        p.stats_since = now;
    }
}

/// The commands that turn a twin of `base` into one of `variant`, when the two plants differ
/// only in values commands set: station capacities, scrap probabilities and process times,
/// buffer capacities (run settings aside). `None` when anything else differs (an element added,
/// a routing or a failure model changed): such a variant needs its own compiled plant.
///
/// A study runs such variants as commands on twins of the base plant, so that a variant costs
/// no re-parse and no compile, only the commands.
pub fn commands_between(base: &PlantModel, variant: &PlantModel) -> Option<Vec<Command>> {
    if base.stations.len() != variant.stations.len()
        || base.buffers.len() != variant.buffers.len()
        || base.products.len() != variant.products.len()
    {
        return None;
    }
    let mut patched = base.clone();
    patched.run = variant.run;
    let mut out = Vec::new();
    for (i, (b, v)) in base.stations.iter().zip(&variant.stations).enumerate() {
        if b.capacity != v.capacity {
            out.push(Command::SetCapacity {
                station: i as u32,
                servers: v.capacity,
            });
            patched.stations[i].capacity = v.capacity;
        }
        if b.scrap != v.scrap {
            out.push(Command::SetScrap {
                station: i as u32,
                probability: v.scrap,
            });
            patched.stations[i].scrap = v.scrap;
        }
        if b.process_time != v.process_time || b.process_times != v.process_times {
            for (p, prod) in base.products.iter().enumerate() {
                let steps: Vec<usize> = (0..prod.routing.len())
                    .filter(|&k| prod.routing[k].stations.contains(&i))
                    .collect();
                if steps.is_empty() {
                    continue;
                }
                // A step's own time is not the station's: leave such products to a re-parse.
                if steps.iter().any(|&k| prod.routing[k].time.is_some()) {
                    return None;
                }
                let (old, new) = (base.process_time(p, steps[0], i), variant.process_time(p, steps[0], i));
                if old != new {
                    out.push(Command::SetProcessTime {
                        station: i as u32,
                        product: Some(p as u32),
                        time: new.clone(),
                    });
                }
            }
            patched.stations[i].process_time = v.process_time.clone();
            patched.stations[i].process_times = v.process_times.clone();
        }
    }
    for (i, (b, v)) in base.buffers.iter().zip(&variant.buffers).enumerate() {
        if b.capacity != v.capacity {
            out.push(Command::SetBufferCapacity {
                buffer: i as u32,
                capacity: v.capacity,
            });
            patched.buffers[i].capacity = v.capacity;
        }
    }
    (patched == *variant).then_some(out)
}

/// What an event is about, by name ("station 'Mill' server 1: end of a setup or operation"):
/// for messages such as a stalled run's.
pub fn describe_event(cfg: &Compiled, e: &Event) -> String {
    let plant = &cfg.plant;
    let station = |s: u32| plant.stations.get(s as usize).map_or("?", |x| x.name.as_str());
    match *e {
        Event::Start => "the start of the run".into(),
        Event::Arrival(i) => format!(
            "an arrival at source '{}'",
            plant.sources.get(i as usize).map_or("?", |x| x.name.as_str())
        ),
        Event::Release(o) => format!(
            "the release of order '{}'",
            plant.orders.get(o as usize).map_or("?", |x| x.id.as_str())
        ),
        Event::PhaseEnd(s, k, _) => format!(
            "the end of a setup or operation at station '{}' (server {k})",
            station(s)
        ),
        Event::Fail(s, k, _) => format!("a breakdown of station '{}' (server {k})", station(s)),
        Event::Repair(s, k) => format!("a repair of station '{}' (server {k})", station(s)),
        Event::Shift(c) => format!(
            "a shift change of calendar '{}'",
            plant.shift_calendars.get(c as usize).map_or("?", |x| x.name.as_str())
        ),
        Event::Disruption(i) => format!("injected event #{}", i + 1),
        Event::OutageEnd(s) => format!("the end of an outage at station '{}'", station(s)),
    }
}
