//! Modbus TCP against a pymodbus server (a peer no one here wrote), and through a proxy that
//! delays one reply past the timeout.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use twinworks_adapters::io::{Quality, Report};
use twinworks_adapters::tagmap::{TagMap, parse_tag_map};
use twinworks_adapters::writeback::{AuditLog, Outcome, WriteBack};

fn peer(port: u16) -> Peer {
    require_python("pymodbus");
    let script = peers_dir().join("modbus_server.py").display().to_string();
    Peer::start("python3", &[script, port.to_string()], "READY")
}

fn map(port: u16, extra: &str) -> Arc<TagMap> {
    let text = format!(
        r#"
[[modbus]]
name = "plc"
address = "127.0.0.1:{port}"
timeout = "300ms"

[[tag]]
name = "H0"
source = "plc"
register = "holding"
address = 0
field = "temperature"
interval = "100ms"

[[tag]]
name = "H50"
source = "plc"
register = "holding"
address = 50
field = "temperature"
interval = "70ms"

[[tag]]
name = "Counter"
source = "plc"
register = "input"
address = 0
field = "parts_done"
interval = "100ms"
stale_after = "1s"

[[tag]]
name = "Remote"
source = "plc"
register = "coil"
address = 3
field = "permissive"
interval = "100ms"

[[tag]]
name = "Speed"
source = "plc"
register = "holding"
address = 10
type = "f32"
field = "speed"
interval = "100ms"
write = {{ min = 0.5, max = 1.5, permissive = "Remote" }}
{extra}
"#
    );
    Arc::new(parse_tag_map(&text, Path::new("test-tags.toml"), None).unwrap())
}

async fn settle(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_registers_and_writes_through_the_guard() {
    let port = free_port();
    let p = peer(port);
    let map = map(port, "");
    let (drivers, log) = collect(map.clone());
    settle(Duration::from_millis(1500)).await;
    // What the peer holds, read over the wire.
    assert!(values(&log, 0).iter().all(|&v| v == 1000.0) && !values(&log, 0).is_empty());
    assert!(values(&log, 1).iter().all(|&v| v == 1050.0) && !values(&log, 1).is_empty());
    assert!(values(&log, 3).iter().all(|&v| v == 1.0) && !values(&log, 3).is_empty());
    assert_eq!(values(&log, 4).last(), Some(&1.0));
    // Every counter value the twin saw is one the peer published.
    let published: Vec<f64> = p
        .with_prefix("PUB counter ")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let seen = values(&log, 2);
    assert!(seen.len() >= 5, "{seen:?}");
    for v in &seen {
        assert!(*v == 0.0 || published.contains(v), "counter {v} was never published");
    }

    let dir = scratch("modbus-write");
    let audit_path = dir.join("audit.jsonl");
    let mut wb = WriteBack::new(drivers.clone(), AuditLog::open(&audit_path).unwrap(), false, None);
    let rec = wb.request("test", "Speed", 1.25).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Written, "{rec:?}");
    assert_eq!(rec.readback, Some(1.25));
    // 1.25f32 = 0x3FA00000 → words 16288, 0 at address 10: the write reached the peer.
    assert!(wait_for(Duration::from_secs(2), || p.has(|l| l == "WRITE 10 16288 0")));
    let rec = wb.request("test", "Speed", 7.0).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Rejected);
    let mut dry = WriteBack::new(drivers.clone(), AuditLog::open(&audit_path).unwrap(), true, None);
    let rec = dry.request("test", "Speed", 0.75).await.unwrap();
    assert_eq!(rec.outcome, Outcome::DryRun);
    settle(Duration::from_millis(300)).await;
    // Dry run sent nothing: the only write the peer saw is the first.
    assert_eq!(p.with_prefix("WRITE ").len(), 1, "{:?}", p.with_prefix("WRITE "));
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    let lines: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["outcome"], "written");
    assert_eq!(lines[1]["outcome"], "rejected");
    assert_eq!(lines[2]["outcome"], "dry_run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_exception_is_a_value_not_a_crash() {
    let port = free_port();
    let _p = peer(port);
    let extra = r#"
[[tag]]
name = "Missing"
source = "plc"
register = "input"
address = 100
field = "power"
interval = "100ms"
"#;
    let map = map(port, extra);
    let missing = map.find("Missing").unwrap();
    let (_drivers, log) = collect(map);
    settle(Duration::from_millis(1200)).await;
    let bad = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| matches!(r, Report::Value(o) if o.tag == missing && matches!(o.quality, Quality::Bad(_))))
        .count();
    assert!(bad >= 3, "exceptions reported as bad values: {bad}");
    // The other tags kept coming, on the same connection.
    let n0 = values(&log, 0).len();
    settle(Duration::from_millis(500)).await;
    assert!(values(&log, 0).len() > n0);
    let reconnects = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| matches!(r, Report::Link { up: true, .. }))
        .count();
    assert_eq!(reconnects, 1, "an exception must not drop the connection");
}

/// A TCP proxy that holds back the `nth` reply for `delay` (past the client's timeout).
async fn delaying_proxy(upstream: u16, nth: usize, delay: Duration) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let replies = Arc::new(Mutex::new(0usize));
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let replies = replies.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let mut buf = [0u8; 512];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let down = async {
                    let mut buf = [0u8; 512];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let k = {
                            let mut r = replies.lock().unwrap();
                            *r += 1;
                            *r
                        };
                        if k == nth {
                            tokio::time::sleep(delay).await;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::join!(up, down);
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_does_not_desynchronize_later_replies() {
    let port = free_port();
    let _p = peer(port);
    let proxy = delaying_proxy(port, 6, Duration::from_millis(1500)).await;
    let map = map(proxy, "");
    let (_drivers, log) = collect(map);
    settle(Duration::from_millis(3500)).await;
    let links: Vec<(bool, String)> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            Report::Link { up, message, .. } => Some((*up, message.clone())),
            _ => None,
        })
        .collect();
    assert!(
        links.iter().any(|(up, m)| !up && m.contains("no reply within")),
        "{links:?}"
    );
    assert!(
        links.iter().filter(|(up, _)| *up).count() >= 2,
        "reconnected after the timeout: {links:?}"
    );
    // Every value read — before and after the timeout — belongs to the register it was read
    // from: H0 is always 1000 and H50 always 1050 (a reply taken for the next request would mix
    // them up).
    let (h0, h50) = (values(&log, 0), values(&log, 1));
    assert!(h0.iter().all(|&v| v == 1000.0), "{h0:?}");
    assert!(h50.iter().all(|&v| v == 1050.0), "{h50:?}");
    assert!(h0.len() > 10 && h50.len() > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_resume_after_the_peer_restarts_and_are_stale_in_between() {
    let port = free_port();
    let mut p = peer(port);
    let map = map(port, "");
    let (_drivers, log) = collect(map);
    settle(Duration::from_millis(800)).await;
    let counter_before = values(&log, 2).len();
    assert!(counter_before > 0);
    p.kill();
    let killed = std::time::Instant::now();
    settle(Duration::from_millis(1500)).await;
    let during = values(&log, 2).len();
    // Nothing new for longer than the tag's stale_after (1 s): the mirror marks it stale
    // (checked on the live mirror in tests/live_mirror.rs).
    settle(Duration::from_millis(1000)).await;
    assert_eq!(values(&log, 2).len(), during, "no values while the peer is down");
    let _p2 = peer(port);
    let restarted = std::time::Instant::now();
    assert!(
        wait_for(Duration::from_secs(5), || values(&log, 2).len() > during + 2),
        "values did not resume within 5 s of the restart"
    );
    eprintln!(
        "down for {:?}; values resumed {:?} after the restart",
        restarted - killed,
        restarted.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_mirror_marks_stale_while_the_peer_is_down() {
    use twinworks_adapters::live::{LiveOptions, run_live};
    use twinworks_twins::snapshot::{AlarmKind, PlantSnapshot};
    let port = free_port();
    let p = Arc::new(Mutex::new(Some(peer(port))));
    let plant_text = include_str!("peers/one_station.toml");
    let plant = twinworks_twins::plant_file::parse_plant(plant_text, Path::new("one.toml")).unwrap();
    let text = format!(
        r#"
[[modbus]]
name = "plc"
address = "127.0.0.1:{port}"
timeout = "300ms"
[[tag]]
name = "Counter"
source = "plc"
register = "input"
address = 0
station = "Lathe"
field = "temperature"
interval = "100ms"
stale_after = "1s"
"#
    );
    let map = Arc::new(parse_tag_map(&text, Path::new("t.toml"), Some(&plant)).unwrap());
    let snaps: Arc<Mutex<Vec<(std::time::Instant, PlantSnapshot)>>> = Arc::default();
    let s2 = snaps.clone();
    let opts = LiveOptions {
        snapshot_every: Duration::from_millis(100),
        ..LiveOptions::default()
    };
    // Kill the peer after 2 s, restart it after 5 s.
    let p2 = p.clone();
    let events = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        let killed = std::time::Instant::now();
        p2.lock().unwrap().take();
        std::thread::sleep(Duration::from_secs(3));
        *p2.lock().unwrap() = Some(peer(port));
        (killed, std::time::Instant::now())
    });
    let stats = run_live(
        &plant,
        map,
        &opts,
        move |s| s2.lock().unwrap().push((std::time::Instant::now(), s)),
        tokio::time::sleep(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let (killed, restarted) = events.join().unwrap();
    let snaps = snaps.lock().unwrap();
    let stale_at = |t: std::time::Instant| snaps.iter().rev().find(|(at, _)| *at <= t).unwrap().1.stations[0].stale;
    assert!(!stale_at(killed), "fresh while the peer runs");
    assert!(stale_at(restarted), "stale after 3 s without values");
    let fresh_again = snaps
        .iter()
        .find(|(at, s)| *at > restarted && !s.stations[0].stale)
        .map(|(at, _)| *at - restarted);
    let fresh_again = fresh_again.expect("values resumed after the restart");
    assert!(fresh_again < Duration::from_secs(5), "{fresh_again:?}");
    let kinds: Vec<AlarmKind> = snaps
        .iter()
        .flat_map(|(_, s)| s.alarms.iter().map(|a| a.kind))
        .collect();
    assert!(
        kinds.contains(&AlarmKind::Stale) && kinds.contains(&AlarmKind::Fresh),
        "{kinds:?}"
    );
    assert!(stats.observations > 20);
    eprintln!("fresh again {fresh_again:?} after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_returns_to_the_safe_value_when_the_loop_goes_quiet() {
    let port = free_port();
    let p = peer(port);
    let extra = r#"
[[tag]]
name = "Guarded"
source = "plc"
register = "holding"
address = 20
type = "u16"
field = "power"
write = { min = 0, max = 100, safe_value = 7, watchdog = "500ms" }
"#;
    let map = map(port, extra);
    let (drivers, _log) = collect(map);
    settle(Duration::from_millis(300)).await;
    let audit = scratch("watchdog").join("audit.jsonl");
    let mut wb = WriteBack::new(drivers, AuditLog::open(&audit).unwrap(), false, None);
    assert_eq!(
        wb.request("loop-7", "Guarded", 42.0).await.unwrap().outcome,
        Outcome::Written
    );
    // The loop keeps asking: nothing happens.
    settle(Duration::from_millis(300)).await;
    assert!(wb.watchdog().await.unwrap().is_empty());
    // The loop goes quiet for longer than 500 ms: the safe value is written, once.
    settle(Duration::from_millis(700)).await;
    let recs = wb.watchdog().await.unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].requester.as_str(), recs[0].outcome, recs[0].readback),
        ("watchdog", Outcome::Written, Some(7.0))
    );
    assert!(wb.watchdog().await.unwrap().is_empty(), "acts once per silence");
    assert!(wait_for(Duration::from_secs(2), || p.has(|l| l == "WRITE 20 7")));
    let lines = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(lines.lines().count(), 2);
}

/// Device errors stay typed up to the caller: the device's exception for a register it does
/// not have is a refusal, a peer that is not there is a link failure; the audit log keeps the
/// kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_the_device_stays_apart_from_a_link_failure() {
    use twinworks_adapters::io::DeviceError;
    let port = free_port();
    let _p = peer(port);
    let extra = r#"
[[tag]]
name = "Missing"
source = "plc"
register = "holding"
address = 150
type = "u16"
field = "power"
write = { min = 0, max = 100 }
"#;
    let (drivers, _log) = collect(map(port, extra));
    settle(Duration::from_millis(500)).await;
    let dir = scratch("device-errors");
    let audit = dir.join("audit.jsonl");
    let mut wb = WriteBack::new(drivers.clone(), AuditLog::open(&audit).unwrap(), false, None);
    let rec = wb.request("test", "Missing", 5.0).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Failed, "{rec:?}");
    assert!(matches!(rec.device_error, Some(DeviceError::Refused(_))), "{rec:?}");
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&audit).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(line["device_error"]["kind"], "refused", "{line}");

    // No peer on this port: the same write is a link failure.
    let closed = free_port();
    let (drivers, _log) = collect(map(closed, extra));
    let mut wb = WriteBack::new(drivers, AuditLog::open(&dir.join("audit2.jsonl")).unwrap(), false, None);
    let rec = wb.request("test", "Missing", 5.0).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Failed, "{rec:?}");
    assert!(matches!(rec.device_error, Some(DeviceError::Link(_))), "{rec:?}");
}
