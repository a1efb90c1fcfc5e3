//! Forecasting from the present: each open order's chance to be on time, from forks of a
//! running twin's state ([`Restorable`]).
//!
//! Fork `i` of `N` restores the state with its random streams re-keyed by `i` (every pre-drawn
//! future redrawn from its residual life, [`Streams::Rekey`]) and runs for the horizon, its
//! statistics reset at the start so that station figures cover the horizon only. Per open order
//! (not complete at the present): P(on time) — completed by its due date — with a 95% Wilson
//! interval; the completion's mean and p10/p50/p90 over the forks where it completed within the
//! horizon, and the share where it did not; the station where its units wait longest (the
//! mean over forks of queue time per station). Per station: utilization (busy share) and mean
//! queue over the horizon. An order without a due date is on time when it completes at all.
//!
//! Forks run in parallel on rayon; fork `i`'s streams depend on `seed` and `i` only, so the
//! result is bit-identical for any thread count.
//!
//! The deterministic forecast (every time at its mean, the same rules) is one fork of
//! [`crate::lookahead::mean_times`]'s plant: [`deterministic_on_time`].

use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Serialize;
use twinworks_engine::SimTime;

use crate::kpi::collect;
use crate::lookahead::mean_times;
use crate::sim::{Compiled, NO_ORDER, PlantSim, Twin};
use crate::state::{Restorable, StateError, Streams, TwinState, fork_seed};
use crate::trace::{TraceKind, TraceRow, TraceSink};

/// The version tag of the forecast JSON.
pub const FORMAT: &str = "twinworks-forecast/1";

/// One open order's forecast.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderForecast {
    /// Order id.
    pub order: String,
    /// Its due date [s], if any.
    pub due_s: Option<f64>,
    /// Released by the present.
    pub released: bool,
    /// Share of forks in which it is on time.
    pub p_on_time: f64,
    /// 95% Wilson interval of `p_on_time`.
    pub p_on_time_ci95: (f64, f64),
    /// Mean completion [s] over the forks where it completed within the horizon.
    pub completion_mean_s: Option<f64>,
    /// 10th, 50th and 90th percentile of completion [s] over all forks, a fork where it did
    /// not complete counting as later than any that did (`None` where that quantile falls
    /// beyond the horizon).
    pub completion_p10_s: Option<f64>,
    /// Median completion [s].
    pub completion_p50_s: Option<f64>,
    /// 90th percentile of completion [s].
    pub completion_p90_s: Option<f64>,
    /// Share of forks in which it did not complete within the horizon.
    pub p_beyond_horizon: f64,
    /// The station where its units wait longest (mean queue time over forks), if they wait.
    pub longest_wait_station: Option<String>,
    /// That mean queue time [s].
    pub longest_wait_s: f64,
    /// Every fork's completion [s] (`None`: not within the horizon), in fork order.
    #[serde(skip)]
    pub completions: Vec<Option<f64>>,
}

/// One station over the horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StationForecast {
    /// Station name.
    pub station: String,
    /// Mean busy share of its servers.
    pub utilization: f64,
    /// Mean number of parts in its input buffer.
    pub queue_mean: f64,
}

/// A forecast from one present.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Forecast {
    /// Always [`FORMAT`].
    pub format: &'static str,
    /// Plant name.
    pub plant: String,
    /// The present [s].
    pub at_s: f64,
    /// How far each fork runs [s].
    pub horizon_s: f64,
    /// Forks.
    pub replications: u32,
    /// Seed of the forks' streams.
    pub seed: u64,
    /// Open orders, most at risk first (lowest P(on time), then earliest due).
    pub orders: Vec<OrderForecast>,
    /// Stations in plant order.
    pub stations: Vec<StationForecast>,
}

/// Sums each order's queue time per station from the trace: from entering the queue to the
/// start of the setup, or of the operation when there was none.
struct Waits {
    stations: usize,
    /// `[order * stations + station]` [s].
    sum: Arc<Mutex<Vec<f64>>>,
    /// Parts whose setup row came (their operation row's wait is already counted).
    set_up: std::collections::HashSet<u64>,
}

impl TraceSink for Waits {
    fn write(&mut self, row: &TraceRow) {
        let Some(p) = row.part else { return };
        let counted = match row.kind {
            TraceKind::Setup => {
                self.set_up.insert(p.id);
                false
            }
            TraceKind::Operation => self.set_up.remove(&p.id),
            _ => return,
        };
        if counted || p.order == NO_ORDER {
            return;
        }
        if let Ok(mut v) = self.sum.lock()
            && let Some(x) = v.get_mut(p.order as usize * self.stations + row.station)
        {
            *x += (row.start - p.entered).max(0.0);
        }
    }
    fn rows(&self) -> u64 {
        0
    }
    fn finish(self: Box<Self>) -> std::io::Result<u64> {
        Ok(0)
    }
}

/// Wilson's 95% interval for `k` successes in `n` trials.
pub fn wilson95(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let d = 1.0 + z * z / n;
    let c = (p + z * z / (2.0 * n)) / d;
    let h = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / d;
    // At k = 0 (k = n) the bound is exactly 0 (1); the formula leaves rounding dust.
    let lo = if k == 0 { 0.0 } else { (c - h).max(0.0) };
    let hi = if k as f64 == n { 1.0 } else { (c + h).min(1.0) };
    (lo, hi)
}

/// What one fork saw: per order its completion, per order × station its queue time, per
/// station (busy share, mean queue).
struct ForkResult {
    completion: Vec<Option<f64>>,
    waits: Vec<f64>,
    stations: Vec<(f64, f64)>,
}

/// Runs `state` forward in `cfg`'s plant for `horizon_s` with `streams`.
fn run_fork(
    cfg: &Arc<Compiled>,
    state: &TwinState,
    streams: Streams,
    horizon_s: f64,
) -> Result<ForkResult, StateError> {
    let plant = &cfg.plant;
    let ns = plant.stations.len();
    let mut twin = Twin::restore(cfg.clone(), state, streams)?;
    let now = twin.now().secs();
    PlantSim::reset_stats(&mut twin.world, now);
    let sum = Arc::new(Mutex::new(vec![0.0; plant.orders.len() * ns]));
    twin.model.trace = Some(Box::new(Waits {
        stations: ns,
        sum: sum.clone(),
        set_up: Default::default(),
    }));
    twin.run_until(SimTime::from_secs(now + horizon_s));
    let report = collect(&mut twin, 0, 0);
    let hot = twin
        .world
        .get_resource::<crate::sim::PlantHot>()
        .expect("a restored twin has its plant resource");
    let completion = hot.orders.iter().map(|o| o.completed).collect();
    let stations = report
        .stations
        .iter()
        .map(|s| {
            let b = plant.stations.iter().find(|x| x.name == s.name).map(|x| x.input);
            let q = b
                .and_then(|b| report.buffers.iter().find(|x| x.name == plant.buffers[b].name))
                .map_or(0.0, |x| x.level_mean);
            (s.utilization.busy, q)
        })
        .collect();
    let waits = sum.lock().map(|v| v.clone()).unwrap_or_default();
    Ok(ForkResult {
        completion,
        waits,
        stations,
    })
}

/// Whether each order is on time in the deterministic forecast: one run of `state` in `cfg`'s
/// plant with every time at its mean ([`mean_times`]), the same rules, for `horizon_s`.
/// `None` for an order complete at the present.
pub fn deterministic_on_time(
    cfg: &Arc<Compiled>,
    state: &TwinState,
    horizon_s: f64,
) -> Result<Vec<Option<bool>>, StateError> {
    let det = Arc::new(Compiled::new(mean_times(&cfg.plant)));
    let r = run_fork(&det, state, Streams::Continue, horizon_s)?;
    let done_before = state_completions(state);
    Ok(cfg
        .plant
        .orders
        .iter()
        .enumerate()
        .map(|(o, order)| {
            if done_before[o].is_some() {
                return None;
            }
            Some(on_time(r.completion[o], order.due.map(|d| d.secs())))
        })
        .collect())
}

/// Per order, its completion in `state`, if it is complete there.
fn state_completions(state: &TwinState) -> Vec<Option<f64>> {
    state.plant_stats.orders.iter().map(|o| o.completed).collect()
}

fn on_time(completion: Option<f64>, due: Option<f64>) -> bool {
    match (completion, due) {
        (Some(c), Some(d)) => c <= d,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Forecasts every order open at `state` (see the module docs). `progress` is called once per
/// finished fork.
pub fn forecast(
    cfg: &Arc<Compiled>,
    state: &TwinState,
    replications: u32,
    horizon_s: f64,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Result<Forecast, StateError> {
    let plant = &cfg.plant;
    let ns = plant.stations.len();
    let forks: Vec<ForkResult> = (0..replications)
        .into_par_iter()
        .map(|i| {
            let r = run_fork(cfg, state, Streams::Rekey(fork_seed(seed, u64::from(i))), horizon_s);
            progress();
            r
        })
        .collect::<Result<_, _>>()?;
    let at = state.now;
    let done_before = state_completions(state);
    let n = forks.len() as u64;
    let mut orders = Vec::new();
    for (o, order) in plant.orders.iter().enumerate() {
        if done_before[o].is_some() {
            continue;
        }
        let due = order.due.map(|d| d.secs());
        let completions: Vec<Option<f64>> = forks.iter().map(|f| f.completion[o]).collect();
        let k = completions.iter().filter(|c| on_time(**c, due)).count() as u64;
        let done: Vec<f64> = completions.iter().flatten().copied().collect();
        let mut sorted = done.clone();
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            // Nearest rank over all forks; forks beyond the horizon rank last.
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n as usize);
            sorted.get(rank - 1).copied()
        };
        let mut wait = vec![0.0; ns];
        for f in &forks {
            for (s, w) in wait.iter_mut().enumerate() {
                *w += f.waits[o * ns + s] / n as f64;
            }
        }
        let (ws, wmax) = wait.iter().enumerate().fold(
            (None, 0.0),
            |(bs, bw), (s, &w)| if w > bw { (Some(s), w) } else { (bs, bw) },
        );
        orders.push(OrderForecast {
            order: order.id.clone(),
            due_s: due,
            released: order.release.secs() <= at,
            p_on_time: k as f64 / n.max(1) as f64,
            p_on_time_ci95: wilson95(k, n),
            completion_mean_s: (!done.is_empty()).then(|| done.iter().sum::<f64>() / done.len() as f64),
            completion_p10_s: quantile(0.10),
            completion_p50_s: quantile(0.50),
            completion_p90_s: quantile(0.90),
            p_beyond_horizon: (n - done.len() as u64) as f64 / n.max(1) as f64,
            longest_wait_station: ws.map(|s| plant.stations[s].name.clone()),
            longest_wait_s: wmax,
            completions,
        });
    }
    orders.sort_by(|a, b| {
        a.p_on_time.total_cmp(&b.p_on_time).then(
            a.due_s
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.due_s.unwrap_or(f64::INFINITY)),
        )
    });
    let stations = plant
        .stations
        .iter()
        .enumerate()
        .map(|(s, st)| StationForecast {
            station: st.name.clone(),
            utilization: forks.iter().map(|f| f.stations[s].0).sum::<f64>() / n.max(1) as f64,
            queue_mean: forks.iter().map(|f| f.stations[s].1).sum::<f64>() / n.max(1) as f64,
        })
        .collect();
    Ok(Forecast {
        format: FORMAT,
        plant: plant.name.clone(),
        at_s: at,
        horizon_s,
        replications,
        seed,
        orders,
        stations,
    })
}
