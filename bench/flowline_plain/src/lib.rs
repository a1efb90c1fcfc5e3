//! # twinworks-flowline-plain: the flow line as a plain event loop, the kernel's yardstick
//!
//! The same model as `scenarios/samples/flowline.toml` — five stations in series, one server
//! each, exponential process times with means 0.9, 0.95, 1.0, 0.95 and 0.9 s, buffers of 5
//! between stations, blocking after service, the first station never starved — written by hand
//! as plain structs in arrays and a `std::collections::BinaryHeap` calendar: no ECS, no generic
//! model, no trace, no shifts, no failures. It is what `bench/flowline_simpy.py` compares the twin
//! with ("twin / plain loop"), so the ratio says what the twin's generality costs.
//!
//! It draws from the same random streams as the twin (`RngStream` keyed by the replication
//! seed, the station's name and the purpose "process") with the same samplers, follows the same
//! flow rules (a finished part goes straight onto an idle next server, else into the buffer,
//! else its server blocks until space frees up, and a server that takes a part from a full
//! buffer wakes the blocked upstream server at once) and breaks ties at one instant first
//! scheduled, first served. Every operation therefore starts and ends at the very same
//! floating-point time as in the twin, and throughput and lead times are bit-identical to
//! `twin run`'s (the test in `tests/`).
//!
//! Depends on `twinworks-engine` only (streams, distributions, the lead-time tally).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use twinworks_engine::{Distribution, RngStream, StreamKey, Tally, replication_seed};

/// Mean process times of the five stations [s].
pub const MEANS_S: [f64; 5] = [0.9, 0.95, 1.0, 0.95, 0.9];
/// Capacity of each buffer between two stations [parts].
pub const BUFFER: usize = 5;
const N: usize = MEANS_S.len();

/// What one run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Good parts out.
    pub exits: u64,
    /// Events handled (each one a service completion).
    pub completions: u64,
    /// Simulated time at the last exit [s].
    pub end_s: f64,
    /// Throughput [parts/h], as `twin run` defines it (parts out × 3600 / simulated span).
    pub throughput_per_h: f64,
    /// Lead times (start at the first station to leaving the last) [s].
    pub lead: Tally,
}

#[derive(Clone, Copy)]
struct Part {
    /// When the part entered the line [s].
    created: f64,
}

struct Station {
    rng: RngStream,
    time: Distribution,
    /// The part on the server (in process, or finished and blocked).
    part: Option<Part>,
    /// Holding a finished part that the full next buffer cannot take.
    blocked: bool,
}

struct Line {
    now: f64,
    seq: u64,
    /// (time bits, sequence, station): for non-negative times the bit pattern orders like the
    /// number, and the sequence number gives first scheduled, first served at one instant.
    calendar: BinaryHeap<Reverse<(u64, u64, usize)>>,
    stations: Vec<Station>,
    /// `queues[i]` is the input buffer of station `i` (`queues[0]` is unused: infinite supply).
    queues: Vec<VecDeque<Part>>,
    exits: u64,
    lead: Tally,
}

impl Line {
    fn start(&mut self, s: usize, part: Part) {
        let st = &mut self.stations[s];
        let dur = st.time.sample(&mut st.rng);
        st.part = Some(part);
        self.calendar.push(Reverse(((self.now + dur).to_bits(), self.seq, s)));
        self.seq += 1;
    }

    /// Server `s` has just been emptied: it takes its next part, and a part taken from a full
    /// buffer lets the blocked upstream server pass its part on.
    fn pull(&mut self, s: usize) {
        if s == 0 {
            let created = self.now;
            self.start(0, Part { created });
            return;
        }
        let Some(part) = self.queues[s].pop_front() else { return };
        self.start(s, part);
        let up = s - 1;
        if self.stations[up].blocked {
            let held = self.stations[up].part.take().expect("a blocked server holds its part");
            self.stations[up].blocked = false;
            self.queues[s].push_back(held);
            self.pull(up);
        }
    }

    /// The operation on station `s` ends now.
    fn finish(&mut self, s: usize) {
        let part = self.stations[s].part.expect("a finishing server holds its part");
        if s + 1 == N {
            self.stations[s].part = None;
            self.exits += 1;
            self.lead.record(self.now - part.created);
        } else if self.stations[s + 1].part.is_none() {
            self.stations[s].part = None;
            self.start(s + 1, part);
        } else if self.queues[s + 1].len() < BUFFER {
            self.stations[s].part = None;
            self.queues[s + 1].push_back(part);
        } else {
            self.stations[s].blocked = true;
            return;
        }
        self.pull(s);
    }
}

/// Runs the line until `parts` good parts have left, with the streams of replication 0 of
/// `seed` (as `twin run --seed SEED`).
pub fn run(parts: u64, seed: u64) -> Outcome {
    let seed = replication_seed(seed, 0);
    let stations = MEANS_S
        .iter()
        .enumerate()
        .map(|(i, &mean)| Station {
            rng: RngStream::new(StreamKey {
                seed,
                name: &format!("M{}", i + 1),
                purpose: "process",
            }),
            time: Distribution::Exponential { mean },
            part: None,
            blocked: false,
        })
        .collect();
    let mut line = Line {
        now: 0.0,
        seq: 0,
        calendar: BinaryHeap::with_capacity(N),
        stations,
        queues: (0..N).map(|_| VecDeque::with_capacity(BUFFER)).collect(),
        exits: 0,
        lead: Tally::with_quantiles(),
    };
    line.pull(0);
    let mut completions = 0;
    while line.exits < parts {
        let Some(Reverse((t, _, s))) = line.calendar.pop() else {
            break;
        };
        line.now = f64::from_bits(t);
        completions += 1;
        line.finish(s);
    }
    let end_s = line.now;
    Outcome {
        exits: line.exits,
        completions,
        end_s,
        throughput_per_h: if end_s > 0.0 {
            line.exits as f64 * 3600.0 / end_s
        } else {
            0.0
        },
        lead: line.lead,
    }
}
