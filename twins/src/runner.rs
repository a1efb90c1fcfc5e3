//! Running replications of a plant: warm-up, horizon, parallel replications, progress.
//!
//! Replication r draws from streams keyed by `replication_seed(seed, r)`; replications run in
//! parallel on a rayon pool of the requested size and are collected in replication order, so
//! the results are bit-identical for any number of threads.

use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;
use twinworks_engine::{SimTime, StopReason, replication_seed};

use crate::kpi::{RunReport, SeriesPoint, collect};
use crate::plant::{Horizon, PlantModel, RunSettings, Warmup};
use crate::sim::{Compiled, PlantSim, Twin, build_twin};
use crate::trace::TraceWriter;

/// Settings of a run; start from the plant's `[run]` and override what the user asked for.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Horizon, warm-up, replications and seed.
    pub settings: RunSettings,
    /// Worker threads (`None`: rayon's default, one per core).
    pub threads: Option<usize>,
    /// Write the trace of replication 0 here.
    pub trace: Option<PathBuf>,
}

impl RunOptions {
    /// The plant file's own settings, no trace, default threads.
    pub fn from_plant(plant: &PlantModel) -> RunOptions {
        RunOptions {
            settings: plant.run,
            threads: None,
            trace: None,
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

/// Runs until `n` parts have left since the last reset, reporting progress in [0, 1].
fn run_parts(twin: &mut Twin, n: u64, rep: u32, progress: &dyn Fn(f64)) -> Result<(), RunError> {
    twin.model.stop_at_exits = Some(n);
    let mut last = exits(twin);
    let mut stalled = 0;
    loop {
        match twin.run_events(CHUNK_EVENTS) {
            StopReason::Requested => break,
            StopReason::Budget => {}
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
    Ok(())
}

/// Runs replication `rep` of `cfg` to its horizon and returns its KPIs.
pub fn run_replication(
    cfg: Arc<Compiled>,
    rep: u32,
    settings: &RunSettings,
    trace: Option<TraceWriter>,
    progress: &dyn Fn(f64),
) -> Result<RunReport, RunError> {
    let seed = replication_seed(settings.seed, rep as u64);
    let mut twin = build_twin(cfg, seed);
    twin.model.trace = trace;
    if let Err(e) = advance(&mut twin, rep, settings, progress) {
        if let Some(t) = twin.model.trace.take() {
            t.abandon();
        }
        return Err(e);
    }
    let now = twin.now().secs();
    twin.model.close_open_intervals(&mut twin.world, now);
    let series = std::mem::take(&mut twin.model.series);
    let mut report = collect(&mut twin, rep, seed);
    report.series = series;
    if let Some(t) = twin.model.trace.take() {
        let path = t.path().to_path_buf();
        t.finish().map_err(|source| RunError::Trace { path, source })?;
    }
    Ok(report)
}

/// Runs the warm-up (and resets statistics at its end), then the horizon.
fn advance(twin: &mut Twin, rep: u32, settings: &RunSettings, progress: &dyn Fn(f64)) -> Result<(), RunError> {
    match settings.warmup {
        Warmup::None => {}
        Warmup::Time(t) => {
            twin.run_until(t);
            let now = twin.now().secs();
            PlantSim::reset_stats(&mut twin.world, now);
        }
        Warmup::Parts(n) => {
            run_parts(twin, n, rep, &|_| {})?;
            let now = twin.now().secs();
            PlantSim::reset_stats(&mut twin.world, now);
        }
    }
    match settings.horizon {
        Horizon::Time(h) => {
            let from = twin.now().secs();
            let chunks = 100;
            let (mut last_t, mut last_exits, mut last_area) = (from, exits(twin), wip_area(twin));
            for i in 1..=chunks {
                let t = from + (h.secs() - from) * i as f64 / chunks as f64;
                twin.run_until(SimTime::from_secs(t));
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
                progress(i as f64 / chunks as f64);
            }
        }
        Horizon::Parts(n) => run_parts(twin, n, rep, progress)?,
    }
    Ok(())
}

/// Runs all replications (in parallel) and returns their reports in replication order.
///
/// `progress(rep, fraction)` is called from worker threads as each replication advances.
pub fn run_replications(
    plant: &PlantModel,
    opts: &RunOptions,
    progress: &(dyn Fn(u32, f64) + Sync),
) -> Result<Vec<RunReport>, RunError> {
    let cfg = Arc::new(Compiled::new(plant.clone()));
    let trace = match &opts.trace {
        Some(path) => Some(
            TraceWriter::create(path, cfg.clone()).map_err(|source| RunError::Trace {
                path: path.clone(),
                source,
            })?,
        ),
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
