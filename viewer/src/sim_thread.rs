//! The simulation thread: it owns the twin, runs it at the pace asked for, and sends snapshots
//! (plus the Gantt bars that ended since the last one) to the UI, which never touches the world.
//!
//! Real-time pacing is done here, with the wall clock, and only here: the simulation itself
//! runs on simulated time alone.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use twinworks_engine::SimTime;
use twinworks_twins::plant::Horizon;
use twinworks_twins::sim::{Compiled, build_twin};
use twinworks_twins::snapshot::{Alarm, PlantSnapshot, alarms_between, take};
use twinworks_twins::trace::TraceWriter;
use twinworks_twins::{PlantModel, Twin};

use crate::gantt::Bar;
use crate::view_state::TrendSample;

/// How fast simulated time runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Simulated seconds per wall-clock second (1 = real time).
    Factor(f64),
    /// As fast as the machine allows.
    Max,
}

/// A request from the UI to the simulation thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    /// Run at the current pace.
    Play,
    /// Stop advancing.
    Pause,
    /// Run exactly one event (pauses first).
    Step,
    /// Change the pace.
    SetPace(Pace),
    /// Start over from time 0 with this seed (paused).
    Restart {
        /// The new run's seed.
        seed: u64,
    },
    /// Run as fast as possible to this time [s], then pause.
    RunTo(f64),
}

/// What the simulation thread is doing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimStatus {
    /// Advancing.
    pub playing: bool,
    /// The horizon was reached (or no events remain).
    pub finished: bool,
    /// Seed of the current run.
    pub seed: u64,
    /// The pace.
    pub pace: Pace,
    /// Simulated end of the run [s] (`None`: a parts-count horizon, run until stopped).
    pub horizon_s: Option<f64>,
    /// Counts restarts, so the UI knows when to forget the previous run.
    pub run: u32,
    /// Running as fast as possible to this time [s], then pausing.
    pub run_to: Option<f64>,
}

/// One message from the simulation thread.
#[derive(Clone, Debug)]
pub struct SimUpdate {
    /// The plant now (its `alarms` are those since the previous update).
    pub snapshot: PlantSnapshot,
    /// Gantt bars that ended since the previous update.
    pub bars: Vec<Bar>,
    /// KPI samples taken since the previous update (on a grid of simulated time).
    pub samples: Vec<TrendSample>,
    /// Run state.
    pub status: SimStatus,
}

/// Called after each update is sent (wakes the UI up).
pub type Waker = Arc<Mutex<Option<Box<dyn Fn() + Send>>>>;

/// The UI's handle on the simulation thread; dropping it stops the thread.
pub struct SimHandle {
    tx: Option<mpsc::Sender<Control>>,
    rx: Receiver<SimUpdate>,
    waker: Waker,
    thread: Option<JoinHandle<()>>,
}

/// Wall time spent simulating between two updates at most (keeps the UI at ~30 updates/s).
const TICK: Duration = Duration::from_millis(33);

impl SimHandle {
    /// Starts the thread, paused at time 0 (or first running to `until_s` and pausing there).
    pub fn spawn(plant: PlantModel, seed: u64, until_s: Option<f64>, bar_capacity: usize) -> SimHandle {
        let (tx, crx) = mpsc::channel();
        // Two updates in flight at most: when the UI falls behind, the thread merges updates
        // instead of queueing them without bound.
        let (utx, rx) = mpsc::sync_channel(2);
        let waker: Waker = Arc::new(Mutex::new(None));
        let w = waker.clone();
        let thread = std::thread::Builder::new()
            .name("twin-sim".into())
            .spawn(move || {
                let mut sim = SimLoop::new(plant, seed, bar_capacity, utx, w);
                if let Some(t) = until_s {
                    sim.handle(Control::RunTo(t));
                }
                sim.run(crx);
            })
            .expect("spawn the simulation thread");
        SimHandle {
            tx: Some(tx),
            rx,
            waker,
            thread: Some(thread),
        }
    }

    /// Sends a request (ignored once the thread has ended).
    pub fn send(&self, c: Control) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(c);
        }
    }

    /// The next update, if one arrived.
    pub fn try_recv(&self) -> Option<SimUpdate> {
        self.rx.try_recv().ok()
    }

    /// Sets what to call after each update.
    pub fn set_waker(&self, f: Box<dyn Fn() + Send>) {
        *self.waker.lock().expect("waker lock") = Some(f);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        // Closing the control channel ends the loop; drain updates so it is not stuck sending.
        self.tx = None;
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct SimLoop {
    cfg: Arc<Compiled>,
    twin: Twin,
    bar_capacity: usize,
    status: SimStatus,
    /// Stop here and pause (a `RunTo`).
    stop_at: Option<f64>,
    /// The snapshot of the latest sample (alarms are found by comparing samples).
    prev: Option<PlantSnapshot>,
    /// Simulated time between KPI samples [s] and the next sample's time.
    sample_dt: f64,
    next_sample: f64,
    /// Bars, samples and alarms not yet delivered (the channel was full).
    pending_bars: Vec<Bar>,
    pending_samples: Vec<TrendSample>,
    pending_alarms: Vec<Alarm>,
    /// Pacing: wall instant and simulated time when play (or a pace change) started.
    anchor: Option<(Instant, f64)>,
    /// Simulated time per run call in `Max` pace, adapted to fill a tick [s].
    chunk_s: f64,
    tx: SyncSender<SimUpdate>,
    waker: Waker,
}

impl SimLoop {
    fn new(plant: PlantModel, seed: u64, bar_capacity: usize, tx: SyncSender<SimUpdate>, waker: Waker) -> SimLoop {
        let horizon_s = match plant.run.horizon {
            Horizon::Time(t) => Some(t.secs()),
            Horizon::Parts(_) => None,
        };
        let cfg = Arc::new(Compiled::new(plant));
        let twin = new_twin(&cfg, seed, bar_capacity);
        SimLoop {
            cfg,
            twin,
            bar_capacity,
            status: SimStatus {
                playing: false,
                finished: false,
                seed,
                pace: Pace::Factor(60.0),
                horizon_s,
                run: 0,
                run_to: None,
            },
            stop_at: None,
            prev: None,
            sample_dt: sample_interval(horizon_s),
            next_sample: 0.0,
            pending_bars: Vec::new(),
            pending_samples: Vec::new(),
            pending_alarms: Vec::new(),
            anchor: None,
            chunk_s: 60.0,
            tx,
            waker,
        }
    }

    fn run(mut self, rx: Receiver<Control>) {
        self.publish();
        loop {
            let advancing = self.status.playing || self.stop_at.is_some();
            let c = if advancing {
                match rx.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                // Paused: wake up now and then to deliver what a full channel held back.
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            match c {
                Some(c) => {
                    self.handle(c);
                    self.publish();
                }
                None if advancing => {
                    self.tick();
                    self.publish();
                }
                None if !self.pending_bars.is_empty()
                    || !self.pending_samples.is_empty()
                    || !self.pending_alarms.is_empty() =>
                {
                    self.publish()
                }
                None => {}
            }
        }
    }

    fn handle(&mut self, c: Control) {
        match c {
            Control::Play => {
                self.status.playing = !self.status.finished;
                self.anchor = None;
            }
            Control::Pause => {
                self.status.playing = false;
                self.stop_at = None;
            }
            Control::Step => {
                self.status.playing = false;
                self.stop_at = None;
                if !self.status.finished && self.twin.step().is_none() {
                    self.status.finished = true;
                }
                if self.twin.now().secs() >= self.next_sample {
                    self.sample();
                }
                self.check_horizon();
            }
            Control::SetPace(p) => {
                self.status.pace = p;
                self.anchor = None;
            }
            Control::Restart { seed } => {
                self.twin = new_twin(&self.cfg, seed, self.bar_capacity);
                self.status = SimStatus {
                    playing: false,
                    finished: false,
                    seed,
                    run: self.status.run + 1,
                    ..self.status
                };
                self.stop_at = None;
                self.prev = None;
                self.next_sample = 0.0;
                self.pending_bars.clear();
                self.pending_samples.clear();
                self.pending_alarms.clear();
            }
            Control::RunTo(t) => {
                let t = self.status.horizon_s.map_or(t, |h| t.min(h));
                self.stop_at = Some(t);
                self.status.playing = false;
            }
        }
    }

    /// Advances for about one tick of wall time.
    fn tick(&mut self) {
        let started = Instant::now();
        let now = self.twin.now().secs();
        let end = self.status.horizon_s.unwrap_or(f64::INFINITY);
        if let Some(stop) = self.stop_at {
            // Run as fast as possible to the stop.
            self.run_fast(started, stop.min(end));
            if self.twin.now().secs() >= stop {
                self.stop_at = None;
            }
        } else {
            match self.status.pace {
                Pace::Max => self.run_fast(started, end),
                Pace::Factor(f) => {
                    let (wall0, sim0) = *self.anchor.get_or_insert((started, now));
                    let target = (sim0 + f * wall0.elapsed().as_secs_f64()).min(end);
                    if target > now {
                        self.advance_to(target);
                    }
                    // Sleep out the rest of the tick (or until a request arrives: see `run`).
                    let spent = started.elapsed();
                    if spent < TICK {
                        std::thread::sleep(TICK - spent);
                    }
                }
            }
        }
        self.check_horizon();
    }

    /// Runs in chunks of simulated time until `until` or the end of the tick.
    fn run_fast(&mut self, started: Instant, until: f64) {
        while started.elapsed() < TICK {
            let now = self.twin.now().secs();
            if now >= until {
                break;
            }
            let t0 = Instant::now();
            self.advance_to((now + self.chunk_s).min(until));
            // Aim at chunks of about 2 ms of wall time.
            let took = t0.elapsed().as_secs_f64().max(1e-6);
            self.chunk_s = (self.chunk_s * (0.002 / took).clamp(0.5, 2.0)).clamp(1e-3, 1e9);
        }
    }

    /// Runs to `t`, stopping at each sample time on the way to take a KPI sample.
    fn advance_to(&mut self, t: f64) {
        while self.next_sample <= t {
            self.twin.run_until(SimTime::from_secs(self.next_sample));
            self.sample();
        }
        self.twin.run_until(SimTime::from_secs(t));
    }

    /// Takes a KPI sample now, and the alarms since the previous sample.
    fn sample(&mut self) {
        let snap = take(&mut self.twin);
        if let Some(prev) = &self.prev {
            self.pending_alarms.extend(alarms_between(prev, &snap));
        }
        self.pending_samples.push(TrendSample::of(&snap));
        self.prev = Some(snap);
        let now = self.twin.now().secs();
        while self.next_sample <= now {
            self.next_sample += self.sample_dt;
        }
    }

    fn check_horizon(&mut self) {
        if let Some(h) = self.status.horizon_s
            && self.twin.now().secs() >= h
        {
            self.status.finished = true;
            self.status.playing = false;
            self.stop_at = None;
        }
    }

    /// Takes a snapshot and sends it with what ended since the last one.
    ///
    /// Trend samples and alarms come from the sample grid, not from these snapshots, whose
    /// times depend on the wall clock: so a run looks the same however fast it was watched.
    fn publish(&mut self) {
        let mut snapshot = take(&mut self.twin);
        let rows = self.twin.model.trace.as_mut().map(|t| t.drain()).unwrap_or_default();
        self.pending_bars.extend(rows.iter().filter_map(Bar::from_trace));
        // Bounded even when the UI stops reading: keep the latest.
        trim_front(&mut self.pending_bars, self.bar_capacity);
        trim_front(&mut self.pending_samples, crate::view_state::TREND_CAPACITY);
        trim_front(&mut self.pending_alarms, crate::view_state::ALARM_CAPACITY);
        snapshot.alarms = std::mem::take(&mut self.pending_alarms);
        let update = SimUpdate {
            snapshot,
            bars: std::mem::take(&mut self.pending_bars),
            samples: std::mem::take(&mut self.pending_samples),
            status: SimStatus {
                run_to: self.stop_at,
                ..self.status
            },
        };
        match self.tx.try_send(update) {
            Ok(()) => {
                if let Some(w) = self.waker.lock().expect("waker lock").as_ref() {
                    w();
                }
            }
            Err(TrySendError::Full(u)) => {
                self.pending_bars = u.bars;
                self.pending_samples = u.samples;
                self.pending_alarms = u.snapshot.alarms;
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// KPI samples about 2,000 times per horizon, between 1 s and 10 min apart (every minute
/// without a time horizon).
fn sample_interval(horizon_s: Option<f64>) -> f64 {
    horizon_s.map_or(60.0, |h| (h / 2000.0).clamp(1.0, 600.0))
}

fn new_twin(cfg: &Arc<Compiled>, seed: u64, bar_capacity: usize) -> Twin {
    let mut twin = build_twin(cfg.clone(), seed);
    twin.model.trace = Some(Box::new(TraceWriter::in_memory(cfg.clone(), bar_capacity)));
    twin
}

fn trim_front<T>(v: &mut Vec<T>, max: usize) {
    if v.len() > max {
        v.drain(..v.len() - max);
    }
}
