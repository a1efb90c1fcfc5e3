//! Test peers: processes no one here wrote (python asyncua, pymodbus, Mosquitto), started on
//! loopback on free ports and stopped when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The directory of the python peers.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Fails loudly when a python module the peers need is missing.
pub fn require_python(module: &str) {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 module '{module}' is missing: run scripts/install-deps.sh (pip install asyncua==2.1.0 pymodbus==3.8.6)"
    );
}

/// A running peer process; its stdout lines are collected.
pub struct Peer {
    child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    /// Starts `program args` and waits (at most 30 s) for a stdout line starting with `ready`.
    pub fn start(program: &str, args: &[String], ready: &str) -> Peer {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        let peer = Peer { child, lines };
        let t = Instant::now();
        while !peer.has(|l| l.starts_with(ready)) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{program} {args:?} did not print '{ready}' within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        peer
    }

    /// Whether some line satisfies `f`.
    pub fn has(&self, f: impl Fn(&str) -> bool) -> bool {
        self.lines.lock().unwrap().iter().any(|l| f(l))
    }

    /// Lines starting with `prefix`, prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.strip_prefix(prefix).map(|s| s.to_string()))
            .collect()
    }

    /// Kills the process and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `f` holds, at most `limit`.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Whether something listens on 127.0.0.1:port.
pub fn reachable(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

/// A scratch directory under the target dir, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("twinworks-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Driver reports collected by a background task.
pub type Log = Arc<Mutex<Vec<twinworks_adapters::io::Report>>>;

/// Starts the drivers of `map` and collects their reports.
pub fn collect(map: Arc<twinworks_adapters::tagmap::TagMap>) -> (twinworks_adapters::io::Drivers, Log) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1 << 16);
    let drivers = twinworks_adapters::io::Drivers::start(map, tx);
    let log: Log = Arc::default();
    let l2 = log.clone();
    tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            l2.lock().unwrap().push(r);
        }
    });
    (drivers, log)
}

/// The good values of tag `tag`, in arrival order.
pub fn values(log: &Log, tag: usize) -> Vec<f64> {
    use twinworks_adapters::io::{Quality, Report};
    log.lock()
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            Report::Value(o) if o.tag == tag && o.quality == Quality::Good => Some(o.value),
            _ => None,
        })
        .collect()
}

/// Waits (without blocking the runtime) until `f` holds, at most `limit`.
pub async fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}
