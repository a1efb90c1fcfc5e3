//! OPC UA client driver on async-opcua 0.19: one session per connection, one subscription with a
//! monitored item per tag, reads and writes on request.
//!
//! - Security None, or Basic256Sha256 SignAndEncrypt; anonymous or user name and password.
//! - The client certificate is generated on first run into `pki_dir/own` and `pki_dir/private`.
//!   A server certificate not in `pki_dir/trusted` is **rejected** (and copied to
//!   `pki_dir/rejected`, from where an operator can move it to `trusted`), unless the connection
//!   opts in with `trust_unknown_server = true`.
//! - A wrong user name or password, or an untrusted certificate, is a fatal error reported at
//!   once (not retried forever); other failures (server down, restarting) are retried with
//!   exponential backoff (0.2 s doubling to 2 s).
//! - After every reconnect the library re-creates or transfers the subscription, but its publish
//!   loop stays idle until triggered: the driver calls `trigger_publish_now()` on every
//!   `Reconnected` event — without it no data change arrives after a reconnect (tested by
//!   killing and restarting a server, `tests/opcua_peer.rs`).
//! - OPC UA only notifies changes: while publish responses (including keep-alives) arrive, the
//!   driver reports the connection alive, and unchanged values stay fresh.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use opcua::client::{ClientBuilder, DataChangeCallback, IdentityToken, MonitoredItem, Session, SessionPollResult};
use opcua::crypto::SecurityPolicy;
use opcua::types::{
    AttributeId, DataValue, EndpointDescription, MessageSecurityMode, MonitoredItemCreateRequest, MonitoringMode,
    MonitoringParameters, NodeId, NumericRange, ReadValueId, StatusCode, TimestampsToReturn, UserTokenPolicy, Variant,
    WriteValue,
};
use tokio::sync::mpsc;

use crate::io::{Backoff, ConnStats, DeviceError, Observation, Quality, Report, Request, wait_refusing};
use crate::tagmap::{Address, OpcUaConn, Security, TagMap};

/// Monitored items per subscription (the async-opcua server's default limit is 1000 per
/// subscription and per call).
pub const ITEMS_PER_SUBSCRIPTION: usize = 1000;

/// Status codes after which retrying cannot help.
fn fatal(code: StatusCode) -> Option<&'static str> {
    match code {
        StatusCode::BadIdentityTokenRejected
        | StatusCode::BadUserAccessDenied
        | StatusCode::BadIdentityTokenInvalid => Some("user name or password rejected by the server"),
        StatusCode::BadCertificateUntrusted | StatusCode::BadSecurityChecksFailed => Some(
            "server certificate not trusted (move it from the pki 'rejected' folder to 'trusted', or set trust_unknown_server = true)",
        ),
        StatusCode::BadCertificateHostNameInvalid | StatusCode::BadCertificateUriInvalid => {
            Some("server certificate does not match the endpoint (host name or application URI)")
        }
        _ => None,
    }
}

/// Converts an OPC UA time stamp to a `SystemTime`.
pub fn system_time(dt: &opcua::types::DateTime) -> Option<SystemTime> {
    // 100-ns ticks since 1601-01-01; the Unix epoch is 11644473600 s later.
    let ticks = dt.ticks();
    let unix_100ns = ticks.checked_sub(116_444_736_000_000_000)?;
    (unix_100ns >= 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_nanos(unix_100ns as u64 * 100))
}

/// A variant's numeric value (booleans as 0/1).
pub fn variant_f64(v: &Variant) -> Option<f64> {
    match v {
        Variant::Boolean(b) => Some(*b as u8 as f64),
        other => other.as_f64(),
    }
}

/// `x` as a variant of the same type as `like` (integers rounded; out of range = error).
pub fn variant_like(like: &Variant, x: f64) -> Result<Variant, String> {
    let int = |lo: f64, hi: f64| {
        let r = x.round();
        if x.is_finite() && (lo..=hi).contains(&r) {
            Ok(r)
        } else {
            Err(format!("{x} does not fit the node's data type"))
        }
    };
    Ok(match like {
        Variant::Boolean(_) => Variant::Boolean(x != 0.0),
        Variant::SByte(_) => Variant::SByte(int(-128.0, 127.0)? as i8),
        Variant::Byte(_) => Variant::Byte(int(0.0, 255.0)? as u8),
        Variant::Int16(_) => Variant::Int16(int(i16::MIN as f64, i16::MAX as f64)? as i16),
        Variant::UInt16(_) => Variant::UInt16(int(0.0, u16::MAX as f64)? as u16),
        Variant::Int32(_) => Variant::Int32(int(i32::MIN as f64, i32::MAX as f64)? as i32),
        Variant::UInt32(_) => Variant::UInt32(int(0.0, u32::MAX as f64)? as u32),
        Variant::Int64(_) => Variant::Int64(int(-9.0e18, 9.0e18)? as i64),
        Variant::UInt64(_) => Variant::UInt64(int(0.0, 1.8e19)? as u64),
        Variant::Float(_) => Variant::Float(x as f32),
        _ => Variant::Double(x),
    })
}

fn observation(map: &TagMap, tag: usize, dv: &DataValue) -> Observation {
    let status = dv.status();
    let value = dv.value.as_ref().and_then(variant_f64);
    let (value, quality) = match value {
        Some(v) if status.is_good() => (map.tags[tag].to_eng(v), Quality::Good),
        Some(v) if status.is_uncertain() => (map.tags[tag].to_eng(v), Quality::Bad(format!("uncertain: {status}"))),
        _ => (f64::NAN, Quality::Bad(format!("status {status}"))),
    };
    Observation {
        tag,
        value,
        quality,
        source_time: dv.source_timestamp.as_ref().and_then(system_time),
        received: Instant::now(),
    }
}

/// The client driver of one OPC UA connection.
pub async fn run_client(
    map: Arc<TagMap>,
    ci: usize,
    conn: OpcUaConn,
    tx: mpsc::Sender<Report>,
    mut rx: mpsc::Receiver<Request>,
    stats: Arc<ConnStats>,
) {
    let prefix = format!("opcua '{}' ({})", conn.name, conn.endpoint);
    let link = move |up: bool, message: String| Report::Link {
        connection: ci,
        up,
        message: format!("{prefix}: {message}"),
    };
    let tags: Vec<(usize, NodeId)> = map
        .tags
        .iter()
        .enumerate()
        .filter(|(_, t)| t.connection == ci)
        .filter_map(|(i, t)| match &t.address {
            Address::OpcUa { node } => match NodeId::from_str(node) {
                Ok(n) => Some((i, n)),
                Err(_) => {
                    let _ = tx.try_send(link(false, format!("tag '{}': invalid node id '{node}'", t.name)));
                    None
                }
            },
            _ => None,
        })
        .collect();
    let node_of = |tag: usize| tags.iter().find(|(i, _)| *i == tag).map(|(_, n)| n.clone());
    let mut client = match ClientBuilder::new()
        .application_name("Twinworks twin")
        .application_uri("urn:twinworks:twin")
        .product_uri("urn:twinworks")
        .pki_dir(conn.pki_dir.clone())
        .create_sample_keypair(true)
        .trust_server_certs(conn.trust_unknown_server)
        .session_retry_limit(-1)
        .session_retry_initial(Duration::from_millis(200))
        .session_retry_max(Duration::from_secs(2))
        .request_timeout(conn.connect_timeout)
        .keep_alive_interval(Duration::from_secs(1))
        .max_failed_keep_alive_count(3)
        .client()
    {
        Ok(c) => c,
        Err(e) => {
            let _ = tx
                .send(Report::Fatal {
                    connection: ci,
                    message: format!("opcua '{}': client setup: {}", conn.name, e.join("; ")),
                })
                .await;
            return;
        }
    };
    let (policy, mode) = match conn.security {
        Security::None => (SecurityPolicy::None, MessageSecurityMode::None),
        Security::Basic256Sha256 => (SecurityPolicy::Basic256Sha256, MessageSecurityMode::SignAndEncrypt),
    };
    let identity = match &conn.user {
        Some((u, p)) => IdentityToken::new_user_name(u.clone(), p.clone()),
        None => IdentityToken::Anonymous,
    };
    // Connecting: GetEndpoints is one call without retry, so retry it here while the server is
    // down, answering requests with "not connected" meanwhile.
    let mut backoff = Backoff::new(Duration::from_secs(2));
    let (session, event_loop) = loop {
        let ep: EndpointDescription = (
            conn.endpoint.as_str(),
            policy.to_str(),
            mode,
            UserTokenPolicy::anonymous(),
        )
            .into();
        let attempt = tokio::time::timeout(
            conn.connect_timeout,
            client.connect_to_matching_endpoint(ep, identity.clone()),
        )
        .await;
        match attempt {
            Ok(Ok(x)) => break x,
            Ok(Err(e)) => {
                let _ = tx.send(link(false, format!("connect: {e}"))).await;
            }
            Err(_) => {
                let _ = tx
                    .send(link(
                        false,
                        format!("connect: no answer within {:?}", conn.connect_timeout),
                    ))
                    .await;
            }
        }
        if !wait_refusing(&mut rx, backoff.next_delay()).await {
            return;
        }
    };
    // The event loop: connection state, reconnects (trigger_publish_now), liveness.
    let (state_tx, mut state_rx) = mpsc::channel::<Result<bool, String>>(16);
    let s2 = session.clone();
    let tx2 = tx.clone();
    let link2 = link.clone();
    let last_error = Arc::new(std::sync::Mutex::new(String::new()));
    let last_error2 = last_error.clone();
    let loop_task = tokio::spawn(async move {
        let stream = event_loop.enter();
        futures::pin_mut!(stream);
        let mut last_alive = Instant::now() - Duration::from_secs(1);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(SessionPollResult::Reconnected(_)) => {
                    s2.trigger_publish_now();
                    let _ = state_tx.send(Ok(true)).await;
                }
                Ok(SessionPollResult::ConnectionLost(c)) => {
                    let _ = state_tx.send(Ok(false)).await;
                    let _ = tx2
                        .send(link2(false, format!("connection lost ({c}); reconnecting")))
                        .await;
                }
                Ok(SessionPollResult::ReconnectFailed(c)) => {
                    if let Some(why) = fatal(c) {
                        let _ = state_tx.send(Err(format!("{why} ({c})"))).await;
                        return;
                    }
                    if let Ok(mut e) = last_error2.lock() {
                        *e = c.to_string();
                    }
                }
                Ok(SessionPollResult::Subscription(_)) | Ok(SessionPollResult::SessionActivity(_)) => {
                    if last_alive.elapsed() >= Duration::from_millis(200) {
                        last_alive = Instant::now();
                        let _ = tx2.try_send(Report::Alive { connection: ci });
                    }
                }
                Ok(_) => {}
                Err(c) => {
                    let _ = state_tx.send(Err(format!("session ended ({c})"))).await;
                    return;
                }
            }
        }
    });
    // Wait for the first connection (a wrong password must not hang).
    match tokio::time::timeout(conn.connect_timeout, state_rx.recv()).await {
        Ok(Some(Ok(true))) => {}
        Ok(Some(Err(e))) => {
            let _ = tx
                .send(Report::Fatal {
                    connection: ci,
                    message: format!("opcua '{}': {e}", conn.name),
                })
                .await;
            loop_task.abort();
            return;
        }
        _ => {
            let _ = tx
                .send(Report::Fatal {
                    connection: ci,
                    message: format!(
                        "opcua '{}': no session within {:?} (last error: {})",
                        conn.name,
                        conn.connect_timeout,
                        last_error.lock().map(|e| e.clone()).unwrap_or_default()
                    ),
                })
                .await;
            loop_task.abort();
            return;
        }
    }
    let _ = tx.send(link(true, "connected".into())).await;
    if let Err(e) = subscribe(&session, &map, &tags, &conn, tx.clone(), &stats).await {
        let _ = tx.send(link(false, format!("subscribe: {e}"))).await;
    }
    loop {
        tokio::select! {
            st = state_rx.recv() => match st {
                Some(Ok(true)) => { let _ = tx.send(link(true, "reconnected; subscriptions resumed".into())).await; }
                Some(Ok(false)) => {}
                Some(Err(e)) => {
                    let _ = tx.send(Report::Fatal { connection: ci, message: format!("opcua '{}': {e}", conn.name) }).await;
                    return;
                }
                None => return,
            },
            req = rx.recv() => match req {
                None => {
                    loop_task.abort();
                    let _ = tokio::time::timeout(Duration::from_secs(1), session.disconnect()).await;
                    return;
                }
                Some(Request::Publish { .. }) => {}
                Some(Request::Read { tag, reply }) => {
                    let r = match node_of(tag) {
                        None => Err(DeviceError::Unsupported("not an OPC UA tag of this connection".into())),
                        Some(n) => read_value(&session, &n, conn.connect_timeout).await
                            .map(|(v, _)| map.tags[tag].to_eng(v)),
                    };
                    let _ = reply.send(r);
                }
                Some(Request::Write { tag, value, reply }) => {
                    let r = match node_of(tag) {
                        None => Err(DeviceError::Unsupported("not an OPC UA tag of this connection".into())),
                        Some(n) => write_value(&session, &n, map.tags[tag].to_raw(value), conn.connect_timeout).await,
                    };
                    let _ = reply.send(r);
                }
            },
        }
    }
}

async fn subscribe(
    session: &Arc<Session>,
    map: &Arc<TagMap>,
    tags: &[(usize, NodeId)],
    conn: &OpcUaConn,
    tx: mpsc::Sender<Report>,
    stats: &Arc<ConnStats>,
) -> Result<(), String> {
    if tags.is_empty() {
        return Ok(());
    }
    // Servers limit monitored items per subscription (async-opcua: 1000 by default) and per
    // call: one subscription per ITEMS_PER_SUBSCRIPTION tags, created in calls of that size.
    for group in tags.chunks(ITEMS_PER_SUBSCRIPTION) {
        let m = map.clone();
        let tx = tx.clone();
        let st = stats.clone();
        let cb = DataChangeCallback::new(move |dv: DataValue, item: &MonitoredItem| {
            let tag = item.client_handle() as usize - 1;
            if tag < m.tags.len() && tx.try_send(Report::Value(observation(&m, tag, &dv))).is_err() {
                ConnStats::add(&st.dropped_values, 1);
            }
        });
        let sub = tokio::time::timeout(
            conn.connect_timeout,
            session.create_subscription(conn.publishing_interval, 60, 10, 0, 0, true, cb),
        )
        .await
        .map_err(|_| "create_subscription: timeout".to_string())?
        .map_err(|e| format!("create_subscription: {e}"))?;
        let items: Vec<MonitoredItemCreateRequest> = group
            .iter()
            .map(|(i, n)| {
                MonitoredItemCreateRequest::new(
                    ReadValueId::new_value(n.clone()),
                    MonitoringMode::Reporting,
                    MonitoringParameters {
                        client_handle: *i as u32 + 1,
                        sampling_interval: map.tags[*i].interval.as_secs_f64() * 1000.0,
                        // The latest value is what the twin needs; a larger queue multiplies
                        // the size of publish responses (10 × 1000 items overflowed messages).
                        queue_size: 1,
                        discard_oldest: true,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let res = tokio::time::timeout(
            conn.connect_timeout,
            session.create_monitored_items(sub, TimestampsToReturn::Both, items),
        )
        .await
        .map_err(|_| "create_monitored_items: timeout".to_string())?
        .map_err(|e| format!("create_monitored_items: {e}"))?;
        for (r, (i, n)) in res.iter().zip(group) {
            if !r.result.status_code.is_good() {
                return Err(format!("tag '{}' ({n}): {}", map.tags[*i].name, r.result.status_code));
            }
        }
    }
    Ok(())
}

async fn read_value(session: &Session, node: &NodeId, timeout: Duration) -> Result<(f64, Variant), DeviceError> {
    let dvs = tokio::time::timeout(
        timeout,
        session.read(&[ReadValueId::new_value(node.clone())], TimestampsToReturn::Both, 0.0),
    )
    .await
    .map_err(|_| DeviceError::Link(format!("read {node}: no answer within {timeout:?}")))?
    .map_err(|e| DeviceError::Link(format!("read {node}: {e}")))?;
    let dv = dvs
        .into_iter()
        .next()
        .ok_or_else(|| DeviceError::Refused(format!("read {node}: empty answer")))?;
    if !dv.status().is_good() {
        return Err(DeviceError::Refused(format!("read {node}: {}", dv.status())));
    }
    let v = dv
        .value
        .ok_or_else(|| DeviceError::Refused(format!("read {node}: no value")))?;
    let x = variant_f64(&v).ok_or_else(|| DeviceError::Unsupported(format!("read {node}: not a number ({v:?})")))?;
    Ok((x, v))
}

async fn write_value(session: &Session, node: &NodeId, raw: f64, timeout: Duration) -> Result<(), DeviceError> {
    // Write the node's own data type: read it first.
    let (_, like) = read_value(session, node, timeout).await?;
    let value = variant_like(&like, raw).map_err(|e| DeviceError::Unsupported(format!("write {node}: {e}")))?;
    let wv = WriteValue {
        node_id: node.clone(),
        attribute_id: AttributeId::Value as u32,
        index_range: NumericRange::None,
        value: DataValue::value_only(value),
    };
    let codes = tokio::time::timeout(timeout, session.write(&[wv]))
        .await
        .map_err(|_| DeviceError::Link(format!("write {node}: no answer within {timeout:?}")))?
        .map_err(|e| DeviceError::Link(format!("write {node}: {e}")))?;
    match codes.first() {
        Some(c) if c.is_good() => Ok(()),
        Some(c) => Err(DeviceError::Refused(format!("write {node}: {c}"))),
        None => Err(DeviceError::Refused(format!("write {node}: empty answer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(variant_like(&Variant::Int32(0), 2.6).unwrap(), Variant::Int32(3));
        assert!(variant_like(&Variant::UInt16(0), -1.0).is_err());
        assert_eq!(variant_like(&Variant::Float(0.0), 1.5).unwrap(), Variant::Float(1.5));
        assert_eq!(
            variant_like(&Variant::Boolean(false), 1.0).unwrap(),
            Variant::Boolean(true)
        );
        assert_eq!(variant_f64(&Variant::Boolean(true)), Some(1.0));
        let now = SystemTime::now();
        let back = system_time(&opcua::types::DateTime::now()).unwrap();
        let diff = back.duration_since(now).unwrap_or_else(|e| e.duration());
        assert!(diff < Duration::from_secs(2), "{diff:?}");
    }
}
