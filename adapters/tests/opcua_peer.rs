//! OPC UA against a python asyncua server (a peer no one here wrote): subscriptions, security,
//! user names, certificate trust, writes, and a server killed and restarted mid-run.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use twinworks_adapters::io::Report;
use twinworks_adapters::tagmap::{TagMap, parse_tag_map};
use twinworks_adapters::writeback::{AuditLog, Outcome, WriteBack};

fn peer(port: u16, extra: &[&str]) -> Peer {
    require_python("asyncua");
    let mut args = vec![
        peers_dir().join("opcua_server.py").display().to_string(),
        port.to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Peer::start("python3", &args, "READY")
}

fn map(port: u16, conn: &str, pki: &Path) -> Arc<TagMap> {
    let text = format!(
        r#"
[[opcua]]
name = "lathe"
endpoint = "opc.tcp://127.0.0.1:{port}/"
pki_dir = "{pki}"
connect_timeout = "4s"
publishing_interval = "100ms"
{conn}

[[tag]]
name = "Temperature"
source = "lathe"
node = "ns=2;s=Lathe.Temperature"
field = "temperature"
interval = "100ms"
stale_after = "1s"

[[tag]]
name = "Parts"
source = "lathe"
node = "ns=2;s=Lathe.PartsDone"
field = "parts_done"
interval = "100ms"

[[tag]]
name = "Remote"
source = "lathe"
node = "ns=2;s=Lathe.Remote"
field = "permissive"

[[tag]]
name = "Speed"
source = "lathe"
node = "ns=2;s=Lathe.Speed"
field = "speed"
write = {{ min = 0.5, max = 1.5, max_rate = 0.5, permissive = "Remote", inputs = ["Temperature"] }}
"#,
        pki = pki.display()
    );
    Arc::new(parse_tag_map(&text, Path::new("test-tags.toml"), None).unwrap())
}

fn fatal(log: &Log) -> Option<String> {
    log.lock().unwrap().iter().find_map(|r| match r {
        Report::Fatal { message, .. } => Some(message.clone()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribes_mirrors_and_writes() {
    let port = free_port();
    let p = peer(port, &[]);
    let pki = scratch("opcua-plain");
    let map = map(port, "", &pki.join("pki"));
    let (drivers, log) = collect(map.clone());
    assert!(
        wait(Duration::from_secs(10), || values(&log, 0).len() >= 10).await,
        "{:?}",
        log.lock().unwrap()
    );
    // Every temperature the twin saw is one the peer published, and the latest one arrives.
    let published: Vec<f64> = p
        .with_prefix("PUB Temperature ")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    for v in values(&log, 0) {
        assert!(
            v == 20.0 || published.iter().any(|p| (p - v).abs() < 1e-9),
            "temperature {v} never published"
        );
    }
    let parts: Vec<f64> = values(&log, 1);
    assert!(
        parts.windows(2).all(|w| w[0] <= w[1]),
        "counter went backwards: {parts:?}"
    );

    let audit = pki.join("audit.jsonl");
    let fresh = Arc::new(Mutex::new(vec![Some(Instant::now()); map.tags.len()]));
    let mut wb = WriteBack::new(
        drivers.clone(),
        AuditLog::open(&audit).unwrap(),
        false,
        Some(fresh.clone()),
    );
    let rec = wb.request("loop-1", "Speed", 1.2).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Written, "{rec:?}");
    assert_eq!(rec.readback, Some(1.2));
    assert!(
        wait(Duration::from_secs(3), || p.has(|l| l == "WRITE Speed 1.2")).await,
        "the peer never saw the write"
    );
    // Too fast: 1.2 → 0.5 right away exceeds 0.5/s.
    let rec = wb.request("loop-1", "Speed", 0.5).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Rejected);
    assert!(rec.reason.unwrap().contains("rate limit"));
    // A stale input refuses the write.
    fresh.lock().unwrap()[0] = Some(Instant::now() - Duration::from_secs(10));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rec = wb.request("loop-1", "Speed", 1.3).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Rejected);
    assert!(rec.reason.unwrap().contains("stale"), "stale input");
    assert_eq!(std::fs::read_to_string(&audit).unwrap().lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic256sha256_with_password_and_certificate_trust() {
    let port = free_port();
    let dir = scratch("opcua-secure");
    let _p = peer(
        port,
        &[
            "--secure",
            &dir.join("server").display().to_string(),
            "--user",
            "op:secret",
        ],
    );
    let pki = dir.join("pki");
    let secure = r#"security = "basic256sha256"
user = "op"
password = "secret""#;

    // 1. The server's certificate is unknown: refused, clearly, within 5 s, and filed under
    //    pki/rejected.
    let t = Instant::now();
    let (_d, log) = collect(map(port, secure, &pki));
    assert!(
        wait(Duration::from_secs(5), || fatal(&log).is_some()).await,
        "no clear error within 5 s"
    );
    let msg = fatal(&log).unwrap();
    assert!(msg.contains("not trusted"), "{msg}");
    eprintln!("untrusted certificate refused after {:?}", t.elapsed());
    let rejected: Vec<_> = std::fs::read_dir(pki.join("rejected")).unwrap().flatten().collect();
    assert_eq!(rejected.len(), 1);

    // 2. The operator trusts it (moves it to pki/trusted): data flows, signed and encrypted.
    let f = &rejected[0];
    std::fs::rename(f.path(), pki.join("trusted").join(f.file_name())).unwrap();
    let (_d, log) = collect(map(port, secure, &pki));
    assert!(
        wait(Duration::from_secs(10), || values(&log, 0).len() >= 3).await,
        "{:?}",
        log.lock().unwrap()
    );

    // 3. A wrong password: a clear error within 5 s, not a hang or endless retries.
    let t = Instant::now();
    let wrong = secure.replace("secret", "wrong");
    let (_d, log) = collect(map(port, &wrong, &pki));
    assert!(
        wait(Duration::from_secs(5), || fatal(&log).is_some()).await,
        "no clear error within 5 s"
    );
    let msg = fatal(&log).unwrap();
    assert!(msg.contains("user name or password rejected"), "{msg}");
    eprintln!("wrong password reported after {:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_resume_after_the_server_restarts() {
    let port = free_port();
    let mut p = peer(port, &[]);
    let pki = scratch("opcua-restart");
    let (_d, log) = collect(map(port, "", &pki.join("pki")));
    assert!(wait(Duration::from_secs(10), || values(&log, 0).len() >= 5).await);
    p.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = values(&log, 0).len();
    let down = log
        .lock()
        .unwrap()
        .iter()
        .any(|r| matches!(r, Report::Link { up: false, .. }));
    assert!(down, "the lost connection was not reported");
    let p2 = peer(port, &[]);
    let restarted = Instant::now();
    // The restarted server counts from 1 again: new values (not replays) must arrive.
    assert!(
        wait(Duration::from_secs(5), || values(&log, 0).len() >= before + 3).await,
        "subscription did not resume within 5 s of the restart"
    );
    eprintln!("values resumed {:?} after the restart", restarted.elapsed());
    let published: Vec<f64> = p2
        .with_prefix("PUB Temperature ")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let after: Vec<f64> = values(&log, 0)[before..].to_vec();
    assert!(
        after
            .iter()
            .all(|v| *v == 20.0 || published.iter().any(|p| (p - v).abs() < 1e-9)),
        "{after:?}"
    );
}
