//! Running replications of a plant: warm-up, horizon, parallel replications, progress.
//!
//! Replication r draws from streams keyed by `replication_seed(seed, r)`; replications run in
//! parallel on a rayon pool of the requested size and are collected in replication order, so
//! the results are bit-identical for any number of threads.

use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use twinworks_engine::{SimTime, StopReason, replication_seed};

use crate::kpi::{RunReport, SeriesPoint, collect};
use crate::plant::{Horizon, PlantModel, RunSettings, Warmup};
use crate::sim::{Command, Compiled, PlantSim, Twin, build_twin};
use crate::state::{Restorable, StateError, Streams, TwinState};
use crate::trace::{TraceSink, TraceWriter};

/// Settings of a run; start from the plant's `[run]` and override what the user asked for.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Horizon, warm-up, replications and seed.
    pub settings: RunSettings,
    /// Worker threads (`None`: rayon's default, one per core).
    pub threads: Option<usize>,
    /// Write the trace of replication 0 here.
    pub trace: Option<PathBuf>,
    /// Also write every accounting-state interval to the trace.
    pub trace_states: bool,
    /// The dispatching policy of every replication, if not the plant's rules (plan execution).
    pub policy: Option<crate::sim::PolicyMaker>,
}

impl RunOptions {
    /// The plant file's own settings, no trace, default threads.
    pub fn from_plant(plant: &PlantModel) -> RunOptions {
        RunOptions {
            settings: plant.run,
            threads: None,
            trace: None,
            trace_states: false,
            policy: None,
        }
    }
}

/// Why a run could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The trace file could not be written.
    #[error("trace {path}: {source}")]
    Trace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A parts-count horizon or warm-up that the plant cannot reach.
    #[error("replication {replication}: {parts} parts were asked for, but the plant {why} (at t = {at})")]
    Unreachable {
        replication: u32,
        parts: u64,
        why: &'static str,
        at: SimTime,
    },
    /// `--at` lies at or beyond the end of the run.
    #[error("replication {replication} ended at t = {ended} before the requested time {at}")]
    EndedBefore {
        replication: u32,
        ended: SimTime,
        at: SimTime,
    },
    /// A saved state cannot be restored into this plant.
    #[error(transparent)]
    State(#[from] StateError),
    /// A zero-time loop: too many events in a row at one simulated instant.
    #[error(
        "replication {replication} stalled at t = {at}: {limit} events in a row without the clock moving; the last was {what}"
    )]
    Stalled {
        replication: u32,
        at: SimTime,
        limit: u64,
        what: String,
    },
    /// The model could not go on (its world lacks state it needs).
    #[error("replication {replication} failed at t = {at}: {why}")]
    Failed { replication: u32, at: SimTime, why: String },
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {message}")]
    Threads { threads: usize, message: String },
}

/// Events per chunk when running to a parts count (progress and stall checks between chunks).
const CHUNK_EVENTS: u64 = 1 << 20;
/// Chunks without a single part out before a parts-count run is declared stalled.
const STALL_CHUNKS: u32 = 64;

fn exits(twin: &Twin) -> u64 {
    twin.world.resource::<crate::sim::PlantHot>().exits
}

/// ∫ WIP dt since the last statistics reset, up to now [part·s].
fn wip_area(twin: &Twin) -> f64 {
    let p = twin.world.resource::<crate::sim::PlantHot>();
    let now = twin.now().secs();
    p.wip.mean(now) * (now - p.stats_since)
}

/// Runs until `n` parts have left since the last reset, reporting progress in [0, 1]; returns
/// `false` when it paused at time `pause` first.
fn run_parts(twin: &mut Twin, n: u64, rep: u32, progress: &dyn Fn(f64), pause: SimTime) -> Result<bool, RunError> {
    twin.model.stop_at_exits = Some(n);
    let mut last = exits(twin);
    let mut stalled = 0;
    loop {
        match twin.run_events_until(CHUNK_EVENTS, pause) {
            StopReason::Requested => break,
            StopReason::Budget => {}
            StopReason::ReachedTime if pause.secs().is_finite() => return Ok(false),
            StopReason::Stalled => return Err(stall_error(twin, rep)),
            StopReason::Failed => return Err(failure(twin, rep)),
            _ => {
                return Err(RunError::Unreachable {
                    replication: rep,
                    parts: n,
                    why: "ran out of events",
                    at: twin.now(),
                });
            }
        }
        let e = exits(twin);
        stalled = if e == last { stalled + 1 } else { 0 };
        if stalled >= STALL_CHUNKS {
            return Err(RunError::Unreachable {
                replication: rep,
                parts: n,
                why: "stopped producing",
                at: twin.now(),
            });
        }
        last = e;
        progress(e as f64 / n as f64);
    }
    twin.model.stop_at_exits = None;
    Ok(true)
}

/// The error of a stalled run, naming the element whose event looped.
fn stall_error(twin: &Twin, rep: u32) -> RunError {
    RunError::Stalled {
        replication: rep + 1,
        at: twin.now(),
        limit: twinworks_engine::kernel::DEFAULT_STALL_EVENTS,
        what: twin
            .kernel()
            .stalled()
            .map_or_else(|| "unknown".into(), |e| crate::sim::describe_event(&twin.model.cfg, e)),
    }
}

/// The error of a run whose model could not go on.
fn failure(twin: &Twin, rep: u32) -> RunError {
    RunError::Failed {
        replication: rep + 1,
        at: twin.now(),
        why: twin.kernel().failure().unwrap_or("unknown").to_string(),
    }
}

/// Why replication `rep`'s twin stopped for good, if it did: its stall or its failure (what
/// `twin run` reports, and what a snapshot shows as `halted`).
pub fn halted(twin: &Twin, rep: u32) -> Option<RunError> {
    if twin.kernel().failure().is_some() {
        Some(failure(twin, rep))
    } else {
        twin.kernel().stalled().map(|_| stall_error(twin, rep))
    }
}

/// Runs until time `t`; a stall or a failure is an error.
fn run_until(twin: &mut Twin, t: SimTime, rep: u32) -> Result<(), RunError> {
    match twin.run_until(t) {
        StopReason::Stalled => Err(stall_error(twin, rep)),
        StopReason::Failed => Err(failure(twin, rep)),
        _ => Ok(()),
    }
}

/// Where a replication's run is: what [`advance`] needs to go on from a saved state exactly as
/// the unbroken run would.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunProgress {
    /// Replication index (0-based).
    pub replication: u32,
    /// The run's base seed (the replication's streams are keyed with its replication seed).
    pub base_seed: u64,
    /// The run's horizon: a time [s] or a count of parts.
    pub horizon: LengthRecord,
    /// The run's warm-up.
    pub warmup: Option<LengthRecord>,
    /// The warm-up is over (statistics were reset at its end).
    pub warmup_done: bool,
    /// Time horizon: when its grid of KPI-series points started [s], once it has.
    pub grid_from: Option<f64>,
    /// Time horizon: grid intervals completed.
    pub chunks_done: u32,
    /// Time horizon: (time, parts out, ∫WIP) at the last grid point.
    pub last_point: Option<(f64, u64, f64)>,
}

/// A run length in a state file.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum LengthRecord {
    /// Simulated seconds.
    Time(f64),
    /// Parts out.
    Parts(u64),
}

impl RunProgress {
    fn new(rep: u32, settings: &RunSettings) -> RunProgress {
        RunProgress {
            replication: rep,
            base_seed: settings.seed,
            horizon: match settings.horizon {
                Horizon::Time(t) => LengthRecord::Time(t.secs()),
                Horizon::Parts(n) => LengthRecord::Parts(n),
            },
            warmup: match settings.warmup {
                Warmup::None => None,
                Warmup::Time(t) => Some(LengthRecord::Time(t.secs())),
                Warmup::Parts(n) => Some(LengthRecord::Parts(n)),
            },
            warmup_done: false,
            grid_from: None,
            chunks_done: 0,
            last_point: None,
        }
    }

    /// The run settings this progress belongs to (one replication).
    pub fn settings(&self) -> RunSettings {
        let length = |l: LengthRecord| match l {
            LengthRecord::Time(t) => (Some(SimTime::from_secs(t)), None),
            LengthRecord::Parts(n) => (None, Some(n)),
        };
        RunSettings {
            horizon: match length(self.horizon) {
                (Some(t), _) => Horizon::Time(t),
                (_, n) => Horizon::Parts(n.unwrap_or(0)),
            },
            warmup: match self.warmup.map(length) {
                None => Warmup::None,
                Some((Some(t), _)) => Warmup::Time(t),
                Some((_, n)) => Warmup::Parts(n.unwrap_or(0)),
            },
            replications: 1,
            seed: self.base_seed,
        }
    }
}

/// Runs replication `rep` of `cfg` to its horizon and returns its KPIs.
pub fn run_replication(
    cfg: Arc<Compiled>,
    rep: u32,
    settings: &RunSettings,
    trace: Option<Box<dyn TraceSink>>,
    progress: &dyn Fn(f64),
) -> Result<RunReport, RunError> {
    run_replication_with(cfg, rep, settings, &[], trace, progress)
}

/// [`run_replication`] with `commands` applied before time 0's events (a study variant that
/// only changes parameters; see [`crate::sim::commands_between`]).
pub fn run_replication_with(
    cfg: Arc<Compiled>,
    rep: u32,
    settings: &RunSettings,
    commands: &[Command],
    trace: Option<Box<dyn TraceSink>>,
    progress: &dyn Fn(f64),
) -> Result<RunReport, RunError> {
    let seed = replication_seed(settings.seed, rep as u64);
    let mut twin = build_twin(cfg, seed);
    twin.model.commands.extend_from_slice(commands);
    finish_run(twin, RunProgress::new(rep, settings), settings, trace, progress)
}

/// Runs replication `rep` of `cfg` up to time `at` (inclusive) and returns its state there,
/// with the runner's progress, so that [`run_from_state`] finishes it exactly as the unbroken
/// run would have.
pub fn run_to_state(cfg: Arc<Compiled>, rep: u32, settings: &RunSettings, at: SimTime) -> Result<TwinState, RunError> {
    let seed = replication_seed(settings.seed, rep as u64);
    let mut twin = build_twin(cfg, seed);
    let mut prog = RunProgress::new(rep, settings);
    if advance(&mut twin, &mut prog, settings, &|_| {}, at)? {
        return Err(RunError::EndedBefore {
            replication: rep + 1,
            ended: twin.now(),
            at,
        });
    }
    let mut state = twin.state();
    state.run = Some(prog);
    Ok(state)
}

/// Restores `state` (saved by [`run_to_state`]) into `cfg`'s plant and runs it to the end of
/// its replication; `settings` gives the horizon (the state's own, or a longer one).
pub fn run_from_state(
    cfg: Arc<Compiled>,
    state: &TwinState,
    streams: Streams,
    settings: &RunSettings,
    trace: Option<Box<dyn TraceSink>>,
    progress: &dyn Fn(f64),
) -> Result<RunReport, RunError> {
    let prog = state.run.clone().unwrap_or_else(|| {
        // A state saved outside a run: its statistics count from their last reset.
        let mut p = RunProgress::new(0, settings);
        p.warmup_done = true;
        p
    });
    let twin = Twin::restore(cfg, state, streams)?;
    finish_run(twin, prog, settings, trace, progress)
}

fn finish_run(
    mut twin: Twin,
    mut prog: RunProgress,
    settings: &RunSettings,
    trace: Option<Box<dyn TraceSink>>,
    progress: &dyn Fn(f64),
) -> Result<RunReport, RunError> {
    twin.model.trace = trace;
    if let Err(e) = advance(&mut twin, &mut prog, settings, progress, SimTime::NEVER) {
        if let Some(t) = twin.model.trace.take() {
            t.abandon();
        }
        return Err(e);
    }
    let now = twin.now().secs();
    twin.model.close_open_intervals(&mut twin.world, now);
    let series = std::mem::take(&mut twin.model.series);
    let seed = twin.model.seed;
    let mut report = collect(&mut twin, prog.replication, seed);
    report.series = series;
    if let Some(t) = twin.model.trace.take() {
        let path = t.path().to_path_buf();
        t.finish().map_err(|source| RunError::Trace { path, source })?;
    }
    Ok(report)
}

/// Runs the warm-up (and resets statistics at its end), then the horizon, from where `prog`
/// says the run is. Returns `true` when the run is complete, `false` when it paused at time
/// `pause` (`SimTime::NEVER`: never pause).
fn advance(
    twin: &mut Twin,
    prog: &mut RunProgress,
    settings: &RunSettings,
    progress: &dyn Fn(f64),
    pause: SimTime,
) -> Result<bool, RunError> {
    let rep = prog.replication;
    if !prog.warmup_done {
        match settings.warmup {
            Warmup::None => {}
            Warmup::Time(t) => {
                run_until(twin, t.min(pause), rep)?;
                if twin.now().secs() < t.secs() {
                    return Ok(false);
                }
                let now = twin.now().secs();
                PlantSim::reset_stats(&mut twin.world, now);
            }
            Warmup::Parts(n) => {
                if !run_parts(twin, n, rep, &|_| {}, pause)? {
                    return Ok(false);
                }
                let now = twin.now().secs();
                PlantSim::reset_stats(&mut twin.world, now);
            }
        }
        prog.warmup_done = true;
    }
    match settings.horizon {
        Horizon::Time(h) => {
            let from = *prog.grid_from.get_or_insert(twin.now().secs());
            let chunks = 100;
            let (mut last_t, mut last_exits, mut last_area) =
                prog.last_point.unwrap_or((from, exits(twin), wip_area(twin)));
            for i in prog.chunks_done + 1..=chunks {
                let t = from + (h.secs() - from) * i as f64 / chunks as f64;
                if t > pause.secs() {
                    run_until(twin, pause, rep)?;
                    prog.last_point = Some((last_t, last_exits, last_area));
                    return Ok(false);
                }
                run_until(twin, SimTime::from_secs(t), rep)?;
                // One point per chunk: throughput and time-average WIP over the chunk.
                let (e, area) = (exits(twin), wip_area(twin));
                let dt = t - last_t;
                if dt > 0.0 {
                    twin.model.series.push(SeriesPoint {
                        t_s: t,
                        throughput_per_h: (e - last_exits) as f64 * 3600.0 / dt,
                        wip: (area - last_area) / dt,
                    });
                }
                (last_t, last_exits, last_area) = (t, e, area);
                prog.chunks_done = i;
                prog.last_point = Some((last_t, last_exits, last_area));
                progress(i as f64 / chunks as f64);
            }
        }
        Horizon::Parts(n) => {
            if !run_parts(twin, n, rep, progress, pause)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Runs all replications (in parallel) and returns their reports in replication order.
///
/// `progress(rep, fraction)` is called from worker threads as each replication advances.
pub fn run_replications(
    plant: &PlantModel,
    opts: &RunOptions,
    progress: &(dyn Fn(u32, f64) + Sync),
) -> Result<Vec<RunReport>, RunError> {
    let cfg = match &opts.policy {
        Some(p) => Arc::new(Compiled::new(plant.clone()).with_policy(p.0.clone())),
        None => Arc::new(Compiled::new(plant.clone())),
    };
    let trace: Option<Box<dyn TraceSink>> = match &opts.trace {
        Some(path) => Some(Box::new(
            TraceWriter::create(path, cfg.clone())
                .map_err(|source| RunError::Trace {
                    path: path.clone(),
                    source,
                })?
                .with_states(opts.trace_states),
        )),
        None => None,
    };
    let trace = std::sync::Mutex::new(trace);
    let reps = opts.settings.replications.max(1);
    let work = || {
        (0..reps)
            .into_par_iter()
            .map(|r| {
                let t = if r == 0 {
                    trace.lock().map(|mut g| g.take()).unwrap_or(None)
                } else {
                    None
                };
                run_replication(cfg.clone(), r, &opts.settings, t, &|f| progress(r, f))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    match opts.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| RunError::Threads {
                threads: n,
                message: e.to_string(),
            })?
            .install(work),
        None => work(),
    }
}
