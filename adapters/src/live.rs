//! The live mirror: the twin runs in step with the plant, and what the plant reports overrides
//! what the twin predicted.
//!
//! Observations arrive from the drivers at any rate; the mirror keeps the latest per tag and, at
//! every tick, applies them to the bound stations as [`Command`]s before simulating forward to
//! the tick's time (real elapsed time × time scale). Between observations the twin simulates.
//! - `state`: a value in the tag's `down_values` holds the station down (as a breakdown: work in
//!   progress is suspended); any other value releases it. Stations with a bound state tag get
//!   no random failures of their own in live mode: the plant reports its breakdowns.
//! - `parts_done`: the station's counter is set to the plant's.
//! - `speed`: the station's speed factor.
//! - other fields are shown beside the station (`observed` in the snapshot).
//!
//! Where an observation contradicts the twin (plant says down while the twin had it working, or
//! the reverse; a counter that differs), the observation wins, and the **divergence** is
//! counted, logged (`tracing`, target `twinworks::divergence`) and raised as an alarm: the raw
//! material for calibrating the twin.
//!
//! A tag not updated within its `stale_after` is **stale** (OPC UA values count as updated while
//! the subscription is alive, since OPC UA only notifies changes); a station with a stale tag
//! shows `stale` in the snapshot, and the change raises an alarm.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use twinworks_engine::{SimTime, Tally};
use twinworks_twins::PlantModel;
use twinworks_twins::sim::StationState;
use twinworks_twins::sim::{Command, Compiled, Twin, build_twin};
use twinworks_twins::snapshot::{Alarm, AlarmKind, PlantSnapshot, alarms_between, take};

use crate::dispatch_list::{DispatchOptions, DispatchTarget, Dispatcher, Trigger};
use crate::io::{Drivers, Observation, Quality, REPORT_CAPACITY, Report};
use crate::tagmap::{Connection, TagMap};
use crate::writeback::{AuditLog, Freshness};

/// Options of a live run.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Twin seconds per real second.
    pub time_scale: f64,
    /// How often observations are applied and the twin advanced.
    pub tick: Duration,
    /// How often a snapshot is produced.
    pub snapshot_every: Duration,
    /// Stop after this long (real time); `None` = until the process is interrupted.
    pub duration: Option<Duration>,
    /// Seed of the twin's random streams.
    pub seed: u64,
    /// Where every published snapshot is recorded (JSON lines, see
    /// [`crate::io::PublishRecord`]); opened only when the tag map publishes. `None`: a tag map
    /// that publishes is refused, since nothing leaves unaudited.
    pub publish_audit: Option<std::path::PathBuf>,
    /// Dispatch lists sent to the shop floor when the plant changes (`crate::dispatch_list`).
    pub dispatch: Option<DispatchOptions>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            time_scale: 1.0,
            tick: Duration::from_millis(50),
            snapshot_every: Duration::from_secs(1),
            duration: None,
            seed: 1,
            publish_audit: None,
            dispatch: None,
        }
    }
}

/// Counters of a live run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LiveStats {
    /// Observations received.
    pub observations: u64,
    /// Observations with bad quality.
    pub bad_quality: u64,
    /// Divergences between plant and twin.
    pub divergences: u64,
    /// Link up/down changes.
    pub link_changes: u64,
    /// Real seconds run.
    pub seconds: f64,
    /// Observations per second.
    pub per_second: f64,
    /// Source time stamp to ingestion, median [ms] (sources with time stamps only).
    pub latency_p50_ms: Option<f64>,
    /// Source time stamp to ingestion, 99th percentile [ms].
    pub latency_p99_ms: Option<f64>,
    /// OPC UA values dropped because the mirror fell behind (report channel full).
    pub dropped_values: u64,
    /// MQTT messages dropped because the outbox was full.
    pub dropped_publishes: u64,
}

/// The mirror's state: the twin plus what is known about every tag.
pub struct Mirror {
    twin: Twin,
    map: Arc<TagMap>,
    latest: Vec<Option<Observation>>,
    /// Per tag: the last value passed on to the twin (the deadband's reference).
    passed: Vec<Option<f64>>,
    /// Per station: held down because the plant said so (not a prediction of the twin's).
    held: Vec<bool>,
    fresh: Freshness,
    alive: Vec<Option<Instant>>,
    tag_stale: Vec<bool>,
    /// When the mirror started: a tag never heard from is stale only once its `stale_after`
    /// has passed since then (not on the first tick).
    started: Instant,
    observed: Vec<BTreeMap<String, f64>>,
    alarms: Vec<Alarm>,
    prev: Option<PlantSnapshot>,
    /// Per station: since when (twin time) the plant holds it down.
    down_since: Vec<Option<f64>>,
    /// Per order: released in the twin already.
    released: Vec<bool>,
    /// Changes of the plant not yet answered with a dispatch list.
    triggers: Vec<Trigger>,
    latency: Tally,
    /// Counters.
    pub stats: LiveStats,
}

impl Mirror {
    /// A mirror of `plant` fed by the tags of `map`.
    pub fn new(plant: &PlantModel, map: Arc<TagMap>, seed: u64) -> Mirror {
        let mut plant = plant.clone();
        for t in &map.tags {
            if let (Some(s), "state") = (t.station, t.field.as_str()) {
                plant.stations[s].failures = None;
            }
        }
        let n = map.tags.len();
        let stations = plant.stations.len();
        let released = plant.orders.iter().map(|o| o.release.secs() <= 0.0).collect();
        Mirror {
            twin: build_twin(Arc::new(Compiled::new(plant)), seed),
            latest: vec![None; n],
            passed: vec![None; n],
            held: vec![false; stations],
            fresh: Arc::new(std::sync::Mutex::new(vec![None; n])),
            alive: vec![None; map.connections.len()],
            tag_stale: vec![false; n],
            started: Instant::now(),
            observed: vec![BTreeMap::new(); stations],
            alarms: Vec::new(),
            prev: None,
            down_since: vec![None; stations],
            released,
            triggers: Vec::new(),
            latency: Tally::with_quantiles(),
            stats: LiveStats::default(),
            map,
        }
    }

    /// The receive times per tag (for the write-back's stale-input check).
    pub fn freshness(&self) -> Freshness {
        self.fresh.clone()
    }

    /// The twin.
    pub fn twin(&mut self) -> &mut Twin {
        &mut self.twin
    }

    /// Takes in one driver report. Returns an error message for a fatal connection failure.
    pub fn ingest(&mut self, r: Report) -> Result<(), String> {
        match r {
            Report::Value(o) => {
                self.stats.observations += 1;
                if let Some(st) = o.source_time
                    && let Ok(d) = SystemTime::now().duration_since(st)
                {
                    self.latency.record(d.as_secs_f64() * 1000.0);
                }
                if o.quality != Quality::Good {
                    self.stats.bad_quality += 1;
                    return Ok(());
                }
                if let Ok(mut f) = self.fresh.lock() {
                    f[o.tag] = Some(o.received);
                }
                let tag = &self.map.tags[o.tag];
                let passes = match self.passed[o.tag] {
                    Some(prev) => tag.deadband == 0.0 || (o.value - prev).abs() >= tag.deadband,
                    None => true,
                };
                if passes {
                    let i = o.tag;
                    self.passed[i] = Some(o.value);
                    self.latest[i] = Some(o);
                }
            }
            Report::Alive { connection } => self.alive[connection] = Some(Instant::now()),
            Report::Link {
                connection,
                up,
                message,
            } => {
                self.stats.link_changes += 1;
                tracing::info!(target: "twinworks::link", "{message}");
                self.alarms.push(Alarm {
                    time_s: self.twin.now().secs(),
                    kind: AlarmKind::Connection,
                    source: self.map.connections[connection].name().to_string(),
                    message: format!("{} {message}", if up { "up:" } else { "down:" }),
                });
                if up {
                    self.alive[connection] = Some(Instant::now());
                } else {
                    self.alive[connection] = None;
                }
            }
            Report::Fatal { message, .. } => return Err(message),
        }
        Ok(())
    }

    fn divergence(&mut self, station: &str, message: String) {
        self.stats.divergences += 1;
        tracing::info!(target: "twinworks::divergence", "{station}: {message}");
        self.alarms.push(Alarm {
            time_s: self.twin.now().secs(),
            kind: AlarmKind::Divergence,
            source: station.to_string(),
            message: format!("{station}: {message}"),
        });
    }

    /// Applies the latest observations to the twin and simulates forward to `t` [twin s].
    pub fn advance_to(&mut self, t: f64) {
        let pending: Vec<Observation> = self.latest.iter_mut().filter_map(|o| o.take()).collect();
        if !pending.is_empty() {
            let snap = take(&mut self.twin);
            let map = self.map.clone();
            for o in pending {
                let tag = &map.tags[o.tag];
                let Some(s) = tag.station else { continue };
                let st = &snap.stations[s];
                let name = st.name.clone();
                match tag.field.as_str() {
                    "state" => {
                        let down = tag.down_values.contains(&o.value);
                        // While the plant holds the station down, the twin has no view of its
                        // own to contradict: only a prediction of the twin's can diverge.
                        let twin_down = st.state == StationState::Down;
                        let was_held = std::mem::replace(&mut self.held[s], down);
                        if was_held != down {
                            let now = self.twin.now().secs();
                            self.down_since[s] = down.then_some(now);
                            self.triggers.push(Trigger {
                                kind: if down { "breakdown" } else { "repair" },
                                station: Some(name.clone()),
                                order: None,
                                time_s: now,
                            });
                        }
                        if !was_held && down != twin_down {
                            let msg = format!(
                                "plant reports {} (value {}), twin had {}",
                                if down { "down" } else { "running" },
                                o.value,
                                st.state.as_str()
                            );
                            self.divergence(&name, msg);
                        }
                        self.twin.model.commands.push(Command::SetDown {
                            station: s as u32,
                            down,
                        });
                    }
                    "parts_done" => {
                        let plant = o.value.max(0.0).round() as u64;
                        if plant != st.parts_done {
                            let msg = format!("parts done: plant {plant}, twin {}", st.parts_done);
                            self.divergence(&name, msg);
                            self.twin.model.commands.push(Command::SetPartsDone {
                                station: s as u32,
                                count: plant,
                            });
                        }
                    }
                    "speed" if (o.value - st.speed).abs() > 1e-9 && o.value > 0.0 => {
                        self.twin.model.commands.push(Command::SetSpeed {
                            station: s as u32,
                            speed: o.value,
                        });
                    }
                    _ => {}
                }
                self.observed[s].insert(tag.field.clone(), o.value);
            }
        }
        let t = t.max(self.twin.now().secs());
        self.twin.run_until(SimTime::from_secs(t));
        let orders = &self.twin.model.cfg.plant.orders;
        for (o, done) in self.released.iter_mut().enumerate() {
            if !*done && orders[o].release.secs() <= t {
                *done = true;
                self.triggers.push(Trigger {
                    kind: "order",
                    station: None,
                    order: Some(orders[o].id.clone()),
                    time_s: orders[o].release.secs(),
                });
            }
        }
    }

    /// The plant's changes since the last call (breakdowns, repairs, released orders).
    pub fn take_triggers(&mut self) -> Vec<Trigger> {
        std::mem::take(&mut self.triggers)
    }

    /// The stations the plant holds down, with since when [s of twin time].
    pub fn held_down(&self) -> Vec<(usize, f64)> {
        self.down_since
            .iter()
            .enumerate()
            .filter_map(|(s, d)| d.map(|t| (s, t)))
            .collect()
    }

    /// Whether tag `i` is stale now.
    pub fn is_stale(&self, i: usize) -> bool {
        let tag = &self.map.tags[i];
        let last = self.fresh.lock().ok().and_then(|f| f[i]);
        let alive = match self.map.connections[tag.connection] {
            Connection::OpcUa(_) if last.is_some() => self.alive[tag.connection],
            _ => None,
        };
        let newest = match (last, alive) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        newest.unwrap_or(self.started).elapsed() > tag.stale_after
    }

    /// The mirrored state now, with stale marks, observed values and the alarms since the last
    /// snapshot.
    pub fn snapshot(&mut self) -> PlantSnapshot {
        let mut snap = take(&mut self.twin);
        let now = snap.time_s;
        for i in 0..self.map.tags.len() {
            let stale = self.is_stale(i);
            if stale != self.tag_stale[i] {
                self.tag_stale[i] = stale;
                let name = &self.map.tags[i].name;
                self.alarms.push(Alarm {
                    time_s: now,
                    kind: if stale { AlarmKind::Stale } else { AlarmKind::Fresh },
                    source: name.clone(),
                    message: format!("tag {name} {}", if stale { "stale" } else { "updating again" }),
                });
            }
            if let Some(s) = self.map.tags[i].station {
                snap.stations[s].stale |= stale;
            }
        }
        for (s, obs) in self.observed.iter().enumerate() {
            snap.stations[s].observed = obs.clone();
        }
        let mut alarms = std::mem::take(&mut self.alarms);
        if let Some(prev) = &self.prev {
            // Station-level changes (breakdowns from the plant, repairs); stale changes are
            // already reported per tag above.
            alarms.extend(
                alarms_between(prev, &snap)
                    .into_iter()
                    .filter(|a| !matches!(a.kind, AlarmKind::Stale | AlarmKind::Fresh)),
            );
        }
        snap.alarms = alarms;
        let mut keep = snap.clone();
        keep.alarms.clear();
        self.prev = Some(keep);
        snap
    }

    fn finish_stats(&mut self, seconds: f64, drivers: &Drivers) -> LiveStats {
        let mut s = self.stats.clone();
        s.seconds = seconds;
        s.per_second = if seconds > 0.0 {
            s.observations as f64 / seconds
        } else {
            0.0
        };
        s.latency_p50_ms = self.latency.quantile(0.5);
        s.latency_p99_ms = self.latency.quantile(0.99);
        s.dropped_values = drivers.total(|c| &c.dropped_values);
        s.dropped_publishes = drivers.total(|c| &c.dropped_publishes);
        s
    }
}

/// Runs the live mirror until `opts.duration` or until `stop` resolves: starts the drivers,
/// paces the twin in real time, and hands every snapshot to `sink`. Returns the counters, or the
/// message of a fatal connection failure.
pub async fn run_live(
    plant: &PlantModel,
    map: Arc<TagMap>,
    opts: &LiveOptions,
    mut sink: impl FnMut(PlantSnapshot),
    stop: impl std::future::Future<Output = ()>,
) -> Result<LiveStats, String> {
    // Snapshots (state and KPIs) go to every MQTT connection with a publish prefix, at the
    // shortest of their publish intervals, each recorded in the publish audit.
    let publish_every = map
        .connections
        .iter()
        .filter_map(|c| match c {
            Connection::Mqtt(m) if m.publish_prefix.is_some() => Some(m.publish_interval),
            _ => None,
        })
        .min();
    if opts.dispatch.as_ref().is_some_and(|d| d.target == DispatchTarget::Mqtt) && publish_every.is_none() {
        return Err("dispatch lists over MQTT need an [[mqtt]] connection with a publish_prefix in the tag map".into());
    }
    let audit = match (publish_every.is_some() || opts.dispatch.is_some(), &opts.publish_audit) {
        (false, _) => None,
        (true, None) => return Err("the tag map publishes, but no publish audit file is given".into()),
        (true, Some(p)) => Some(AuditLog::open(p).map_err(|e| format!("publish audit {}: {e}", p.display()))?),
    };
    let (tx, mut rx) = mpsc::channel(REPORT_CAPACITY);
    let mut drivers = Drivers::start(map.clone(), tx);
    if let Some(log) = audit {
        drivers.audit_publishes(log);
    }
    let mut next_publish = Instant::now();
    let mut m = Mirror::new(plant, map, opts.seed);
    let mut dispatcher = opts
        .dispatch
        .clone()
        .map(|d| Dispatcher::new(&m.twin.model.cfg.plant.clone(), plant, d));
    if let Some(d) = &mut dispatcher {
        let start = Trigger {
            kind: "start",
            station: None,
            order: None,
            time_s: 0.0,
        };
        let held = m.held_down();
        d.send(&mut m.twin, &held, start, &drivers)?;
    }
    let start = Instant::now();
    let mut tick = tokio::time::interval(opts.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next_snapshot = start;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
            r = rx.recv() => match r {
                Some(r) => {
                    m.ingest(r)?;
                    // Drain what is queued without waiting (cheap per observation).
                    while let Ok(r) = rx.try_recv() {
                        m.ingest(r)?;
                    }
                    continue;
                }
                None => break,
            },
        }
        let elapsed = start.elapsed();
        m.advance_to(elapsed.as_secs_f64() * opts.time_scale);
        if let Some(d) = &mut dispatcher {
            for t in m.take_triggers() {
                let held = m.held_down();
                d.send(&mut m.twin, &held, t, &drivers)?;
            }
        }
        let now = Instant::now();
        let publish = publish_every.is_some_and(|_| now >= next_publish);
        if now >= next_snapshot || publish {
            let snap = m.snapshot();
            if let (true, Some(every)) = (publish, publish_every) {
                next_publish = now + every;
                if let Ok(json) = serde_json::to_vec(&snap) {
                    drivers
                        .publish("live", "state", &json)
                        .map_err(|e| format!("publish audit: {e}; stopping, nothing is published unaudited"))?;
                }
            }
            if now >= next_snapshot {
                next_snapshot += opts.snapshot_every;
                sink(snap);
            }
        }
        if opts.duration.is_some_and(|d| elapsed >= d) {
            break;
        }
    }
    Ok(m.finish_stats(start.elapsed().as_secs_f64(), &drivers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const PLANT: &str = include_str!("../tests/peers/one_station.toml");

    const TAGS: &str = r#"
[[modbus]]
name = "plc"
address = "127.0.0.1:1"
[[tag]]
name = "T"
source = "plc"
register = "input"
address = 0
station = "Lathe"
field = "temperature"
deadband = 1.0
[[tag]]
name = "S"
source = "plc"
register = "input"
address = 1
station = "Lathe"
field = "state"
"#;

    fn mirror() -> Mirror {
        let plant = twinworks_twins::plant_file::parse_plant(PLANT, Path::new("p.toml")).unwrap();
        let map = crate::tagmap::parse_tag_map(TAGS, Path::new("t.toml"), Some(&plant)).unwrap();
        Mirror::new(&plant, Arc::new(map), 1)
    }

    fn obs(tag: usize, value: f64) -> Report {
        Report::Value(Observation {
            tag,
            value,
            quality: Quality::Good,
            source_time: None,
            received: Instant::now(),
        })
    }

    #[test]
    fn a_tag_is_not_stale_before_its_first_interval_has_passed() {
        let mut m = mirror();
        let first = m.snapshot();
        assert!(!first.stations[0].stale, "not stale on the first tick");
        assert!(
            !first.alarms.iter().any(|a| a.kind == AlarmKind::Stale),
            "{:?}",
            first.alarms
        );
        // Never heard from, and its stale_after (1.5 s by default here) has passed.
        std::thread::sleep(std::time::Duration::from_millis(1600));
        let later = m.snapshot();
        assert!(later.stations[0].stale);
        assert_eq!(later.alarms.iter().filter(|a| a.kind == AlarmKind::Stale).count(), 2);
    }

    #[test]
    fn the_deadband_is_measured_from_the_last_value_passed_on() {
        let mut m = mirror();
        let mut seen = Vec::new();
        // Each value arrives in its own tick: 10.5 and 10.9 are within 1.0 of 10; 11.2 is not.
        for (k, v) in [10.0, 10.5, 10.9, 11.2, 11.9].into_iter().enumerate() {
            m.ingest(obs(0, v)).unwrap();
            m.advance_to(k as f64 + 1.0);
            seen.push(m.snapshot().stations[0].observed["temperature"]);
        }
        assert_eq!(seen, [10.0, 10.0, 10.0, 11.2, 11.2]);
    }

    #[test]
    fn the_plant_state_wins_and_the_divergence_is_counted() {
        let mut m = mirror();
        m.advance_to(5.0);
        assert_eq!(m.snapshot().stations[0].state, StationState::Busy);
        m.ingest(obs(1, 4.0)).unwrap(); // the plant says down
        m.advance_to(6.0);
        let s = m.snapshot();
        assert_eq!(s.stations[0].state, StationState::Down);
        assert_eq!(m.stats.divergences, 1);
        assert!(s.alarms.iter().any(|a| a.kind == AlarmKind::Divergence));
        m.ingest(obs(1, 4.0)).unwrap(); // still down: nothing new
        m.advance_to(6.5);
        assert_eq!(m.stats.divergences, 1);
        // Running again: the twin was down only because the plant said so, no divergence.
        m.ingest(obs(1, 1.0)).unwrap();
        m.advance_to(7.0);
        assert_eq!(m.snapshot().stations[0].state, StationState::Busy);
        assert_eq!(m.stats.divergences, 1);
    }
}
