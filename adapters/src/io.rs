//! What every protocol driver shares: observations flowing in, read and write requests flowing
//! out, and the handle that routes a request to the driver owning the tag.
//!
//! Each connection in the tag map gets one driver task. It sends [`Report`]s (observations in
//! engineering units, and link up/down changes) on one channel, and serves [`Request`]s (read a
//! tag now, write a raw value) one at a time, so that a protocol's transactions never interleave.
//! Every request carries a deadline; a driver that misses it answers with an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};

use crate::tagmap::{Connection, TagMap};
use crate::writeback::DeviceWrite;

/// Why a read or write of a device did not happen. The kinds stay apart up to the caller: a
/// refusal by the device (it answered: OPC UA Bad status, Modbus exception) calls for a look
/// at the value or the device, a link failure (no answer, not connected, transport error) for
/// a retry or the network, and an unsupported request for the tag map.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum DeviceError {
    /// The device answered and refused the request.
    #[error("refused by the device: {0}")]
    Refused(String),
    /// The request did not reach the device or its answer did not come back.
    #[error("link failure: {0}")]
    Link(String),
    /// This connection or tag cannot carry the request out (protocol, data type, build).
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// How trustworthy an observation is.
#[derive(Clone, Debug, PartialEq)]
pub enum Quality {
    /// Good.
    Good,
    /// The device answered with an error for this value (Modbus exception, OPC UA bad status);
    /// the text says which.
    Bad(String),
}

/// A value of one tag, as received.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Tag index in the map.
    pub tag: usize,
    /// Value in engineering units (NaN when the quality is bad).
    pub value: f64,
    /// Quality.
    pub quality: Quality,
    /// The source's time stamp, if the protocol has one (OPC UA).
    pub source_time: Option<SystemTime>,
    /// When it arrived here.
    pub received: Instant,
}

/// What a driver tells the mirror.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// A value.
    Value(Observation),
    /// The connection came up (`up`) or was lost.
    Link {
        /// Connection index in the map.
        connection: usize,
        /// Up or down.
        up: bool,
        /// Why (for the alarm list).
        message: String,
    },
    /// The connection failed in a way retrying cannot mend (wrong password, untrusted
    /// certificate); its driver has stopped.
    Fatal {
        /// Connection index in the map.
        connection: usize,
        /// Why.
        message: String,
    },
    /// The connection is alive: its subscription-based values are current even if unchanged
    /// (OPC UA only notifies changes).
    Alive {
        /// Connection index in the map.
        connection: usize,
    },
}

/// What the mirror or the write-back asks of a driver.
#[derive(Debug)]
pub enum Request {
    /// Read the tag from the device now (engineering units).
    Read {
        /// Tag index.
        tag: usize,
        /// The answer.
        reply: oneshot::Sender<Result<f64, DeviceError>>,
    },
    /// Write an engineering value to the tag (the driver converts to raw).
    Write {
        /// Tag index.
        tag: usize,
        /// Engineering units.
        value: f64,
        /// The answer.
        reply: oneshot::Sender<Result<(), DeviceError>>,
    },
    /// Publish a message (MQTT connections; other drivers ignore it).
    Publish {
        /// Topic.
        topic: String,
        /// Payload.
        payload: Vec<u8>,
        /// The broker keeps it as the topic's last message.
        retain: bool,
    },
}

/// Counters of one connection's driver, shared between the driver task and its owner (no
/// process-global counters: two mirrors, or two connections, never mix their numbers).
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Values dropped because the report channel was full (OPC UA data-change callbacks, which
    /// cannot wait).
    pub dropped_values: AtomicU64,
    /// Messages dropped from a full MQTT store-and-forward outbox.
    pub dropped_publishes: AtomicU64,
    /// MQTT messages acknowledged by the broker.
    pub acked_publishes: AtomicU64,
}

impl ConnStats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// One line of the publish audit: information sent to the plant's message bus. Publishing is
/// not a device write (no guard), but what left, when, where and for whom is on disk.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PublishRecord {
    /// Wall-clock time (RFC 3339, UTC).
    pub time: String,
    /// Always `publish` (the audit's other lines are writes).
    pub kind: &'static str,
    /// Who published (`live`, a dispatcher).
    pub requester: String,
    /// The connection it went to.
    pub connection: String,
    /// The topic.
    pub topic: String,
    /// Payload size [bytes].
    pub bytes: usize,
    /// Whether the driver took it (`false`: its queue was full and the message was dropped).
    pub queued: bool,
    /// Whether the broker retains it.
    pub retain: bool,
}

/// Routes requests to the drivers. Cheap to clone.
#[derive(Clone)]
pub struct Drivers {
    map: Arc<TagMap>,
    senders: Vec<Option<mpsc::Sender<Request>>>,
    stats: Vec<Arc<ConnStats>>,
    timeout: Duration,
    publish_audit: Option<Arc<std::sync::Mutex<crate::writeback::AuditLog>>>,
}

/// Capacity of the report channel: bursts beyond it slow the drivers down instead of growing
/// memory.
pub const REPORT_CAPACITY: usize = 1 << 16;

impl Drivers {
    /// Starts one driver task per connection on the current tokio runtime. Reports go to `tx`.
    pub fn start(map: Arc<TagMap>, tx: mpsc::Sender<Report>) -> Drivers {
        let mut senders = Vec::new();
        let stats: Vec<Arc<ConnStats>> = map.connections.iter().map(|_| Arc::default()).collect();
        for (ci, conn) in map.connections.iter().enumerate() {
            let (rtx, rrx) = mpsc::channel(64);
            #[allow(unused_variables)]
            let st = stats[ci].clone();
            let started = match conn {
                #[cfg(feature = "modbus")]
                Connection::Modbus(c) => {
                    tokio::spawn(crate::modbus::run_client(map.clone(), ci, c.clone(), tx.clone(), rrx));
                    true
                }
                #[cfg(feature = "opcua")]
                Connection::OpcUa(c) => {
                    tokio::spawn(crate::opcua::run_client(
                        map.clone(),
                        ci,
                        c.clone(),
                        tx.clone(),
                        rrx,
                        st,
                    ));
                    true
                }
                #[cfg(feature = "mqtt")]
                Connection::Mqtt(c) => {
                    tokio::spawn(crate::mqtt::run_client(map.clone(), ci, c.clone(), tx.clone(), rrx, st));
                    true
                }
                #[allow(unreachable_patterns)]
                _ => {
                    drop(rrx);
                    let _ = tx.try_send(Report::Link {
                        connection: ci,
                        up: false,
                        message: format!(
                            "connection '{}': this build has no support for its protocol (cargo feature off)",
                            conn.name()
                        ),
                    });
                    false
                }
            };
            senders.push(started.then_some(rtx));
        }
        Drivers {
            map,
            senders,
            stats,
            timeout: Duration::from_secs(5),
            publish_audit: None,
        }
    }

    /// Records every later [`Drivers::publish`] in `log` (shared by the clones made after).
    pub fn audit_publishes(&mut self, log: crate::writeback::AuditLog) {
        self.publish_audit = Some(Arc::new(std::sync::Mutex::new(log)));
    }

    /// Appends `record` to the publish audit, if there is one (information that left the
    /// twin other than by an MQTT publish: a dispatch list written to a file).
    pub fn audit(&self, record: &impl serde::Serialize) -> std::io::Result<()> {
        match &self.publish_audit {
            Some(log) => log
                .lock()
                .map_err(|_| std::io::Error::other("publish audit poisoned"))?
                .append(record),
            None => Ok(()),
        }
    }

    /// The counters of connection `ci` (index into the tag map's connections).
    pub fn stats(&self, ci: usize) -> &ConnStats {
        &self.stats[ci]
    }

    /// A counter summed over all connections of these drivers.
    pub fn total(&self, counter: impl Fn(&ConnStats) -> &AtomicU64) -> u64 {
        self.stats.iter().map(|s| counter(s).load(Ordering::Relaxed)).sum()
    }

    /// The tag map.
    pub fn map(&self) -> &Arc<TagMap> {
        &self.map
    }

    async fn ask<T>(
        &self,
        tag: usize,
        make: impl FnOnce(oneshot::Sender<Result<T, DeviceError>>) -> Request,
    ) -> Result<T, DeviceError> {
        let t = self
            .map
            .tags
            .get(tag)
            .ok_or_else(|| DeviceError::Unsupported(format!("no tag #{tag}")))?;
        let c = &self.map.connections[t.connection];
        let conn = format!("'{}' ({})", c.name(), c.endpoint());
        let tx = self.senders[t.connection]
            .as_ref()
            .ok_or_else(|| DeviceError::Unsupported(format!("connection {conn} is not available in this build")))?;
        let (rtx, rrx) = oneshot::channel();
        tokio::time::timeout(self.timeout, tx.send(make(rtx)))
            .await
            .map_err(|_| {
                DeviceError::Link(format!(
                    "connection {conn}: busy, request not accepted within {:?}",
                    self.timeout
                ))
            })?
            .map_err(|_| DeviceError::Link(format!("connection {conn}: driver stopped")))?;
        let located = |e: DeviceError| match e {
            DeviceError::Refused(m) => DeviceError::Refused(format!("connection {conn}: {m}")),
            DeviceError::Link(m) => DeviceError::Link(format!("connection {conn}: {m}")),
            DeviceError::Unsupported(m) => DeviceError::Unsupported(format!("connection {conn}: {m}")),
        };
        match tokio::time::timeout(self.timeout, rrx).await {
            Ok(Ok(r)) => r.map_err(located),
            Ok(Err(_)) => Err(DeviceError::Link(format!(
                "connection {conn}: driver dropped the request"
            ))),
            Err(_) => Err(DeviceError::Link(format!(
                "connection {conn}: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// Reads a tag from the device now.
    pub async fn read(&self, tag: usize) -> Result<f64, DeviceError> {
        self.ask(tag, |reply| Request::Read { tag, reply }).await
    }

    /// Queues a message from `requester` for every MQTT connection that has a
    /// `publish_prefix`, on topic `prefix/suffix`, and returns how many took it. Never waits:
    /// when a driver's queue is full the message is dropped (the driver's own outbox holds
    /// messages during broker outages). With a publish audit ([`Drivers::audit_publishes`])
    /// every message is recorded, taken or dropped; `Err` when the audit cannot be written.
    pub fn publish(&self, requester: &str, suffix: &str, payload: &[u8]) -> std::io::Result<usize> {
        self.publish_with(requester, suffix, payload, false)
    }

    /// [`Drivers::publish`], retained by the broker when `retain` (a subscriber that connects
    /// later gets the last message on the topic first: dispatch lists).
    pub fn publish_with(&self, requester: &str, suffix: &str, payload: &[u8], retain: bool) -> std::io::Result<usize> {
        let mut n = 0;
        for (ci, c) in self.map.connections.iter().enumerate() {
            if let (Connection::Mqtt(m), Some(tx)) = (c, &self.senders[ci])
                && let Some(prefix) = &m.publish_prefix
            {
                let topic = format!("{prefix}/{suffix}");
                let queued = tx
                    .try_send(Request::Publish {
                        topic: topic.clone(),
                        payload: payload.to_vec(),
                        retain,
                    })
                    .is_ok();
                n += queued as usize;
                if let Some(log) = &self.publish_audit {
                    let rec = PublishRecord {
                        time: crate::writeback::rfc3339(SystemTime::now()),
                        kind: "publish",
                        requester: requester.to_string(),
                        connection: c.name().to_string(),
                        topic,
                        bytes: payload.len(),
                        queued,
                        retain,
                    };
                    log.lock()
                        .map_err(|_| std::io::Error::other("publish audit poisoned"))?
                        .append(&rec)?;
                }
            }
        }
        Ok(n)
    }

    /// Writes an engineering value to a tag. Only [`crate::writeback::WriteBack`] can call it:
    /// the capability [`DeviceWrite`] can be made only inside the `writeback` module (its field
    /// is private there), so the guard (limits, rate, permissive, read-back, audit) is enforced
    /// by the type system, not by convention. Publishing information ([`Drivers::publish`]) is
    /// not a device write and needs none.
    pub async fn write(&self, tag: usize, value: f64, _cap: &DeviceWrite) -> Result<(), DeviceError> {
        self.ask(tag, |reply| Request::Write { tag, value, reply }).await
    }
}

/// Sleeps for `d` while answering every read and write with "not connected" (a driver between
/// reconnect attempts); returns false when the request channel closed.
pub async fn wait_refusing(rx: &mut mpsc::Receiver<Request>, d: Duration) -> bool {
    let sleep = tokio::time::sleep(d);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            req = rx.recv() => match req {
                None => return false,
                Some(Request::Read { reply, .. }) => { let _ = reply.send(Err(DeviceError::Link("not connected".into()))); }
                Some(Request::Write { reply, .. }) => { let _ = reply.send(Err(DeviceError::Link("not connected".into()))); }
                Some(Request::Publish { .. }) => {}
            },
        }
    }
}

/// Exponential backoff between reconnect attempts: 100 ms doubling to `max`.
#[derive(Clone, Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at 100 ms, capped at `max`.
    pub fn new(max: Duration) -> Backoff {
        Backoff {
            next: Duration::from_millis(100),
            max,
        }
    }

    /// The delay before the next attempt (and doubles it).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.next = Duration::from_millis(100);
    }
}

/// Reads a dotted path (`a.b.0.c`) from a JSON value as a number (booleans are 0/1).
pub fn json_number(v: &serde_json::Value, path: &str) -> Option<f64> {
    let mut cur = v;
    if !path.is_empty() {
        for key in path.split('.') {
            cur = match cur {
                serde_json::Value::Object(m) => m.get(key)?,
                serde_json::Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
    }
    match cur {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Bool(b) => Some(*b as u8 as f64),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a": {"t": 21.5, "on": true, "l": [1, 2]}, "s": "3"}"#).unwrap();
        assert_eq!(json_number(&v, "a.t"), Some(21.5));
        assert_eq!(json_number(&v, "a.on"), Some(1.0));
        assert_eq!(json_number(&v, "a.l.1"), Some(2.0));
        assert_eq!(json_number(&v, "s"), Some(3.0));
        assert_eq!(json_number(&v, "a.x"), None);
        assert_eq!(json_number(&serde_json::json!(7), ""), Some(7.0));
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(500));
        let d: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
