//! MQTT on rumqttc 0.25: subscriptions with JSON field extraction, and publishing of the twin's
//! state with store-and-forward.
//!
//! - Every (re)connection (`ConnAck`) re-subscribes all tag topics: with a clean session the
//!   broker forgets subscriptions on disconnect.
//! - After a connection error the driver waits with exponential backoff (0.1 s doubling to 5 s)
//!   before polling again (rumqttc retries immediately otherwise).
//! - Publishing goes through a bounded **outbox**: messages wait there while the broker is
//!   unreachable, and a message leaves the outbox only when the broker acknowledged it (QoS 1
//!   `PubAck`); unacknowledged messages go back to the front of the outbox on a disconnect and
//!   are sent again after the reconnect. When the outbox is full the oldest message is dropped
//!   and counted ([`OutboxStats::dropped`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;

use crate::io::{Backoff, ConnStats, DeviceError, Observation, Quality, Report, Request, json_number};
use crate::tagmap::{Address, MqttConn, TagMap};

/// Whether `topic` matches the subscription `filter` (`+` one level, `#` the rest).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A message: topic, payload, and whether the broker retains it (the last one on the topic is
/// what a subscriber gets first).
pub type Message = (String, Vec<u8>, bool);

/// A bounded FIFO that drops its oldest entry when full.
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<Message>,
    cap: usize,
}

impl Outbox {
    /// An empty outbox holding at most `cap` messages.
    pub fn new(cap: usize) -> Outbox {
        Outbox {
            queue: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Adds a message at the back; returns whether the oldest was dropped to make room.
    pub fn push(&mut self, m: Message) -> bool {
        let dropped = self.queue.len() >= self.cap;
        if dropped {
            self.queue.pop_front();
        }
        self.queue.push_back(m);
        dropped
    }

    /// Puts messages back at the front (in their order), dropping from the back beyond capacity.
    pub fn requeue(&mut self, ms: impl DoubleEndedIterator<Item = Message>) -> u64 {
        for m in ms.rev() {
            self.queue.push_front(m);
        }
        let mut dropped = 0;
        while self.queue.len() > self.cap {
            self.queue.pop_back();
            dropped += 1;
        }
        dropped
    }

    /// Takes the oldest message.
    pub fn pop(&mut self) -> Option<Message> {
        self.queue.pop_front()
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The client driver of one MQTT connection.
pub async fn run_client(
    map: Arc<TagMap>,
    ci: usize,
    conn: MqttConn,
    tx: mpsc::Sender<Report>,
    mut rx: mpsc::Receiver<Request>,
    stats: Arc<ConnStats>,
) {
    let link = |up: bool, message: String| Report::Link {
        connection: ci,
        up,
        message: format!("mqtt '{}' ({}:{}): {message}", conn.name, conn.host, conn.port),
    };
    let mut opts = MqttOptions::new(conn.client_id.clone(), conn.host.clone(), conn.port);
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_max_packet_size(1 << 20, 1 << 20);
    if let Some((u, p)) = &conn.user {
        opts.set_credentials(u.clone(), p.clone());
    }
    if let Some(ca) = &conn.tls_ca {
        match std::fs::read(ca) {
            Ok(ca) => {
                opts.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                    ca,
                    alpn: None,
                    client_auth: None,
                }));
            }
            Err(e) => {
                let _ = tx
                    .send(Report::Fatal {
                        connection: ci,
                        message: format!("mqtt '{}': CA file {}: {e}", conn.name, ca.display()),
                    })
                    .await;
                return;
            }
        }
    }
    let topics: Vec<(usize, String, String)> = map
        .tags
        .iter()
        .enumerate()
        .filter(|(_, t)| t.connection == ci)
        .filter_map(|(i, t)| match &t.address {
            Address::Mqtt { topic, field } => Some((i, topic.clone(), field.clone())),
            _ => None,
        })
        .collect();
    let mut filters: Vec<String> = topics.iter().map(|(_, t, _)| t.clone()).collect();
    filters.sort();
    filters.dedup();
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    let mut no = eventloop.network_options();
    no.set_connection_timeout(5);
    eventloop.set_network_options(no);

    let mut outbox = Outbox::new(conn.buffer);
    // Sent, not yet acknowledged: (pkid once known, message).
    let mut inflight: VecDeque<(Option<u16>, Message)> = VecDeque::new();
    let mut connected = false;
    let mut backoff = Backoff::new(Duration::from_secs(5));
    let mut retry_at: Option<Instant> = None;
    loop {
        // Move waiting messages into the client while connected (bounded in flight).
        while connected && inflight.len() < 64 {
            let Some(m) = outbox.pop() else { break };
            match client.try_publish(m.0.clone(), QoS::AtLeastOnce, m.2, m.1.clone()) {
                Ok(()) => inflight.push_back((None, m)),
                Err(_) => {
                    outbox.requeue(std::iter::once(m));
                    break;
                }
            }
        }
        let wait = async {
            match retry_at {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            req = rx.recv() => match req {
                None => { let _ = client.try_disconnect(); return; }
                Some(Request::Publish { topic, payload, retain }) => {
                    if outbox.push((topic, payload, retain)) {
                        ConnStats::add(&stats.dropped_publishes, 1);
                    }
                }
                Some(Request::Read { reply, .. }) => {
                    let _ = reply.send(Err(DeviceError::Unsupported(
                        "MQTT tags cannot be read on demand; they update when published".into(),
                    )));
                }
                Some(Request::Write { reply, .. }) => {
                    let _ = reply.send(Err(DeviceError::Unsupported(
                        "writing MQTT tags is not supported; use OPC UA or Modbus for setpoints".into(),
                    )));
                }
            },
            _ = wait => { retry_at = None; }
            ev = eventloop.poll(), if retry_at.is_none() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected = true;
                    backoff.reset();
                    for f in &filters {
                        let _ = client.try_subscribe(f.clone(), QoS::AtLeastOnce);
                    }
                    let _ = tx.send(link(true, format!("connected; subscribed to {} topic(s)", filters.len()))).await;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let received = Instant::now();
                    let json: Option<serde_json::Value> = serde_json::from_slice(&p.payload).ok();
                    for (tag, filter, field) in &topics {
                        if !topic_matches(filter, &p.topic) {
                            continue;
                        }
                        let (value, quality) = match json.as_ref().and_then(|j| json_number(j, field)) {
                            Some(v) => (map.tags[*tag].to_eng(v), Quality::Good),
                            None => (f64::NAN, Quality::Bad(format!("no number at '{field}' in the payload on {}", p.topic))),
                        };
                        let obs = Observation { tag: *tag, value, quality, source_time: None, received };
                        if tx.send(Report::Value(obs)).await.is_err() {
                            return;
                        }
                    }
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    if let Some(slot) = inflight.iter_mut().find(|(k, _)| k.is_none()) {
                        slot.0 = Some(pkid);
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(ack))) => {
                    if let Some(pos) = inflight.iter().position(|(k, _)| *k == Some(ack.pkid)) {
                        inflight.remove(pos);
                        ConnStats::add(&stats.acked_publishes, 1);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if connected {
                        let _ = tx.send(link(false, format!("{e}; reconnecting"))).await;
                    } else {
                        let _ = tx.try_send(link(false, format!("{e}")));
                    }
                    connected = false;
                    // Unacknowledged messages go back to the front of the outbox.
                    let back: Vec<Message> = inflight.drain(..).map(|(_, m)| m).collect();
                    let d = outbox.requeue(back.into_iter());
                    ConnStats::add(&stats.dropped_publishes, d);
                    // rumqttc would send its own copies of these after a reconnect only with a
                    // persistent session; with a clean session it discards them.
                    eventloop.clean();
                    eventloop.pending.clear();
                    retry_at = Some(Instant::now() + backoff.next_delay());
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(topic_matches("plant/+/temp", "plant/lathe/temp"));
        assert!(topic_matches("plant/#", "plant/lathe/temp"));
        assert!(!topic_matches("plant/+/temp", "plant/lathe/speed"));
        assert!(topic_matches("a/b", "a/b"));
        assert!(!topic_matches("a/b", "a/b/c"));
    }

    #[test]
    fn outbox_is_bounded_and_keeps_order() {
        let mut o = Outbox::new(3);
        for i in 0..3 {
            assert!(!o.push((format!("t{i}"), vec![], false)));
        }
        assert!(o.push(("t3".into(), vec![], true)));
        let a = o.pop().unwrap();
        assert_eq!(a.0, "t1");
        assert_eq!(o.requeue(vec![a].into_iter()), 0);
        assert_eq!(o.len(), 3);
        assert_eq!(o.pop().unwrap().0, "t1");
    }
}
