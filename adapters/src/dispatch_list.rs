//! Live dispatch lists: when the plant changes (a station observed going down or coming back,
//! an order released), the mirror's twin is forked and run ahead with mean times under a rule
//! (`twinworks_twins::lookahead`), and each station's next operations go to the shop floor.
//!
//! - Over MQTT: one message per station on `{publish_prefix}/dispatch/{station}`, retained and
//!   QoS 1, so that a station terminal that connects later gets its current list first.
//! - To a file: the whole document ([`DispatchMessage`], all stations), replaced atomically
//!   (written beside it, then renamed).
//!
//! Every list carries its sequence number (1, 2, … per run) and its trigger, and one audit
//! line ([`DispatchRecord`]) goes into the publish audit before it leaves; the MQTT messages
//! are audited as every publish is. Publishing is information, not a device write: it does not
//! pass the setpoint guard. The format is documented in `docs/dispatch-lists.md`
//! (`adapters/dispatch.schema.json`).

use std::path::PathBuf;
use std::time::SystemTime;

use serde::Serialize;
use twinworks_twins::lookahead::{LookAhead, StationList};
use twinworks_twins::plant::PlantModel;
use twinworks_twins::rules::Rule;
use twinworks_twins::sim::Twin;

use crate::io::Drivers;

/// The version tag of the dispatch-list format.
pub const FORMAT: &str = "twinworks-dispatch/1";

/// Where dispatch lists go.
#[derive(Clone, Debug, PartialEq)]
pub enum DispatchTarget {
    /// Every MQTT connection of the tag map with a `publish_prefix`.
    Mqtt,
    /// A JSON file, replaced at every list.
    File(PathBuf),
}

/// Settings of the live dispatch lists (`twin live --dispatch RULE --publish-dispatch ...`).
#[derive(Clone, Debug, PartialEq)]
pub struct DispatchOptions {
    /// The rule the look-ahead dispatches by.
    pub rule: Rule,
    /// Operations per station in a list.
    pub per_station: usize,
    /// How far the look-ahead runs at most [s of twin time].
    pub horizon_s: f64,
    /// Where the lists go.
    pub target: DispatchTarget,
}

/// What made a list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trigger {
    /// `start`, `breakdown`, `repair` or `order`.
    pub kind: &'static str,
    /// The station that went down or came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
    /// The order released.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// Twin time of the change [s].
    pub time_s: f64,
}

/// A dispatch list of every station (the file's document; MQTT carries one station each).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DispatchMessage {
    /// Always [`FORMAT`].
    pub format: &'static str,
    /// 1 for the first list of a run, then one more for each.
    pub seq: u64,
    /// What made it.
    pub trigger: Trigger,
    /// Twin time it was computed at [s].
    pub time_s: f64,
    /// The rule of the look-ahead (its label, e.g. `atcs(k1=2,k2=0.5)`).
    pub policy: String,
    /// Per station, its next operations.
    pub stations: Vec<StationList>,
}

/// One station's list, as published over MQTT.
#[derive(Serialize)]
struct StationMessage<'a> {
    format: &'static str,
    seq: u64,
    trigger: &'a Trigger,
    time_s: f64,
    policy: &'a str,
    station: &'a str,
    operations: &'a [twinworks_twins::lookahead::PlannedOp],
}

/// The audit line of one list.
#[derive(Serialize)]
pub struct DispatchRecord {
    /// Wall-clock time (RFC 3339, UTC).
    pub time: String,
    /// Always `dispatch`.
    pub kind: &'static str,
    /// The list's sequence number.
    pub seq: u64,
    /// Its trigger.
    pub trigger: Trigger,
    /// `mqtt` or the file's path.
    pub target: String,
    /// Operations over all stations.
    pub operations: usize,
}

/// Makes and sends the lists of one live run.
pub struct Dispatcher {
    look: LookAhead,
    opts: DispatchOptions,
    seq: u64,
}

impl Dispatcher {
    /// Lists for a twin of `twin_plant` (the mirror's plant) under `opts.rule`; `file_plant`
    /// gives the mean repair times.
    pub fn new(twin_plant: &PlantModel, file_plant: &PlantModel, opts: DispatchOptions) -> Dispatcher {
        Dispatcher {
            look: LookAhead::new(twin_plant, file_plant, opts.rule),
            opts,
            seq: 0,
        }
    }

    /// Computes the lists from `twin` now (`held`: stations the plant holds down, with since
    /// when) and sends them; returns the message. An error stops the run (nothing leaves
    /// unaudited).
    pub fn send(
        &mut self,
        twin: &mut Twin,
        held: &[(usize, f64)],
        trigger: Trigger,
        drivers: &Drivers,
    ) -> Result<DispatchMessage, String> {
        let stations = self
            .look
            .lists(twin, held, self.opts.per_station, self.opts.horizon_s)
            .map_err(|e| format!("dispatch look-ahead: {e}"))?;
        self.seq += 1;
        let msg = DispatchMessage {
            format: FORMAT,
            seq: self.seq,
            trigger,
            time_s: twin.now().secs(),
            policy: self.look.rule().label(),
            stations,
        };
        let target = match &self.opts.target {
            DispatchTarget::Mqtt => "mqtt".to_string(),
            DispatchTarget::File(p) => p.display().to_string(),
        };
        drivers
            .audit(&DispatchRecord {
                time: crate::writeback::rfc3339(SystemTime::now()),
                kind: "dispatch",
                seq: msg.seq,
                trigger: msg.trigger.clone(),
                target,
                operations: msg.stations.iter().map(|s| s.operations.len()).sum(),
            })
            .map_err(|e| format!("publish audit: {e}; stopping, nothing is published unaudited"))?;
        match &self.opts.target {
            DispatchTarget::Mqtt => {
                for s in &msg.stations {
                    let body = StationMessage {
                        format: FORMAT,
                        seq: msg.seq,
                        trigger: &msg.trigger,
                        time_s: msg.time_s,
                        policy: &msg.policy,
                        station: &s.station,
                        operations: &s.operations,
                    };
                    let json = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
                    drivers
                        .publish_with("dispatch", &format!("dispatch/{}", s.station), &json, true)
                        .map_err(|e| format!("publish audit: {e}; stopping, nothing is published unaudited"))?;
                }
            }
            DispatchTarget::File(path) => {
                let json = serde_json::to_vec_pretty(&msg).map_err(|e| e.to_string())?;
                let tmp = path.with_extension("json.partial");
                std::fs::write(&tmp, json)
                    .and_then(|_| std::fs::rename(&tmp, path))
                    .map_err(|e| format!("dispatch list {}: {e}", path.display()))?;
            }
        }
        Ok(msg)
    }
}
