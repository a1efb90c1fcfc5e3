//! MQTT through Mosquitto (a broker no one here wrote): the machine's broker on 127.0.0.1:1883
//! for the plain test, and a broker of the test's own on a free port for the outage test (so no
//! other test loses its broker).

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use twinworks_adapters::io::{Quality, Report};
use twinworks_adapters::tagmap::{TagMap, parse_tag_map};

fn map(port: u16, prefix: &str, client: &str) -> Arc<TagMap> {
    let text = format!(
        r#"
[[mqtt]]
name = "broker"
host = "127.0.0.1"
port = {port}
client_id = "{client}"
publish_prefix = "{prefix}/out"
buffer = 1000

[[tag]]
name = "Temp"
source = "broker"
topic = "{prefix}/lathe"
field_path = "sensors.temp"
field = "temperature"
"#
    );
    Arc::new(parse_tag_map(&text, Path::new("test-tags.toml"), None).unwrap())
}

fn connected(log: &Log) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| matches!(r, Report::Link { up: true, .. }))
        .count()
}

type Shared<T> = Arc<Mutex<T>>;

/// A subscriber of the test's own: collects payloads on `topic`.
fn subscriber(port: u16, id: &str, topic: &str, clean: bool) -> (AsyncClient, Shared<Vec<String>>, Shared<bool>) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_clean_session(clean);
    let (client, mut ev) = AsyncClient::new(o, 100);
    let got = Arc::new(Mutex::new(Vec::new()));
    let subscribed = Arc::new(Mutex::new(false));
    let (g2, s2, c2, t2) = (got.clone(), subscribed.clone(), client.clone(), topic.to_string());
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = c2.try_subscribe(t2.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => *s2.lock().unwrap() = true,
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    g2.lock().unwrap().push(String::from_utf8_lossy(&p.payload).into())
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    (client, got, subscribed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribes_with_json_fields_and_publishes_twin_state() {
    assert!(
        reachable(1883),
        "Mosquitto is not running on 127.0.0.1:1883 (start it: mosquitto -d -c /etc/mosquitto/mosquitto.conf)"
    );
    let prefix = format!("twinworks-test/{}", std::process::id());
    let (mut drivers, log) = collect(map(1883, &prefix, &format!("twin-{}", std::process::id())));
    let audit = scratch("mqtt-publish-audit").join("publish.jsonl");
    let _ = std::fs::remove_file(&audit);
    drivers.audit_publishes(twinworks_adapters::writeback::AuditLog::open(&audit).unwrap());
    assert!(wait(Duration::from_secs(5), || connected(&log) >= 1).await);
    let (sub, got, subscribed) = subscriber(
        1883,
        &format!("peer-{}", std::process::id()),
        &format!("{prefix}/out/#"),
        true,
    );
    assert!(wait(Duration::from_secs(5), || *subscribed.lock().unwrap()).await);
    // The peer publishes plant values; the twin mirrors the JSON field.
    let sent = [21.5, 22.25, 23.0];
    for v in sent {
        sub.publish(
            format!("{prefix}/lathe"),
            QoS::AtLeastOnce,
            false,
            format!(r#"{{"sensors": {{"temp": {v}}}}}"#),
        )
        .await
        .unwrap();
    }
    sub.publish(format!("{prefix}/lathe"), QoS::AtLeastOnce, false, r#"{"sensors": {}}"#)
        .await
        .unwrap();
    assert!(
        wait(Duration::from_secs(5), || log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| matches!(r, Report::Value(_)))
            .count()
            >= 4)
        .await
    );
    let obs: Vec<(f64, bool)> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            Report::Value(o) => Some((o.value, o.quality == Quality::Good)),
            _ => None,
        })
        .collect();
    assert_eq!(obs[..3].iter().map(|o| o.0).collect::<Vec<_>>(), sent);
    assert!(!obs[3].1, "a payload without the field is a bad-quality value");
    // The twin publishes its state; the peer receives it.
    assert_eq!(drivers.publish("test", "state", br#"{"t": 1}"#).unwrap(), 1);
    // Publishing is not a device write, but it is audited: who, where, how much.
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&audit).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(
        (
            &line["kind"],
            &line["requester"],
            &line["topic"],
            &line["bytes"],
            &line["queued"]
        ),
        (
            &serde_json::json!("publish"),
            &serde_json::json!("test"),
            &serde_json::json!(format!("{prefix}/out/state")),
            &serde_json::json!(8),
            &serde_json::json!(true)
        ),
        "{line}"
    );
    assert!(
        wait(Duration::from_secs(5), || got
            .lock()
            .unwrap()
            .iter()
            .any(|p| p == r#"{"t": 1}"#))
        .await
    );
}

struct Broker {
    peer: Option<std::process::Child>,
    conf: std::path::PathBuf,
}

impl Broker {
    fn start(conf: &Path) -> Broker {
        let child = std::process::Command::new("mosquitto")
            .args(["-c", &conf.display().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto is installed (apt package mosquitto)");
        Broker {
            peer: Some(child),
            conf: conf.to_path_buf(),
        }
    }

    /// Stops it the way a service manager would (SIGTERM), so it saves its sessions.
    fn stop(&mut self) {
        if let Some(mut c) = self.peer.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        *self = Broker::start(&self.conf.clone());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.peer.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_made_during_a_10s_broker_outage_all_arrive() {
    let port = free_port();
    let dir = scratch("mqtt-outage");
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut broker = Broker::start(&conf);
    assert!(
        wait(Duration::from_secs(5), || reachable(port)).await,
        "own mosquitto did not start"
    );
    let prefix = "outage";
    let (drivers, log) = collect(map(port, prefix, "twin-outage"));
    // The receiving side keeps a persistent session (QoS 1), so the broker holds messages for it
    // while it reconnects too.
    let (_sub, got, subscribed) = subscriber(port, "peer-outage", "outage/out/#", false);
    assert!(
        wait(Duration::from_secs(5), || connected(&log) >= 1
            && *subscribed.lock().unwrap())
        .await
    );
    drivers.publish("test", "seq", b"0").unwrap();
    assert!(wait(Duration::from_secs(5), || got.lock().unwrap().len() == 1).await);

    broker.stop();
    let outage = Instant::now();
    let mut n = 1;
    while outage.elapsed() < Duration::from_secs(10) {
        drivers.publish("test", "seq", n.to_string().as_bytes()).unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    broker.restart();
    assert!(
        wait(Duration::from_secs(20), || got.lock().unwrap().len() >= n).await,
        "only {} of {n} messages arrived",
        got.lock().unwrap().len()
    );
    let mut seqs: Vec<u32> = got.lock().unwrap().iter().map(|s| s.parse().unwrap()).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(
        seqs,
        (0..n as u32).collect::<Vec<_>>(),
        "every message published during the outage arrived"
    );
    assert!(connected(&log) >= 2, "the driver reconnected");
    // It subscribed again after the reconnect: plant values reach it.
    _sub.publish(
        "outage/lathe",
        QoS::AtLeastOnce,
        false,
        r#"{"sensors": {"temp": 99.5}}"#,
    )
    .await
    .unwrap();
    let resubscribed = || {
        log.lock()
            .unwrap()
            .iter()
            .any(|r| matches!(r, Report::Value(o) if o.value == 99.5))
    };
    assert!(
        wait(Duration::from_secs(5), resubscribed).await,
        "no values after the reconnect: not resubscribed"
    );
    assert_eq!(
        drivers.total(|c| &c.dropped_publishes),
        0,
        "this connection dropped nothing"
    );
}

fn sh(dir: &Path, cmd: &str) {
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{cmd}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_user_and_password() {
    let port = free_port();
    let dir = scratch("mqtt-tls");
    // A CA and a server certificate for 127.0.0.1, made with openssl; a password file.
    sh(
        &dir,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj /CN=test-ca -days 2",
    );
    sh(
        &dir,
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1",
    );
    sh(
        &dir,
        "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext",
    );
    sh(&dir, "mosquitto_passwd -b -c passwd twin s3cret");
    // Mosquitto started as root drops to its own user, which must be able to read these.
    sh(&dir, "chmod 644 server.key passwd && chmod 755 .");
    let d = dir.display();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\nallow_anonymous false\npassword_file {d}/passwd\n"
        ),
    )
    .unwrap();
    let _broker = Broker::start(&conf);
    assert!(
        wait(Duration::from_secs(5), || reachable(port)).await,
        "own mosquitto did not start"
    );
    let tags = |password: &str| {
        let text = format!(
            r#"
[[mqtt]]
name = "secure"
host = "127.0.0.1"
port = {port}
user = "twin"
password = "{password}"
tls_ca = "{d}/ca.pem"
publish_prefix = "tls"

[[tag]]
name = "Echo"
source = "secure"
topic = "tls/state"
field_path = "t"
field = "power"
"#
        );
        Arc::new(parse_tag_map(&text, Path::new("tls-tags.toml"), None).unwrap())
    };
    let (drivers, log) = collect(tags("s3cret"));
    assert!(
        wait(Duration::from_secs(5), || connected(&log) >= 1).await,
        "{:?}",
        log.lock().unwrap()
    );
    // Through the encrypted connection and back (the driver subscribes to its own topic).
    tokio::time::sleep(Duration::from_millis(300)).await;
    drivers.publish("test", "state", br#"{"t": 42.5}"#).unwrap();
    let got = || {
        log.lock()
            .unwrap()
            .iter()
            .any(|r| matches!(r, Report::Value(o) if o.value == 42.5))
    };
    assert!(wait(Duration::from_secs(5), got).await);
    // A wrong password never connects, and says why.
    let (_d, log) = collect(tags("wrong"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(connected(&log), 0);
    let why: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            Report::Link { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        why.iter()
            .any(|m| m.contains("BadUserNamePassword") || m.contains("NotAuthorized")),
        "{why:?}"
    );
}
