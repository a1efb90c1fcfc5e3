//! End to end (issue 14): `twin serve-plant` with the machining cell, `twin live --dispatch atcs
//! --publish-dispatch mqtt` against the machine's Mosquitto (127.0.0.1:1883). A station held
//! down at the virtual plant through its `Hold` tag (`twin write`, through the guard) gives a
//! new dispatch list on the broker within 2 s; the operation in progress there is unchanged in
//! it; its sequence number is one more than the list before; the publish audit has its line.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::serve;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

mod common;

const PLANT: &str = "scenarios/samples/machining_cell.toml";

fn twin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twin"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("twinworks-dispatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Kills the child when dropped.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_breakdown_at_the_plant_gives_a_new_dispatch_list_within_two_seconds() {
    assert!(
        std::net::TcpStream::connect_timeout(&"127.0.0.1:1883".parse().unwrap(), Duration::from_secs(2)).is_ok(),
        "this test needs Mosquitto on 127.0.0.1:1883 (scripts/test.sh starts one if the machine has none)"
    );
    let dir = scratch("mqtt");
    let _plant = serve("opcua", &dir);
    let prefix = format!("twinworks-e2e-dispatch/{}", std::process::id());
    let tags = dir.join("tags.toml");
    let mut text = std::fs::read_to_string(&tags).unwrap();
    text.push_str(&format!(
        "\n[[mqtt]]\nname = \"bus\"\nhost = \"127.0.0.1\"\nport = 1883\nclient_id = \"twin-e2e-{}\"\npublish_prefix = \"{prefix}\"\n",
        std::process::id()
    ));
    std::fs::write(&tags, text).unwrap();

    let mut opts = MqttOptions::new(format!("e2e-sub-{}", std::process::id()), "127.0.0.1", 1883);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(opts, 64);
    client
        .subscribe(format!("{prefix}/dispatch/#"), QoS::AtLeastOnce)
        .unwrap();

    let audit = dir.join("publish-audit.jsonl");
    let _live = Kill(
        twin()
            .args(["live", PLANT, "--time-scale", "60", "--duration", "40s"])
            .arg("--tags")
            .arg(&tags)
            .args(["--dispatch", "atcs", "--publish-dispatch", "mqtt"])
            .arg("--publish-audit")
            .arg(&audit)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Every list message by station (the latest), and all of them in arrival order.
    let mut latest: HashMap<String, Value> = HashMap::new();
    let mut all: Vec<(Instant, Value)> = Vec::new();
    let mut pump = |until: Instant, latest: &mut HashMap<String, Value>, all: &mut Vec<(Instant, Value)>| {
        while Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            match conn.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    let v: Value = serde_json::from_slice(&p.payload).expect("a dispatch list is JSON");
                    assert_eq!(v["format"], "twinworks-dispatch/1");
                    assert_eq!(v["policy"], "atcs(k1=2,k2=0.5)");
                    latest.insert(v["station"].as_str().unwrap().to_string(), v.clone());
                    all.push((Instant::now(), v));
                }
                Ok(_) => {}
                Err(_) => {}
            }
        }
    };
    // The first lists: one per station, number 1, trigger `start`.
    let stations = 6;
    let t0 = Instant::now();
    while latest.len() < stations {
        assert!(t0.elapsed() < Duration::from_secs(25), "no start lists; got {all:?}");
        pump(Instant::now() + Duration::from_millis(200), &mut latest, &mut all);
    }
    assert!(
        all.iter()
            .all(|(_, v)| v["seq"] == 1 && v["trigger"]["kind"] == "start"),
        "{all:?}"
    );
    // Let the cell run (3 s = 3 min of twin time: the saw is busy), then hold the saw down at
    // the virtual plant, through the guard.
    pump(Instant::now() + Duration::from_secs(3), &mut latest, &mut all);
    let hold = |value: u32| {
        let out = twin()
            .args(["write"])
            .arg(&tags)
            .arg(format!("Saw.Hold={value}"))
            .arg("--audit")
            .arg(dir.join("audit.jsonl"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "twin write: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Instant::now()
    };
    // Waits at most 2 s from `since` for the saw's list triggered by `kind` at the saw.
    let mut wait_for =
        |kind: &str, since: Instant, latest: &mut HashMap<String, Value>, all: &mut Vec<(Instant, Value)>| {
            let n0 = all.len();
            loop {
                pump(Instant::now() + Duration::from_millis(20), latest, all);
                if let Some((at, v)) = all[n0..].iter().find(|(_, v)| {
                    v["trigger"]["kind"] == kind && v["trigger"]["station"] == "Saw" && v["station"] == "Saw"
                }) {
                    let seen_before = all[..n0].iter().map(|(_, v)| v["seq"].as_u64().unwrap()).max().unwrap();
                    return (at.duration_since(since), v.clone(), seen_before);
                }
                assert!(
                    since.elapsed() < Duration::from_secs(2),
                    "no {kind} list within 2 s; lists since: {:?}",
                    &all[n0..]
                );
            }
        };
    let held = hold(1);
    let (latency, down, before) = wait_for("breakdown", held, &mut latest, &mut all);
    eprintln!("breakdown list {latency:?} after the hold was written");
    assert!(latency <= Duration::from_secs(2));
    assert_eq!(
        down["seq"].as_u64().unwrap(),
        before + 1,
        "sequence numbers rise by one"
    );
    // The saw was working: its operation in progress heads its list, started before the hold.
    let in_progress = down["operations"][0].clone();
    assert_eq!(in_progress["in_progress"], true, "{down}");
    assert!(in_progress["start_s"].as_f64().unwrap() <= down["trigger"]["time_s"].as_f64().unwrap());
    // Released again: the list made at the repair has the same operation in progress, with the
    // same start (held down, it could not finish), and the next number.
    let released = hold(0);
    let (latency, up, before) = wait_for("repair", released, &mut latest, &mut all);
    eprintln!("repair list {latency:?} after the release was written");
    assert_eq!(up["seq"].as_u64().unwrap(), before + 1, "sequence numbers rise by one");
    assert!(before >= down["seq"].as_u64().unwrap());
    for k in ["order", "product", "unit", "step", "server", "start_s", "in_progress"] {
        assert_eq!(
            up["operations"][0][k], in_progress[k],
            "{k} of the saw's operation in progress"
        );
    }
    // The publish audit has both lists' lines.
    for (v, kind) in [(&down, "breakdown"), (&up, "repair")] {
        let seq = v["seq"].as_u64().unwrap();
        let t = Instant::now();
        loop {
            let text = std::fs::read_to_string(&audit).unwrap_or_default();
            let found = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|r| r["kind"] == "dispatch" && r["seq"].as_u64() == Some(seq) && r["trigger"]["kind"] == kind);
            if found {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "no audit line for list {seq}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = client.disconnect();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every error of `doc` against the dispatch list's JSON Schema.
fn schema_errors(doc: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(include_str!("../adapters/dispatch.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn dispatch_lists_go_to_a_file_that_matches_its_schema() {
    let dir = scratch("file");
    let _plant = serve("modbus", &dir);
    let file = dir.join("dispatch.json");
    let out = twin()
        .args(["live", PLANT, "--time-scale", "60", "--duration", "3s"])
        .arg("--tags")
        .arg(dir.join("tags.toml"))
        .args(["--dispatch", "edd", "--dispatch-ops", "3", "--publish-dispatch"])
        .arg(&file)
        .arg("--publish-audit")
        .arg(dir.join("audit.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(schema_errors(&doc), Vec::<String>::new());
    let stations = doc["stations"].as_array().unwrap();
    assert_eq!(stations.len(), 6, "every station of the cell");
    for s in stations {
        let ops = s["operations"].as_array().unwrap();
        assert!(ops.len() <= 3);
        let starts: Vec<f64> = ops.iter().map(|o| o["start_s"].as_f64().unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "in order of start: {starts:?}");
        for o in ops {
            assert!(o["end_s"].as_f64().unwrap() >= o["start_s"].as_f64().unwrap());
        }
    }
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines.iter().any(|r| r["kind"] == "dispatch" && r["seq"] == doc["seq"]),
        "the file's list is audited: {audit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_dispatch_options_are_refused() {
    let dir = scratch("bad");
    let tags = dir.join("tags.toml");
    std::fs::write(&tags, "[[modbus]]\nname = \"m\"\naddress = \"127.0.0.1:1\"\n").unwrap();
    for (args, needle) in [
        (
            &["--dispatch", "atcx", "--publish-dispatch", "mqtt"][..],
            "did you mean 'atc'",
        ),
        (&["--dispatch", "atc"][..], "--dispatch needs --publish-dispatch"),
        (
            &[
                "--dispatch",
                "atc",
                "--publish-dispatch",
                "x.json",
                "--dispatch-ops",
                "0",
            ][..],
            "--dispatch-ops",
        ),
        (
            &["--dispatch", "edd", "--publish-dispatch", "mqtt"][..],
            "need an [[mqtt]] connection with a publish_prefix",
        ),
    ] {
        let out = twin()
            .args(["live", PLANT, "--duration", "1s"])
            .arg("--tags")
            .arg(&tags)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: missing {needle:?} in {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
