//! Snapshots: the plant's state at one instant, as plain data.
//!
//! A snapshot is what the viewer draws and what `twin live --json` prints: it is taken from the
//! world between run calls ([`take`]) and sent over a channel, so a reader never holds the world
//! while it draws. The live mirror fills the fields only it knows (stale tags, observed values,
//! alarms about tags and setpoints); a simulation leaves them empty.
//!
//! Alarms from the simulation itself (breakdowns, repairs, outages, shifts) are found by
//! comparing consecutive snapshots ([`alarms_between`]): a breakdown that starts and ends between
//! two snapshots is still reported, from the station's failure counter.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kpi::{RunReport, collect};
use crate::sim::{BufferHot, Phase, PlantHot, STATES, StationHot, StationState, Twin};

/// One station at the snapshot's instant.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StationSnapshot {
    /// Name.
    pub name: String,
    /// The station's displayed state ([`StationState::dominant`] of its servers).
    pub state: StationState,
    /// Each server's state.
    pub servers: Vec<StationState>,
    /// Product on the first server that holds a part.
    pub product: Option<String>,
    /// That part's order id.
    pub order: Option<String>,
    /// Operations completed (since the statistics were last reset, or the plant's counter in
    /// live mode).
    pub parts_done: u64,
    /// Breakdowns so far.
    pub failures: u64,
    /// Share of server time busy (processing) since the statistics reset.
    pub utilization: f64,
    /// Shares of server time per state (busy, setup, idle, blocked, down, off-shift).
    pub shares: [f64; STATES],
    /// Speed factor (1 = nominal).
    pub speed: f64,
    /// Parts waiting in its input buffer.
    pub queue: usize,
    /// Live mode: some tag bound to this station is older than its expected interval.
    pub stale: bool,
    /// Live mode: the latest observed value of each bound field (temperature, speed, ...).
    pub observed: BTreeMap<String, f64>,
    /// Position from the plant file.
    pub position: Option<(f64, f64)>,
}

/// One buffer at the snapshot's instant.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BufferSnapshot {
    /// Name.
    pub name: String,
    /// Parts in it.
    pub level: usize,
    /// Its capacity (`None` = unlimited).
    pub capacity: Option<u32>,
    /// Position from the plant file.
    pub position: Option<(f64, f64)>,
}

/// What kind of thing an [`Alarm`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// A station broke down (or was reported down).
    Breakdown,
    /// A station is up again.
    Repair,
    /// A tag is older than its expected interval.
    Stale,
    /// A stale tag updates again.
    Fresh,
    /// A setpoint was refused by the write guard.
    SetpointRejected,
    /// A setpoint was written.
    SetpointWritten,
    /// An observation contradicted the simulated state (the observation won).
    Divergence,
    /// Connection to a source lost or regained.
    Connection,
    /// The twin stopped: a zero-time loop (stall guard) or a failed run; it will not move on.
    Halted,
}

/// An event worth an engineer's attention.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Alarm {
    /// When [s of simulated or live time].
    pub time_s: f64,
    /// What.
    pub kind: AlarmKind,
    /// The station, tag or connection it concerns.
    pub source: String,
    /// A human-readable line.
    pub message: String,
}

/// The plant at one instant.
#[derive(Clone, Debug, Serialize)]
pub struct PlantSnapshot {
    /// Time of the snapshot [s since the run's start].
    pub time_s: f64,
    /// Events run so far.
    pub events: u64,
    /// Stations in plant-file order.
    pub stations: Vec<StationSnapshot>,
    /// Buffers in plant-file order.
    pub buffers: Vec<BufferSnapshot>,
    /// Parts in the plant now.
    pub wip_now: u64,
    /// The KPIs so far (the same figures `twin run` reports at the end).
    pub kpis: RunReport,
    /// Alarms since the previous snapshot (filled by whoever sends snapshots).
    pub alarms: Vec<Alarm>,
    /// Why the twin stopped for good, if it did (the kernel's stall guard, or a failed run):
    /// the viewer and live mode show it instead of a clock that silently stands still.
    pub halted: Option<String>,
}

/// Takes a snapshot of `twin` at its current time. Costs about one pass over all stations and
/// buffers plus [`collect`]; no events run.
pub fn take(twin: &mut Twin) -> PlantSnapshot {
    let now = twin.now().secs();
    let events = twin.kernel().events_run();
    let cfg = twin.model.cfg.clone();
    let plant = &cfg.plant;
    let world = &mut twin.world;
    let since = world.resource::<PlantHot>().stats_since;
    let span = (now - since).max(0.0);
    let mut queue = vec![0usize; plant.buffers.len()];
    for b in world.query::<&BufferHot>().iter(world) {
        queue[b.idx as usize] = b.queue.len();
    }
    let mut stations: Vec<Option<StationSnapshot>> = vec![None; plant.stations.len()];
    for st in world.query::<&StationHot>().iter(world) {
        let m = &plant.stations[st.idx as usize];
        let servers: Vec<StationState> = st.servers.iter().map(|s| s.state()).collect();
        let held = st
            .servers
            .iter()
            .find_map(|s| s.part.filter(|_| s.phase != Phase::Idle));
        let mut t = [0.0; STATES];
        for srv in &st.servers {
            for (acc, x) in t.iter_mut().zip(srv.time_in_until(now)) {
                *acc += x;
            }
        }
        let total = m.capacity as f64 * span;
        let shares = t.map(|x| if total > 0.0 { x / total } else { 0.0 });
        stations[st.idx as usize] = Some(StationSnapshot {
            name: m.name.clone(),
            state: StationState::dominant(&servers),
            servers,
            product: held.map(|p| plant.products[p.product as usize].name.clone()),
            order: held
                .filter(|p| p.order != crate::sim::NO_ORDER)
                .map(|p| plant.orders[p.order as usize].id.clone()),
            parts_done: st.stats.ops_done,
            failures: st.stats.failures,
            utilization: shares[0],
            shares,
            speed: st.speed,
            queue: queue[m.input],
            stale: false,
            observed: BTreeMap::new(),
            position: m.position,
        });
    }
    let buffers = plant
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| BufferSnapshot {
            name: b.name.clone(),
            level: queue[i],
            capacity: b.capacity,
            position: b.position,
        })
        .collect();
    let p = world.resource::<PlantHot>();
    let wip_now = p.wip.level().max(0.0) as u64;
    let mut kpis = collect(twin, 0, 0);
    kpis.series.clear();
    // The runner's own message for a stalled or failed run (a live twin is one replication).
    let halted = crate::runner::halted(twin, 0).map(|e| e.to_string());
    PlantSnapshot {
        time_s: now,
        events,
        stations: stations.into_iter().flatten().collect(),
        buffers,
        wip_now,
        kpis,
        alarms: Vec::new(),
        halted,
    }
}

/// Alarms implied by the change from `prev` to `next` (same plant): breakdowns (from the failure
/// counters, so short ones between snapshots count), repairs, stale and fresh stations.
pub fn alarms_between(prev: &PlantSnapshot, next: &PlantSnapshot) -> Vec<Alarm> {
    let mut out = Vec::new();
    let t = next.time_s;
    if let (None, Some(why)) = (&prev.halted, &next.halted) {
        out.push(Alarm {
            time_s: t,
            kind: AlarmKind::Halted,
            source: "twin".into(),
            message: why.clone(),
        });
    }
    for (a, b) in prev.stations.iter().zip(&next.stations) {
        let new_failures = b.failures.saturating_sub(a.failures);
        let was_down = a.state == StationState::Down;
        let is_down = b.state == StationState::Down;
        if new_failures > 0 || (!was_down && is_down) {
            let n = new_failures.max(1);
            out.push(Alarm {
                time_s: t,
                kind: AlarmKind::Breakdown,
                source: b.name.clone(),
                message: if n > 1 {
                    format!("{} broke down {n} times", b.name)
                } else {
                    format!("{} down", b.name)
                },
            });
        }
        if was_down && !is_down {
            out.push(Alarm {
                time_s: t,
                kind: AlarmKind::Repair,
                source: b.name.clone(),
                message: format!("{} up again", b.name),
            });
        }
        if a.stale != b.stale {
            out.push(Alarm {
                time_s: t,
                kind: if b.stale { AlarmKind::Stale } else { AlarmKind::Fresh },
                source: b.name.clone(),
                message: format!("{} data {}", b.name, if b.stale { "stale" } else { "fresh again" }),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use crate::sim::Command;
    use std::sync::Arc;
    use twinworks_engine::SimTime;

    const LINE: &str = r#"
[plant]
name = "two"
[[source]]
name = "in"
kind = "infinite"
product = "P"
[[station]]
name = "A"
process_time = { dist = "constant", value = "10s" }
[[buffer]]
name = "BB"
[[station]]
name = "B"
input = "BB"
process_time = { dist = "constant", value = "5s" }
[[product]]
name = "P"
routing = [{ station = "A" }, { station = "B" }]
"#;

    fn twin() -> Twin {
        let plant = parse_plant(LINE, std::path::Path::new("two.toml")).unwrap();
        build_twin(Arc::new(Compiled::new(plant)), 1)
    }

    /// A twin stopped by the stall guard says so in its snapshot, and the change raises one
    /// `halted` alarm (what the viewer and live mode show).
    #[test]
    fn a_stalled_twin_is_halted_in_its_snapshot_with_one_alarm() {
        let burst = LINE.replace(
            "kind = \"infinite\"",
            "interarrival = { dist = \"empirical\", values = [\"0s\", \"1e9s\"], weights = [1, 1e-15] }",
        );
        let plant = parse_plant(&burst, std::path::Path::new("burst.toml")).unwrap();
        let mut t = build_twin(Arc::new(Compiled::new(plant)), 1);
        t.kernel_mut().set_stall_limit(1 << 16);
        let before = take(&mut t);
        assert_eq!(before.halted, None);
        assert_eq!(
            t.run_until(SimTime::from_secs(10.0)),
            twinworks_engine::kernel::StopReason::Stalled
        );
        let after = take(&mut t);
        let why = after.halted.clone().expect("halted");
        assert!(
            why.contains("stalled at t = 0s") && why.contains("source 'in'"),
            "{why}"
        );
        let alarms = alarms_between(&before, &after);
        assert_eq!(alarms.iter().filter(|a| a.kind == AlarmKind::Halted).count(), 1);
        assert!(
            alarms_between(&after, &take(&mut t))
                .iter()
                .all(|a| a.kind != AlarmKind::Halted)
        );
    }

    #[test]
    fn snapshot_shows_states_and_counts() {
        let mut t = twin();
        t.run_until(SimTime::from_secs(100.0));
        let s = take(&mut t);
        assert_eq!(s.stations.len(), 2);
        assert_eq!(s.stations[0].state, StationState::Busy);
        assert_eq!(s.stations[0].parts_done, 10);
        assert_eq!(s.stations[1].parts_done, 9);
        // B works 5 s of every 10 after the first part reached it at 10 s.
        assert!(
            (s.stations[1].utilization - 0.45).abs() < 1e-9,
            "{}",
            s.stations[1].utilization
        );
    }

    #[test]
    fn commands_hold_down_speed_up_and_realign() {
        let mut t = twin();
        t.run_until(SimTime::from_secs(15.0));
        t.model.commands.push(Command::SetDown { station: 0, down: true });
        t.run_until(SimTime::from_secs(100.0));
        let before = take(&mut t);
        assert_eq!(before.stations[0].state, StationState::Down);
        assert_eq!(before.stations[0].parts_done, 1, "A stops mid-operation at 15 s");
        t.model.commands.push(Command::SetDown {
            station: 0,
            down: false,
        });
        t.model.commands.push(Command::SetSpeed { station: 0, speed: 2.0 });
        // The suspended operation has 5 s left (at the old speed); then 5-s operations.
        t.run_until(SimTime::from_secs(125.0));
        let after = take(&mut t);
        assert_eq!(after.stations[0].parts_done, 6, "resumed op ends at 105, then 110..125");
        let alarms = alarms_between(&before, &after);
        assert_eq!(alarms.len(), 1);
        assert_eq!(alarms[0].kind, AlarmKind::Repair);
        t.model.commands.push(Command::SetPartsDone { station: 0, count: 42 });
        t.run_until(SimTime::from_secs(125.0));
        assert_eq!(take(&mut t).stations[0].parts_done, 42);
    }
}
