//! [`TwinState`]: the complete state of a running twin, saved and restored exactly, or forked.
//!
//! A state holds everything the next event depends on: the clock, the calendar (every pending
//! event with its sequence number, so ties pop in the same order), every component of the
//! world (servers with their phase and remaining times, parts in queues, on servers, in
//! backlogs and waiting blocked, order progress, shift marks, failure clocks, the statistics
//! collectors), the random streams' positions, pending commands, and the KPI series. The
//! runner adds its own progress ([`crate::runner::RunProgress`]), so a restored run's report
//! equals the unbroken run's bit for bit.
//!
//! Elements are named, not numbered: a state fits a plant when every station, buffer, source,
//! sink, product (with its routing), order and shift calendar it holds exists there under the
//! same name and kind. A what-if variant may change parameters, enlarge capacities and buffers
//! and add elements; it may not remove or rename what the state holds, shrink a station below
//! its servers or a buffer below its queue, or change a station's failure basis. The first
//! mismatch is named in the error.
//!
//! [`Streams::Rekey`] forks: the streams are re-keyed from the fork id, and every future the
//! run drew in advance — the end of each setup and operation in progress (also suspended
//! ones), each repair, each calendar-basis time to failure, each source's next arrival — is
//! redrawn from its residual-life distribution given the time already elapsed
//! ([`Distribution::sample_residual`]). Busy-time and operation-count failure clocks keep their
//! drawn values until the next repair redraws them. The format is documented in docs/state.md.

use std::collections::HashMap;
use std::sync::Arc;

use bevy_ecs::prelude::{Component, World};
use serde::{Deserialize, Serialize};
use twinworks_engine::{Calendar, Distribution, Scheduled, SimTime, replication_seed};

use crate::kpi::SeriesPoint;
use crate::plant::{FailureBasis, PlantModel, SourceKind};
use crate::runner::RunProgress;
use crate::sim::{
    BufferHot, Command, Compiled, Event, NO_ORDER, Part, Phase, PlantHot, SinkHot, SourceHot, StationHot, Twin, Waiter,
    Wake, build_twin,
};

/// The `format` field of a state file.
pub const FORMAT: &str = "twinworks-state";
/// The version of the format this build writes and reads.
pub const VERSION: u32 = 1;

/// The complete state of a running twin (see the module documentation).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TwinState {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// The plant's name (information only).
    pub plant: String,
    /// The seed the twin's streams are keyed with (a replication's, or a fork's).
    pub seed: u64,
    /// The clock [s].
    pub now: f64,
    /// Events handled since time 0.
    pub events_run: u64,
    /// Sequence number of the next scheduled event.
    pub next_seq: u64,
    /// Pending events, in sequence order.
    pub calendar: Vec<PendingEvent>,
    /// Stations, in the saved plant's order (indices in events, parts and waiters refer to
    /// these lists).
    pub stations: Vec<StationRecord>,
    /// Buffers.
    pub buffers: Vec<BufferRecord>,
    /// Sources.
    pub sources: Vec<SourceRecord>,
    /// Sinks.
    pub sinks: Vec<NamedRecord<SinkHot>>,
    /// Products with their routings (station names per step).
    pub products: Vec<ProductRecord>,
    /// Orders (their progress is in `plant_stats.orders`, in this order).
    pub orders: Vec<OrderRecord>,
    /// Shift calendars' names.
    pub shift_calendars: Vec<String>,
    /// Times of the plant's injected events [s].
    pub disruptions: Vec<f64>,
    /// Plant-wide statistics and order progress.
    pub plant_stats: PlantHot,
    /// Process times the twin's commands changed from the plant file's.
    #[serde(default)]
    pub process_times: Vec<ProcessTimeRecord>,
    /// Commands not yet applied.
    pub commands: Vec<Command>,
    /// The KPI series so far.
    pub series: Vec<SeriesPoint>,
    /// The runner's progress, when the state was saved by one.
    pub run: Option<RunProgress>,
}

/// A process time a command changed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProcessTimeRecord {
    /// The product.
    pub product: String,
    /// Its routing step (0-based).
    pub step: usize,
    /// The station.
    pub station: String,
    /// The distribution in force.
    #[serde(with = "distribution")]
    pub time: Distribution,
}

/// A pending event.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct PendingEvent {
    /// When it fires [s].
    pub time: f64,
    /// Its sequence number (ties fire in increasing order).
    pub seq: u64,
    /// The event.
    pub event: Event,
}

/// A station's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StationRecord {
    /// Its name.
    pub name: String,
    /// Its input buffer's name.
    pub input: String,
    /// Its failure basis ("calendar", "busy", "operations"), if it fails.
    pub failures: Option<String>,
    /// Its capacity and scrap probability in the saved plant file (the twin's own, in `hot`,
    /// may differ by commands).
    pub capacity: u32,
    /// See `capacity`.
    pub scrap: f64,
    /// Its components.
    pub hot: StationHot,
}

/// A named element's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NamedRecord<T> {
    /// Its name.
    pub name: String,
    /// Its component.
    pub hot: T,
}

/// A buffer's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BufferRecord {
    /// Its name.
    pub name: String,
    /// Its capacity in the saved plant file (`None`: unbounded; the twin's own, in `hot`,
    /// may differ by commands).
    pub capacity: Option<u32>,
    /// Its component.
    pub hot: BufferHot,
}

/// A source's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceRecord {
    /// Its name.
    pub name: String,
    /// "arrivals" or "infinite".
    pub kind: String,
    /// Its component.
    pub hot: SourceHot,
}

/// A product and its routing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    /// Its name.
    pub name: String,
    /// Per step, the alternative stations' names.
    pub routing: Vec<Vec<String>>,
}

/// An order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Its id.
    pub id: String,
    /// Its product's name.
    pub product: String,
    /// Units ordered.
    pub quantity: u32,
}

/// How a restored twin draws its random numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streams {
    /// From where the saved run was: the restored run continues bit-identically.
    Continue,
    /// From streams re-keyed by this fork id, with every pre-drawn future redrawn from its
    /// residual life: forks with different ids are independent futures of one present.
    Rekey(u64),
}

/// Why a state cannot be restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not a state file of a format this build reads.
    #[error("not a twin state of format {FORMAT} version {VERSION}: {0}")]
    Format(String),
    /// The state does not fit the plant.
    #[error("the state does not fit plant '{plant}': {why}")]
    Mismatch {
        /// The plant's name.
        plant: String,
        /// The first mismatch.
        why: String,
    },
}

fn basis_name(b: FailureBasis) -> &'static str {
    match b {
        FailureBasis::Calendar => "calendar",
        FailureBasis::Busy => "busy",
        FailureBasis::Operations => "operations",
    }
}

fn source_kind(k: &SourceKind) -> &'static str {
    match k {
        SourceKind::Arrivals { .. } => "arrivals",
        SourceKind::Infinite { .. } => "infinite",
    }
}

fn routing(plant: &PlantModel, p: usize) -> ProductRecord {
    let prod = &plant.products[p];
    ProductRecord {
        name: prod.name.clone(),
        routing: prod
            .routing
            .iter()
            .map(|s| s.stations.iter().map(|&x| plant.stations[x].name.clone()).collect())
            .collect(),
    }
}

/// Saving and restoring a [`Twin`].
pub trait Restorable: Sized {
    /// The twin's complete state now (between run calls).
    fn state(&mut self) -> TwinState;
    /// A twin of `cfg`'s plant in `state`, drawing as `streams` says.
    fn restore(cfg: Arc<Compiled>, state: &TwinState, streams: Streams) -> Result<Self, StateError>;
}

/// Copies of every `T` component of `world`, in plant order (`idx` gives an element's index).
fn by_idx<T: Component + Clone>(world: &mut World, idx: impl Fn(&T) -> u32) -> Vec<T> {
    let mut v: Vec<(u32, T)> = world.query::<&T>().iter(world).map(|c| (idx(c), c.clone())).collect();
    v.sort_by_key(|x| x.0);
    v.into_iter().map(|x| x.1).collect()
}

impl Restorable for Twin {
    fn state(&mut self) -> TwinState {
        let cfg = self.model.cfg.clone();
        let plant = &cfg.plant;
        let (now, events_run, next_seq) = (
            self.now().secs(),
            self.kernel().events_run(),
            self.kernel().calendar().next_seq(),
        );
        let mut calendar: Vec<PendingEvent> = self
            .kernel()
            .calendar()
            .entries()
            .map(|s| PendingEvent {
                time: s.time.secs(),
                seq: s.seq,
                event: s.event,
            })
            .collect();
        calendar.sort_by_key(|e| e.seq);
        let world = &mut self.world;
        let st = by_idx(world, |c: &StationHot| c.idx);
        let bu = by_idx(world, |c: &BufferHot| c.idx);
        let so = by_idx(world, |c: &SourceHot| c.idx);
        let si = by_idx(world, |c: &SinkHot| c.idx);
        TwinState {
            format: FORMAT.into(),
            version: VERSION,
            plant: plant.name.clone(),
            seed: self.model.seed,
            now,
            events_run,
            next_seq,
            calendar,
            stations: st
                .into_iter()
                .enumerate()
                .map(|(i, hot)| StationRecord {
                    name: plant.stations[i].name.clone(),
                    input: plant.buffers[plant.stations[i].input].name.clone(),
                    failures: plant.stations[i]
                        .failures
                        .as_ref()
                        .map(|f| basis_name(f.basis).to_string()),
                    capacity: plant.stations[i].capacity,
                    scrap: plant.stations[i].scrap,
                    hot,
                })
                .collect(),
            buffers: bu
                .into_iter()
                .enumerate()
                .map(|(i, hot)| BufferRecord {
                    name: plant.buffers[i].name.clone(),
                    capacity: plant.buffers[i].capacity,
                    hot,
                })
                .collect(),
            sources: so
                .into_iter()
                .enumerate()
                .map(|(i, hot)| SourceRecord {
                    name: plant.sources[i].name.clone(),
                    kind: source_kind(&plant.sources[i].kind).into(),
                    hot,
                })
                .collect(),
            sinks: si
                .into_iter()
                .enumerate()
                .map(|(i, hot)| NamedRecord {
                    name: plant.sinks[i].name.clone(),
                    hot,
                })
                .collect(),
            products: (0..plant.products.len()).map(|p| routing(plant, p)).collect(),
            orders: plant
                .orders
                .iter()
                .map(|o| OrderRecord {
                    id: o.id.clone(),
                    product: plant.products[o.product].name.clone(),
                    quantity: o.quantity,
                })
                .collect(),
            shift_calendars: plant.shift_calendars.iter().map(|c| c.name.clone()).collect(),
            disruptions: plant.disruptions.iter().map(|d| d.at.secs()).collect(),
            plant_stats: world.resource::<PlantHot>().clone(),
            process_times: process_time_changes(&cfg, &self.model),
            commands: self.model.commands.clone(),
            series: self.model.series.clone(),
            run: None,
        }
    }

    fn restore(cfg: Arc<Compiled>, state: &TwinState, streams: Streams) -> Result<Twin, StateError> {
        Restore::new(cfg, state)?.run(streams)
    }
}

fn process_time_changes(cfg: &Compiled, model: &crate::sim::PlantSim) -> Vec<ProcessTimeRecord> {
    let plant = &cfg.plant;
    let mut out = Vec::new();
    for (p, prod) in plant.products.iter().enumerate() {
        for k in 0..prod.routing.len() {
            let g = cfg.step_base[p] as usize + k;
            for (a, b) in cfg.times[g].iter().zip(&model.times[g]) {
                if a.1 != b.1 {
                    out.push(ProcessTimeRecord {
                        product: prod.name.clone(),
                        step: k,
                        station: plant.stations[b.0 as usize].name.clone(),
                        time: b.1.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The seed of fork `fork` of a twin whose streams are keyed with `seed`.
pub fn fork_seed(seed: u64, fork: u64) -> u64 {
    replication_seed(seed ^ 0x5EED_F0E4_0000_0000, fork)
}

/// A restore in progress: the state's indices mapped to the plant's.
struct Restore<'a> {
    cfg: Arc<Compiled>,
    state: &'a TwinState,
    station: Vec<usize>,
    buffer: Vec<usize>,
    source: Vec<usize>,
    sink: Vec<usize>,
    product: Vec<usize>,
    order: Vec<usize>,
    calendar: Vec<usize>,
}

fn index_by_name<'n>(names: impl Iterator<Item = &'n str>) -> HashMap<&'n str, usize> {
    names.enumerate().map(|(i, n)| (n, i)).collect()
}

impl<'a> Restore<'a> {
    fn mismatch(&self, why: String) -> StateError {
        StateError::Mismatch {
            plant: self.cfg.plant.name.clone(),
            why,
        }
    }

    fn new(cfg: Arc<Compiled>, state: &'a TwinState) -> Result<Restore<'a>, StateError> {
        if state.format != FORMAT || state.version != VERSION {
            return Err(StateError::Format(format!(
                "the file says format '{}' version {}",
                state.format, state.version
            )));
        }
        let mut r = Restore {
            cfg: cfg.clone(),
            state,
            station: Vec::new(),
            buffer: Vec::new(),
            source: Vec::new(),
            sink: Vec::new(),
            product: Vec::new(),
            order: Vec::new(),
            calendar: Vec::new(),
        };
        let plant = &cfg.plant;
        let kinds: [(&str, Vec<&str>); 4] = [
            ("station", plant.stations.iter().map(|x| x.name.as_str()).collect()),
            ("buffer", plant.buffers.iter().map(|x| x.name.as_str()).collect()),
            ("source", plant.sources.iter().map(|x| x.name.as_str()).collect()),
            ("sink", plant.sinks.iter().map(|x| x.name.as_str()).collect()),
        ];
        let find = |kind: &str, name: &str| -> Result<usize, String> {
            let (_, names) = kinds.iter().find(|k| k.0 == kind).expect("known kind");
            if let Some(i) = names.iter().position(|n| *n == name) {
                return Ok(i);
            }
            match kinds.iter().find(|k| k.1.contains(&name)) {
                Some((other, _)) => Err(format!("{kind} '{name}' of the state is a {other} in the plant")),
                None => Err(format!("{kind} '{name}' of the state is not in the plant")),
            }
        };
        for s in &state.stations {
            let i = find("station", &s.name).map_err(|w| r.mismatch(w))?;
            let m = &plant.stations[i];
            let input = &plant.buffers[m.input].name;
            if *input != s.input {
                return Err(r.mismatch(format!(
                    "station '{}' takes from buffer '{}' in the state, from '{input}' in the plant",
                    s.name, s.input
                )));
            }
            let basis = m.failures.as_ref().map(|f| basis_name(f.basis).to_string());
            if basis != s.failures {
                return Err(r.mismatch(format!(
                    "station '{}' has failures {} in the state, {} in the plant",
                    s.name,
                    s.failures.as_deref().unwrap_or("none"),
                    basis.as_deref().unwrap_or("none")
                )));
            }
            r.station.push(i);
        }
        for b in &state.buffers {
            let i = find("buffer", &b.name).map_err(|w| r.mismatch(w))?;
            r.buffer.push(i);
        }
        for s in &state.sources {
            let i = find("source", &s.name).map_err(|w| r.mismatch(w))?;
            let kind = source_kind(&plant.sources[i].kind);
            if kind != s.kind {
                return Err(r.mismatch(format!(
                    "source '{}' is of kind {} in the state, {kind} in the plant",
                    s.name, s.kind
                )));
            }
            r.source.push(i);
        }
        for s in &state.sinks {
            r.sink.push(find("sink", &s.name).map_err(|w| r.mismatch(w))?);
        }
        let products = index_by_name(plant.products.iter().map(|p| p.name.as_str()));
        for p in &state.products {
            let Some(&i) = products.get(p.name.as_str()) else {
                return Err(r.mismatch(format!("product '{}' of the state is not in the plant", p.name)));
            };
            if routing(plant, i) != *p {
                return Err(r.mismatch(format!("product '{}' has another routing in the plant", p.name)));
            }
            r.product.push(i);
        }
        let orders = index_by_name(plant.orders.iter().map(|o| o.id.as_str()));
        for o in &state.orders {
            let Some(&i) = orders.get(o.id.as_str()) else {
                return Err(r.mismatch(format!("order '{}' of the state is not in the plant", o.id)));
            };
            let m = &plant.orders[i];
            if plant.products[m.product].name != o.product || m.quantity != o.quantity {
                return Err(r.mismatch(format!(
                    "order '{}' is {} × {} in the state, {} × {} in the plant",
                    o.id, o.quantity, o.product, m.quantity, plant.products[m.product].name
                )));
            }
            r.order.push(i);
        }
        let calendars = index_by_name(plant.shift_calendars.iter().map(|c| c.name.as_str()));
        for c in &state.shift_calendars {
            let Some(&i) = calendars.get(c.as_str()) else {
                return Err(r.mismatch(format!("shift calendar '{c}' of the state is not in the plant")));
            };
            r.calendar.push(i);
        }
        for (i, &t) in state.disruptions.iter().enumerate() {
            if plant.disruptions.get(i).is_none_or(|d| d.at.secs() != t) {
                return Err(r.mismatch(format!(
                    "injected event #{} (at {t} s) of the state is not the plant's #{}",
                    i + 1,
                    i + 1
                )));
            }
        }
        if state.plant_stats.orders.len() != state.orders.len() {
            return Err(StateError::Format(format!(
                "{} orders but progress for {}",
                state.orders.len(),
                state.plant_stats.orders.len()
            )));
        }
        if !state.now.is_finite() || state.now < 0.0 {
            return Err(StateError::Format(format!("clock at {}", state.now)));
        }
        Ok(r)
    }

    fn map(&self, what: &str, v: &[usize], i: u32) -> Result<usize, StateError> {
        v.get(i as usize)
            .copied()
            .ok_or_else(|| StateError::Format(format!("refers to {what} #{i}, which the state does not hold")))
    }

    fn part(&self, p: &Part) -> Result<Part, StateError> {
        let product = self.map("product", &self.product, p.product as u32)?;
        let steps = self.cfg.plant.products[product].routing.len();
        if p.step as usize >= steps {
            return Err(StateError::Format(format!(
                "part {} is at step {} of {steps}",
                p.id, p.step
            )));
        }
        let order = if p.order == NO_ORDER {
            NO_ORDER
        } else {
            self.map("order", &self.order, p.order)? as u32
        };
        Ok(Part {
            product: product as u16,
            order,
            gstep: self.cfg.step_base[product] + p.step as u32,
            ..*p
        })
    }

    fn server(&self, s: u32, k: u32) -> Result<(u32, u32), StateError> {
        let st = self.map("station", &self.station, s)?;
        if (k as usize) >= self.state.stations[s as usize].hot.servers.len() {
            return Err(StateError::Format(format!(
                "refers to server #{k} of station #{s}, which it does not hold"
            )));
        }
        Ok((st as u32, k))
    }

    fn event(&self, e: Event) -> Result<Event, StateError> {
        Ok(match e {
            Event::Start => Event::Start,
            Event::Arrival(i) => Event::Arrival(self.map("source", &self.source, i)? as u32),
            Event::Release(o) => Event::Release(self.map("order", &self.order, o)? as u32),
            Event::PhaseEnd(s, k, t) => {
                let (s, k) = self.server(s, k)?;
                Event::PhaseEnd(s, k, t)
            }
            Event::Fail(s, k, t) => {
                let (s, k) = self.server(s, k)?;
                Event::Fail(s, k, t)
            }
            Event::Repair(s, k) => {
                let (s, k) = self.server(s, k)?;
                Event::Repair(s, k)
            }
            Event::Shift(c) => Event::Shift(self.map("shift calendar", &self.calendar, c)? as u32),
            Event::Disruption(i) => {
                if i as usize >= self.state.disruptions.len() {
                    return Err(StateError::Format(format!(
                        "refers to injected event #{i}, which it does not hold"
                    )));
                }
                Event::Disruption(i)
            }
            Event::OutageEnd(s) => Event::OutageEnd(self.map("station", &self.station, s)? as u32),
        })
    }

    fn waiter(&self, w: Waiter) -> Result<Waiter, StateError> {
        Ok(match w {
            Waiter::Server { station, server, token } => {
                let (station, server) = self.server(station, server)?;
                Waiter::Server { station, server, token }
            }
            Waiter::Source { source, token } => Waiter::Source {
                source: self.map("source", &self.source, source)? as u32,
                token,
            },
        })
    }

    fn run(self, streams: Streams) -> Result<Twin, StateError> {
        let state = self.state;
        let cfg = self.cfg.clone();
        let plant = &cfg.plant;
        let rekey = match streams {
            Streams::Continue => None,
            Streams::Rekey(f) => Some(fork_seed(state.seed, f)),
        };
        // The fresh twin's components already hold streams keyed by the new seed (a fork) and
        // the plant's new elements; the state's elements overwrite the rest.
        let mut twin = build_twin(cfg.clone(), rekey.unwrap_or(state.seed));
        let fresh_stations = by_idx(&mut twin.world, |c: &StationHot| c.idx);
        let fresh_buffers = by_idx(&mut twin.world, |c: &BufferHot| c.idx);
        let fresh_sources = by_idx(&mut twin.world, |c: &SourceHot| c.idx);
        let now = state.now;
        let next_seq = state.next_seq;

        let mut variant_commands = Vec::new();
        let mut stations: Vec<Option<StationHot>> = vec![None; plant.stations.len()];
        for (si, rec) in state.stations.iter().enumerate() {
            let i = self.station[si];
            let mut hot = rec.hot.clone();
            hot.idx = i as u32;
            hot.calendar = match hot.calendar {
                Some(c) => Some(self.map("shift calendar", &self.calendar, c)? as u32),
                None => None,
            };
            for srv in &mut hot.servers {
                if let Some(p) = &srv.part {
                    srv.part = Some(self.part(p)?);
                }
            }
            if rekey.is_some() {
                let fresh = &fresh_stations[i];
                hot.rng_process = fresh.rng_process.clone();
                hot.rng_setup = fresh.rng_setup.clone();
                hot.rng_scrap = fresh.rng_scrap.clone();
                hot.rng_fail = fresh.rng_fail.clone();
                hot.rng_repair = fresh.rng_repair.clone();
            }
            // A variant's capacity and scrap apply where no command had changed the saved
            // plant's: more servers start now, fewer retire after their current part.
            let m = &plant.stations[i];
            if m.capacity != rec.capacity {
                variant_commands.push(Command::SetCapacity {
                    station: i as u32,
                    servers: m.capacity,
                });
            }
            if hot.scrap == rec.scrap {
                hot.scrap = m.scrap;
            }
            // A process model's state carries over when the variant's model has the same
            // parameters; a model the saved twin did not have starts from its file values.
            hot.model = match (&m.model, hot.model.take()) {
                (None, _) => None,
                (Some(pm), Some(h)) if h.params.len() == pm.params.len() => Some(h),
                (Some(pm), Some(_)) => {
                    return Err(StateError::Format(format!(
                        "station '{}': the state's process model has other parameters than the plant's ({})",
                        m.name,
                        pm.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                (Some(pm), None) => {
                    let mut h = crate::sim::ModelHot::new(pm);
                    h.t_at = state.now;
                    Some(h)
                }
            };
            stations[i] = Some(hot);
        }
        let mut buffers: Vec<Option<BufferHot>> = vec![None; plant.buffers.len()];
        for (bi, rec) in state.buffers.iter().enumerate() {
            let i = self.buffer[bi];
            let mut hot = rec.hot.clone();
            hot.idx = i as u32;
            hot.infinite = fresh_buffers[i].infinite;
            if plant.buffers[i].capacity != rec.capacity {
                hot.capacity = cfg.buffer_cap[i];
            }
            for p in hot.queue.iter_mut().chain(hot.backlog.iter_mut()) {
                *p = self.part(p)?;
            }
            for w in hot.waiters.iter_mut() {
                *w = self.waiter(*w)?;
            }
            buffers[i] = Some(hot);
        }
        let mut sources: Vec<Option<SourceHot>> = vec![None; plant.sources.len()];
        for (si, rec) in state.sources.iter().enumerate() {
            let i = self.source[si];
            let mut hot = rec.hot.clone();
            hot.idx = i as u32;
            if let Some(p) = &hot.blocked {
                hot.blocked = Some(self.part(p)?);
            }
            if rekey.is_some() {
                let fresh = &fresh_sources[i];
                hot.rng = fresh.rng.clone();
                hot.rng_mix = fresh.rng_mix.clone();
            }
            sources[i] = Some(hot);
        }
        let mut sinks: Vec<Option<SinkHot>> = vec![None; plant.sinks.len()];
        for (si, rec) in state.sinks.iter().enumerate() {
            let mut hot = rec.hot.clone();
            hot.idx = self.sink[si] as u32;
            sinks[self.sink[si]] = Some(hot);
        }
        let mut stats = state.plant_stats.clone();
        let mut orders = vec![Default::default(); plant.orders.len()];
        for (oi, p) in state.plant_stats.orders.iter().enumerate() {
            orders[self.order[oi]] = p.clone();
        }
        stats.orders = orders;

        let mut calendar = Vec::with_capacity(state.calendar.len());
        for e in &state.calendar {
            calendar.push(Scheduled {
                time: SimTime::from_secs(e.time),
                seq: e.seq,
                event: self.event(e.event)?,
            });
        }
        if let Some(first) = calendar.iter().map(|e| e.time.secs()).reduce(f64::min)
            && first < now
        {
            return Err(StateError::Format(format!(
                "an event is due at {first} s, before the clock ({now} s)"
            )));
        }
        let mut commands = Vec::with_capacity(state.commands.len());
        for c in &state.commands {
            commands.push(match c.clone() {
                Command::SetDown { station, down } => Command::SetDown {
                    station: self.map("station", &self.station, station)? as u32,
                    down,
                },
                Command::SetSpeed { station, speed } => Command::SetSpeed {
                    station: self.map("station", &self.station, station)? as u32,
                    speed,
                },
                Command::SetPartsDone { station, count } => Command::SetPartsDone {
                    station: self.map("station", &self.station, station)? as u32,
                    count,
                },
                Command::SetProcessScale { station, scale } => Command::SetProcessScale {
                    station: self.map("station", &self.station, station)? as u32,
                    scale,
                },
                Command::SetProcessTime { station, product, time } => Command::SetProcessTime {
                    station: self.map("station", &self.station, station)? as u32,
                    product: match product {
                        Some(p) => Some(self.map("product", &self.product, p)? as u32),
                        None => None,
                    },
                    time,
                },
                Command::SetScrap { station, probability } => Command::SetScrap {
                    station: self.map("station", &self.station, station)? as u32,
                    probability,
                },
                Command::SetModelParameter { station, param, value } => Command::SetModelParameter {
                    station: self.map("station", &self.station, station)? as u32,
                    param,
                    value,
                },
                Command::SetBufferCapacity { buffer, capacity } => Command::SetBufferCapacity {
                    buffer: self.map("buffer", &self.buffer, buffer)? as u32,
                    capacity,
                },
                Command::SetArrivalRate { source, factor } => Command::SetArrivalRate {
                    source: self.map("source", &self.source, source)? as u32,
                    factor,
                },
                Command::SetShiftCalendar { station, calendar } => Command::SetShiftCalendar {
                    station: self.map("station", &self.station, station)? as u32,
                    calendar: match calendar {
                        Some(c) => Some(self.map("shift calendar", &self.calendar, c)? as u32),
                        None => None,
                    },
                },
                Command::SetCapacity { station, servers } => Command::SetCapacity {
                    station: self.map("station", &self.station, station)? as u32,
                    servers,
                },
            });
        }

        let stations_by_name = index_by_name(plant.stations.iter().map(|x| x.name.as_str()));
        let products_by_name = index_by_name(plant.products.iter().map(|x| x.name.as_str()));
        for o in &state.process_times {
            let (Some(&p), Some(&st)) = (
                products_by_name.get(o.product.as_str()),
                stations_by_name.get(o.station.as_str()),
            ) else {
                return Err(self.mismatch(format!(
                    "changed process time of {} at {}: not in the plant",
                    o.product, o.station
                )));
            };
            if o.step >= plant.products[p].routing.len() {
                return Err(StateError::Format(format!("{} has no step {}", o.product, o.step + 1)));
            }
            let g = cfg.step_base[p] as usize + o.step;
            let times = std::sync::Arc::make_mut(&mut twin.model.times);
            for t in times[g].iter_mut().filter(|t| t.0 as usize == st) {
                t.1 = o.time.clone();
                t.2 = o.time.mean();
            }
        }
        if rekey.is_some() {
            redraw_residuals(&cfg, &twin.model.times, now, &mut calendar, &mut stations, &mut sources);
        }

        // Everything checked: write the components into the world.
        let world = &mut twin.world;
        for mut c in world.query::<&mut StationHot>().iter_mut(world) {
            if let Some(h) = stations[c.idx as usize].take() {
                *c = h;
            }
        }
        for mut c in world.query::<&mut BufferHot>().iter_mut(world) {
            if let Some(h) = buffers[c.idx as usize].take() {
                *c = h;
            }
        }
        for mut c in world.query::<&mut SourceHot>().iter_mut(world) {
            if let Some(h) = sources[c.idx as usize].take() {
                *c = h;
            }
        }
        for mut c in world.query::<&mut SinkHot>().iter_mut(world) {
            if let Some(h) = sinks[c.idx as usize].take() {
                *c = h;
            }
        }
        *world.resource_mut::<PlantHot>() = stats;
        let cal = Calendar::from_entries(next_seq, calendar).map_err(StateError::Format)?;
        twin.kernel_mut()
            .restore(SimTime::from_secs(now), state.events_run, cal);
        let variant_changed = !variant_commands.is_empty();
        commands.extend(variant_commands);
        twin.model.commands = commands;
        twin.model.series = state.series.clone();
        twin.model.seed = rekey.unwrap_or(state.seed);

        // A variant's new elements start now, as time 0 starts a plant.
        let is_new = |n: usize, mapped: &[usize]| (0..n).filter(|i| !mapped.contains(i)).collect::<Vec<_>>();
        let wake = Wake {
            sources: is_new(plant.sources.len(), &self.source),
            stations: is_new(plant.stations.len(), &self.station),
            calendars: is_new(plant.shift_calendars.len(), &self.calendar),
            disruptions: (state.disruptions.len()..plant.disruptions.len())
                .filter(|&i| plant.disruptions[i].at.secs() >= now)
                .collect(),
            restored: true,
        };
        let same_plant = wake.sources.is_empty()
            && wake.stations.is_empty()
            && wake.calendars.is_empty()
            && wake.disruptions.is_empty()
            && !variant_changed
            && state
                .buffers
                .iter()
                .zip(&self.buffer)
                .all(|(b, &i)| plant.buffers[i].capacity == b.capacity);
        if !same_plant {
            twin.model.wake = Some(wake);
        }
        Ok(twin)
    }
}

/// Redraws every pre-drawn future from its residual life (a fork; see the module docs).
fn redraw_residuals(
    cfg: &Compiled,
    times: &[Vec<(u32, Distribution, f64)>],
    now: f64,
    calendar: &mut [Scheduled<Event>],
    stations: &mut [Option<StationHot>],
    sources: &mut [Option<SourceHot>],
) {
    let plant = &cfg.plant;
    calendar.sort_by_key(|e| e.seq);
    for e in calendar.iter_mut() {
        let new_time = match e.event {
            Event::PhaseEnd(s, k, token) => {
                let Some(st) = stations[s as usize].as_mut() else {
                    continue;
                };
                let srv = &st.servers[k as usize];
                if srv.token != token || srv.suspended {
                    continue;
                }
                let remaining = srv.phase_end - now;
                let r = redraw_phase(cfg, times, s as usize, k as usize, st, remaining);
                let srv = &mut st.servers[k as usize];
                srv.phase_end = now + r;
                srv.phase_end
            }
            Event::Repair(s, k) => {
                let Some(st) = stations[s as usize].as_mut() else {
                    continue;
                };
                let Some(f) = &plant.stations[s as usize].failures else {
                    continue;
                };
                let elapsed = now - st.servers[k as usize].down_since;
                now + f.repair.sample_residual(elapsed, &mut st.rng_repair)
            }
            Event::Fail(s, k, token) => {
                let Some(st) = stations[s as usize].as_mut() else {
                    continue;
                };
                let Some(f) = &plant.stations[s as usize].failures else {
                    continue;
                };
                let srv = &st.servers[k as usize];
                if f.basis != FailureBasis::Calendar || srv.fail_token != token {
                    continue;
                }
                let elapsed = now - srv.fail_clock_start;
                now + f.between.sample_residual(elapsed, &mut st.rng_fail)
            }
            Event::Arrival(i) => {
                let Some(so) = sources[i as usize].as_mut() else {
                    continue;
                };
                let SourceKind::Arrivals { interarrival, .. } = &plant.sources[i as usize].kind else {
                    continue;
                };
                let elapsed = now - so.clock_start;
                now + interarrival.sample_residual(elapsed, &mut so.rng)
            }
            _ => continue,
        };
        e.time = SimTime::from_secs(new_time.max(now));
    }
    // Suspended setups and operations have no pending event: redraw what remains of them.
    for (s, st) in stations.iter_mut().enumerate() {
        let Some(st) = st.as_mut() else { continue };
        for k in 0..st.servers.len() {
            if st.servers[k].suspended && matches!(st.servers[k].phase, Phase::Setup | Phase::Busy) {
                let remaining = st.servers[k].remaining;
                st.servers[k].remaining = redraw_phase(cfg, times, s, k, st, remaining);
            }
        }
    }
}

/// Redraws the rest of server (s, k)'s setup or operation, of which `remaining` was left;
/// returns the new remaining time [s] and updates the drawn totals.
fn redraw_phase(
    cfg: &Compiled,
    times: &[Vec<(u32, Distribution, f64)>],
    s: usize,
    k: usize,
    st: &mut StationHot,
    remaining: f64,
) -> f64 {
    let srv = &st.servers[k];
    match srv.phase {
        Phase::Setup => {
            // Without a part: a setup ahead (plan execution), the server already marked with
            // the family it sets up for.
            let fam = srv
                .part
                .map_or(srv.last_family, |p| Some(cfg.family[p.product as usize]));
            let Some(fam) = fam else { return remaining };
            let Some(d) = cfg.plant.stations[s]
                .setups
                .between(srv.setup_from.map(usize::from), fam as usize)
            else {
                return remaining;
            };
            let elapsed = srv.setup_s - remaining;
            let r = d.sample_residual(elapsed, &mut st.rng_setup);
            st.servers[k].setup_s = elapsed + r;
            r
        }
        Phase::Busy => {
            let Some(part) = srv.part else { return remaining };
            let Some(d) = times[part.gstep as usize]
                .iter()
                .find(|t| t.0 as usize == s)
                .map(|t| &t.1)
            else {
                return remaining;
            };
            // Simulated time = work × scale / speed (as when the operation started).
            let per_work = srv.op_scale / srv.op_speed;
            let elapsed_work = srv.work - remaining / per_work;
            let r = d.sample_residual(elapsed_work, &mut st.rng_process);
            st.servers[k].work = elapsed_work + r;
            r * per_work
        }
        Phase::Idle | Phase::Blocked => remaining,
    }
}

/// Serde for the engine's collectors and streams, through their raw state (the engine itself
/// stays free of serde).
pub(crate) mod rng {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use twinworks_engine::RngStream;

    pub fn serialize<S: Serializer>(r: &RngStream, s: S) -> Result<S::Ok, S::Error> {
        r.words().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RngStream, D::Error> {
        let w = <[u64; 4]>::deserialize(d)?;
        RngStream::from_words(w).ok_or_else(|| serde::de::Error::custom("a random stream's state is all zero"))
    }
}

/// The quantile histogram inside a tally.
#[derive(Serialize, Deserialize)]
#[serde(remote = "twinworks_engine::LogHistogramRaw")]
struct HistogramDef {
    zeros: u64,
    offset: i64,
    bins: Vec<u64>,
    count: u64,
}

/// `Option<LogHistogramRaw>` through [`HistogramDef`].
mod opt_histogram {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use twinworks_engine::LogHistogramRaw;

    use super::HistogramDef;

    #[derive(Serialize, Deserialize)]
    struct Wrap(#[serde(with = "HistogramDef")] LogHistogramRaw);

    pub fn serialize<S: Serializer>(v: &Option<LogHistogramRaw>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|h| Wrap(h.clone())).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LogHistogramRaw>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

pub(crate) mod tally {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use twinworks_engine::{LogHistogramRaw, Tally, TallyRaw};

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "TallyRaw")]
    struct TallyDef {
        n: u64,
        shift: f64,
        sum: f64,
        sum_sq: f64,
        min: f64,
        max: f64,
        #[serde(with = "super::opt_histogram")]
        hist: Option<LogHistogramRaw>,
    }

    pub fn serialize<S: Serializer>(v: &Tally, s: S) -> Result<S::Ok, S::Error> {
        TallyDef::serialize(&v.to_raw(), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tally, D::Error> {
        TallyDef::deserialize(d).map(Tally::from_raw)
    }
}

pub(crate) mod time_weighted {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use twinworks_engine::{TimeWeighted, TimeWeightedRaw};

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "TimeWeightedRaw")]
    struct TimeWeightedDef {
        level: f64,
        last: f64,
        start: f64,
        area: f64,
        max: f64,
    }

    pub fn serialize<S: Serializer>(v: &TimeWeighted, s: S) -> Result<S::Ok, S::Error> {
        TimeWeightedDef::serialize(&v.to_raw(), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeWeighted, D::Error> {
        TimeWeightedDef::deserialize(d).map(TimeWeighted::from_raw)
    }
}

pub(crate) mod batch_means {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use twinworks_engine::{BatchMeans, BatchMeansRaw};

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "BatchMeansRaw")]
    struct BatchMeansDef {
        target: usize,
        batch_size: u64,
        current_sum: f64,
        current_n: u64,
        batches: Vec<f64>,
        total_sum: f64,
        total_n: u64,
    }

    pub fn serialize<S: Serializer>(v: &BatchMeans, s: S) -> Result<S::Ok, S::Error> {
        BatchMeansDef::serialize(&v.to_raw(), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BatchMeans, D::Error> {
        BatchMeansDef::deserialize(d).map(BatchMeans::from_raw)
    }
}

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid state.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (serde names the field).
        message: String,
    },
}

/// Reads a state file (JSON, [`FORMAT`] version [`VERSION`]).
pub fn load(path: &std::path::Path) -> Result<TwinState, StateFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| StateFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_err = |e: serde_json::Error| StateFileError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    // The format and version are checked first, so that another file gets that message rather
    // than a missing field's.
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<u32>,
    }
    let h: Header = serde_json::from_str(&text).map_err(parse_err)?;
    if h.format.as_deref() != Some(FORMAT) || h.version != Some(VERSION) {
        return Err(StateFileError::Parse {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!(
                "not a twin state of format {FORMAT} version {VERSION} (format {:?}, version {:?})",
                h.format, h.version
            ),
        });
    }
    serde_json::from_str(&text).map_err(parse_err)
}

/// Writes `state` to `path` as JSON, through a temporary file renamed into place, so that a
/// failed write never leaves a half-written state.
pub fn save(path: &std::path::Path, state: &TwinState) -> Result<(), StateFileError> {
    let io = |source| StateFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_string_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, json + "\n").map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Serde for [`Distribution`] (the engine's, without serde): one tagged table per family.
pub(crate) mod distribution {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use twinworks_engine::Distribution;

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "dist", rename_all = "snake_case")]
    enum Def {
        Constant {
            value: f64,
        },
        Uniform {
            min: f64,
            max: f64,
        },
        Triangular {
            min: f64,
            mode: f64,
            max: f64,
        },
        Exponential {
            mean: f64,
        },
        Normal {
            mean: f64,
            sd: f64,
        },
        Lognormal {
            mean: f64,
            sd: f64,
        },
        Gamma {
            shape: f64,
            scale: f64,
        },
        Weibull {
            shape: f64,
            scale: f64,
        },
        Empirical {
            values: Vec<f64>,
            cdf: Vec<f64>,
            continuous: bool,
        },
    }

    pub fn serialize<S: Serializer>(d: &Distribution, s: S) -> Result<S::Ok, S::Error> {
        use Distribution as D;
        let def = match d.clone() {
            D::Constant { value } => Def::Constant { value },
            D::Uniform { min, max } => Def::Uniform { min, max },
            D::Triangular { min, mode, max } => Def::Triangular { min, mode, max },
            D::Exponential { mean } => Def::Exponential { mean },
            D::Normal { mean, sd } => Def::Normal { mean, sd },
            D::Lognormal { mean, sd } => Def::Lognormal { mean, sd },
            D::Gamma { shape, scale } => Def::Gamma { shape, scale },
            D::Weibull { shape, scale } => Def::Weibull { shape, scale },
            D::Empirical {
                values,
                cdf,
                continuous,
            } => Def::Empirical {
                values,
                cdf,
                continuous,
            },
            other => return Err(serde::ser::Error::custom(format!("cannot save distribution {other:?}"))),
        };
        def.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Distribution, D::Error> {
        use Distribution as X;
        let dist = match Def::deserialize(d)? {
            Def::Constant { value } => X::Constant { value },
            Def::Uniform { min, max } => X::Uniform { min, max },
            Def::Triangular { min, mode, max } => X::Triangular { min, mode, max },
            Def::Exponential { mean } => X::Exponential { mean },
            Def::Normal { mean, sd } => X::Normal { mean, sd },
            Def::Lognormal { mean, sd } => X::Lognormal { mean, sd },
            Def::Gamma { shape, scale } => X::Gamma { shape, scale },
            Def::Weibull { shape, scale } => X::Weibull { shape, scale },
            Def::Empirical {
                values,
                cdf,
                continuous,
            } => X::Empirical {
                values,
                cdf,
                continuous,
            },
        };
        dist.validate().map_err(serde::de::Error::custom)?;
        Ok(dist)
    }
}
