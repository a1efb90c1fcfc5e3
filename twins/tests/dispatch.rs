//! The dispatching hook (issue 11): LIFO leaves the M/M/1 mean wait alone and multiplies its
//! second moment by 1/(1 − ρ), as queueing theory says; a reserved server waits for its part;
//! a reservation that can never be met is detected as a deadlock.

use std::path::Path;
use std::sync::{Arc, Mutex};

use twinworks_engine::{SimTime, replication_seed};
use twinworks_twins::prelude::*;
use twinworks_twins::sim::dispatch::{DispatchPolicy, Held, Lifo, Policy, Reserve};
use twinworks_twins::sim::{Part, PlantSim, StationHot};

fn compiled(text: &str) -> Arc<Compiled> {
    Arc::new(Compiled::new(
        parse_plant(text, Path::new("test.toml")).expect("valid plant"),
    ))
}

const MM1: &str = r#"
[plant]
name = "M/M/1, rho = 0.8"
[[source]]
name = "Arrivals"
product = "Job"
interarrival = { dist = "exponential", rate = 0.8 }
[[station]]
name = "Server"
process_time = { dist = "exponential", mean = "1s" }
[[product]]
name = "Job"
routing = [{ station = "Server" }]
"#;

/// (mean wait, E[W²]) of one replication after a warm-up.
fn waits(cfg: &Arc<Compiled>, rep: u64, lifo: bool) -> (f64, f64) {
    let mut twin = build_twin(cfg.clone(), replication_seed(5, rep));
    if lifo {
        twin.model.policy = Policy::External(Box::new(Lifo));
    }
    twin.run_until(SimTime::from_secs(5_000.0));
    let now = twin.now().secs();
    PlantSim::reset_stats(&mut twin.world, now);
    twin.run_until(SimTime::from_secs(505_000.0));
    let st = twin
        .world
        .query::<&StationHot>()
        .single(&twin.world)
        .expect("one station");
    let n = st.stats.wait.count() as f64;
    (st.stats.wait.mean(), st.stats.wait_sq / n)
}

fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

#[test]
fn lifo_on_mm1_keeps_the_mean_wait_and_raises_its_second_moment_by_one_over_one_minus_rho() {
    let cfg = compiled(MM1);
    let (rho, mu, lambda) = (0.8, 1.0, 0.8);
    // M/M/1 FIFO: Wq is 0 with probability 1 − ρ, else exponential at rate μ − λ.
    let mean_w = rho / (mu - lambda);
    let second_fifo = 2.0 * rho / ((mu - lambda) * (mu - lambda));
    let second_lifo = second_fifo / (1.0 - rho);
    for (lifo, want2) in [(false, second_fifo), (true, second_lifo)] {
        let (m1, m2): (Vec<f64>, Vec<f64>) = (0..12).map(|r| waits(&cfg, r, lifo)).unzip();
        let (w, se_w) = mean_se(&m1);
        let (w2, se_w2) = mean_se(&m2);
        let name = if lifo { "LIFO" } else { "FIFO" };
        eprintln!(
            "{name}: mean wait {w:.4} ± {se_w:.4} (theory {mean_w}), E[W²] {w2:.3} ± {se_w2:.3} (theory {want2})"
        );
        assert!(
            (w - mean_w).abs() < 3.0 * se_w,
            "{name} mean wait {w} ± {se_w}, theory {mean_w}"
        );
        assert!(
            (w2 - want2).abs() < 3.0 * se_w2,
            "{name} E[W²] {w2} ± {se_w2}, theory {want2}"
        );
    }
}

/// Reserve, with a log of the parts started at station 1 (the reserved one).
struct Logged {
    inner: Reserve,
    log: Arc<Mutex<Vec<u64>>>,
}

impl DispatchPolicy for Logged {
    fn reservation(&mut self, s: usize, k: usize) -> Option<Held> {
        self.inner.reservation(s, k)
    }
    fn started(&mut self, s: usize, k: usize, part: &Part) {
        if s == self.inner.station {
            self.log.lock().expect("log").push(part.id);
        }
        self.inner.started(s, k, part)
    }
    fn deadlock(&mut self, s: usize, k: usize, held: Held) {
        self.log.lock().expect("log").push(u64::MAX);
        self.inner.deadlock(s, k, held)
    }
}

/// Runs `text` to `until` with server 0 of `station` held for `part` (from the start, or only
/// once it has started its first part); returns the log of the station's starts and deadlocks
/// (`u64::MAX`), and the deviations counted.
fn reserved_run(text: &str, station: usize, part: u64, until: f64, after_first: bool) -> (Vec<u64>, u64) {
    let cfg = compiled(text);
    let mut twin = build_twin(cfg, 1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let logged = Logged {
        inner: Reserve {
            station,
            server: 0,
            part: Some(part),
            deadlocks: 0,
        },
        log: log.clone(),
    };
    twin.model.policy = Policy::External(if after_first {
        Box::new(HoldAfterFirst {
            inner: logged,
            armed: false,
        })
    } else {
        Box::new(logged)
    });
    twin.run_until(SimTime::from_secs(until));
    let deviations = twin
        .world
        .query::<&StationHot>()
        .iter(&twin.world)
        .map(|s| s.stats.deviations)
        .sum();
    let log = log.lock().expect("log").clone();
    (log, deviations)
}

#[test]
fn a_server_reserved_for_part_k_takes_k_although_others_arrived_first() {
    // Parts arrive at 1, 2, 3, 4, ... s; the server (10 s per part) is held for part 3.
    let text = r#"
[plant]
name = "reservation"
[[source]]
name = "Arrivals"
product = "Job"
interarrival = { dist = "constant", value = "1s" }
[[station]]
name = "Press"
process_time = { dist = "constant", value = "10s" }
[[product]]
name = "Job"
routing = [{ station = "Press" }]
"#;
    let (log, deviations) = reserved_run(text, 0, 3, 45.0, false);
    assert_eq!(log, vec![3, 0, 1, 2, 4], "start order at the reserved server");
    assert_eq!(deviations, 0);
}

#[test]
fn a_reservation_for_a_part_blocked_behind_the_full_buffer_is_a_deadlock() {
    // Saw → buffer of 1 → Press. Held for part 1, the press takes it straight from the saw
    // (part 0 waits in the buffer): no deadlock.
    let text = r#"
[plant]
name = "deadlock"
[[source]]
name = "Supply"
kind = "infinite"
product = "Job"
[[station]]
name = "Saw"
process_time = { dist = "constant", value = "1s" }
[[buffer]]
name = "B"
capacity = 1
[[station]]
name = "Press"
input = "B"
process_time = { dist = "constant", value = "5s" }
[[product]]
name = "Job"
routing = [{ station = "Saw" }, { station = "Press" }]
"#;
    let (log, deviations) = reserved_run(text, 1, 1, 30.0, false);
    assert_eq!(deviations, 0);
    assert_eq!(&log[..3], &[1, 0, 2]);
    // Held for part 2 once it has started part 0: part 1 fills the buffer while the press
    // works, part 2 then blocks the saw behind it. When the press frees, only it could make
    // room for part 2, and it waits for part 2: a deadlock, detected; it takes part 1.
    let (log, deviations) = reserved_run(text, 1, 2, 30.0, true);
    assert_eq!(deviations, 1, "one deadlock counted");
    assert_eq!(
        &log[..4],
        &[0, u64::MAX, 1, 2],
        "press: part 0, the deadlock, then parts 1 and 2"
    );
}

/// The reservation holds only after the press has started its first part.
struct HoldAfterFirst {
    inner: Logged,
    armed: bool,
}

impl DispatchPolicy for HoldAfterFirst {
    fn reservation(&mut self, s: usize, k: usize) -> Option<Held> {
        if self.armed { self.inner.reservation(s, k) } else { None }
    }
    fn started(&mut self, s: usize, k: usize, part: &Part) {
        if s == self.inner.inner.station {
            self.armed = true;
        }
        self.inner.started(s, k, part)
    }
    fn deadlock(&mut self, s: usize, k: usize, held: Held) {
        self.inner.deadlock(s, k, held)
    }
}
