//! KPIs of a run, per station and for the plant, and their summary over replications.
//!
//! All figures cover the observed span: from the end of the warm-up (or time 0) to the end of
//! the run. Definitions:
//! - **throughput** [parts/h]: good parts out through sinks / observed span.
//! - **WIP**: time average of the parts in the plant (created or released, not yet out or scrapped).
//! - **lead time** [s]: time from a part's creation (or its order's release) to leaving through a
//!   sink; mean, p50 and p95 (p50/p95 from a log histogram, ±0.5%).
//! - **utilization by state**: share of `capacity × observed span` that the servers spent busy,
//!   in setup, idle (starved), blocked, down and off-shift; the six shares add up to 1.
//! - **OEE** = availability × performance × quality, per station, with
//!   planned time P = capacity × span − off-shift time;
//!   availability = (P − down − setup) / P;
//!   performance = Σ ideal process time of completed operations / (P − down − setup), where the
//!   ideal time of an operation is the mean of its process-time distribution (so starved and
//!   blocked time count as performance losses);
//!   quality = good operations / all completed operations.
//!   Hence OEE = ideal time of good output / planned time.
//! - **energy** [kWh]: Σ over states of time in state × the station's kW for that state.
//! - **orders**: an order is complete when all its units have left (good or scrapped);
//!   tardiness = max(0, completion − due); orders still open at the end count as open, and as
//!   past due if their due date has passed.

use serde::Serialize;
use twinworks_engine::Interval;

use crate::sim::{BufferHot, PlantHot, STATES, StationHot, Twin};

/// Share of server time in each state.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct StateShares {
    /// Processing.
    pub busy: f64,
    /// Setting up.
    pub setup: f64,
    /// Starved (idle).
    pub idle: f64,
    /// Blocked.
    pub blocked: f64,
    /// Down.
    pub down: f64,
    /// Off-shift.
    pub off_shift: f64,
}

/// KPIs of one station.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StationKpis {
    /// Station name.
    pub name: String,
    /// Parallel servers.
    pub capacity: u32,
    /// Operations completed (good and scrap).
    pub operations: u64,
    /// Good operations per hour [1/h].
    pub throughput_per_h: f64,
    /// Utilization split by state.
    pub utilization: StateShares,
    /// OEE availability.
    pub availability: f64,
    /// OEE performance.
    pub performance: f64,
    /// OEE quality.
    pub quality: f64,
    /// OEE.
    pub oee: f64,
    /// Energy [kWh].
    pub energy_kwh: f64,
    /// Mean wait in the input queue before starting here [s].
    pub wait_mean_s: f64,
    /// Standard error of the mean wait from batch means [s] (0 with too few batches).
    pub wait_se_s: f64,
    /// Fraction of parts that waited at all.
    pub wait_probability: f64,
    /// Second moment of the wait, E[W²] [s²] (the spread a dispatching rule changes while
    /// leaving the mean alone).
    pub wait_second_moment_s2: f64,
    /// Reservations of the dispatching policy that could not be met (deadlocks detected).
    pub dispatch_deviations: u64,
    /// Breakdowns.
    pub failures: u64,
    /// The process model's figures, for a station with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelKpis>,
}

/// A process model's figures over the run (since the warm-up).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelKpis {
    /// Energy of the operations at the model's draw (`energy_kw` × their expected time) [kWh].
    pub energy_kwh: f64,
    /// Mean quality of the operations (NaN without a quality output or operations).
    pub quality_mean: f64,
    /// Parameter values at the end.
    pub parameters: std::collections::BTreeMap<String, f64>,
    /// Thermal state at the end [°C] (0 without one).
    pub temperature: f64,
}

/// KPIs of one buffer.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BufferKpis {
    /// Buffer name.
    pub name: String,
    /// Time-average number of parts in it.
    pub level_mean: f64,
    /// Most parts it held.
    pub level_max: f64,
}

/// Order KPIs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OrderKpis {
    /// Orders in the plant.
    pub orders: u64,
    /// Orders complete by the end of the run.
    pub completed: u64,
    /// Complete orders finished by their due date (or without one).
    pub on_time: u64,
    /// Mean tardiness of complete orders [s].
    pub mean_tardiness_s: f64,
    /// Largest tardiness of complete orders [s].
    pub max_tardiness_s: f64,
    /// Σ priority × tardiness of complete orders [s].
    pub weighted_tardiness_s: f64,
    /// Open orders whose due date has passed.
    pub open_past_due: u64,
}

/// Plant-wide KPIs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PlantKpis {
    /// Good parts out per hour [1/h].
    pub throughput_per_h: f64,
    /// Good parts out.
    pub parts_out: u64,
    /// Parts scrapped.
    pub parts_scrapped: u64,
    /// Time-average WIP.
    pub wip_mean: f64,
    /// Mean lead time [s].
    pub lead_time_mean_s: f64,
    /// Standard error of the mean lead time from batch means [s].
    pub lead_time_se_s: f64,
    /// Median lead time [s].
    pub lead_time_p50_s: f64,
    /// 95th percentile lead time [s].
    pub lead_time_p95_s: f64,
    /// Energy of all stations [kWh].
    pub energy_kwh: f64,
}

/// All KPIs of one replication.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunReport {
    /// Replication index (0-based).
    pub replication: u32,
    /// The seed its random streams were keyed with.
    pub seed: u64,
    /// Start of the observed span [s] (end of warm-up).
    pub observed_from_s: f64,
    /// End of the run [s].
    pub end_s: f64,
    /// Events handled, warm-up included.
    pub events: u64,
    /// Plant KPIs.
    pub plant: PlantKpis,
    /// Per station, in plant order.
    pub stations: Vec<StationKpis>,
    /// Per buffer, in plant order (implicit station queues included).
    pub buffers: Vec<BufferKpis>,
    /// Order KPIs, if the plant has orders.
    pub orders: Option<OrderKpis>,
    /// Throughput and WIP over the observed span, at most ~100 points (time-horizon runs).
    pub series: Vec<SeriesPoint>,
    /// Figures of the dispatching policy's own (plan adherence), if it keeps any.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub policy: std::collections::BTreeMap<String, f64>,
}

/// One point of a run's time series.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct SeriesPoint {
    /// End of the interval [s].
    pub t_s: f64,
    /// Good parts out per hour during the interval [1/h].
    pub throughput_per_h: f64,
    /// Time-average WIP during the interval.
    pub wip: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Reads the KPIs of a twin at its current time.
pub fn collect(twin: &mut Twin, replication: u32, seed: u64) -> RunReport {
    let now = twin.now().secs();
    let events = twin.kernel().events_run();
    let cfg = twin.model.cfg.clone();
    let policy = match &twin.model.policy {
        crate::sim::dispatch::Policy::External(p) => p.kpis().into_iter().collect(),
        crate::sim::dispatch::Policy::Fifo => Default::default(),
    };
    let plant_model = &cfg.plant;
    let world = &mut twin.world;
    let since = world.resource::<PlantHot>().stats_since;
    let span = (now - since).max(0.0);

    let mut stations: Vec<Option<StationKpis>> = vec![None; plant_model.stations.len()];
    let mut energy_total = 0.0;
    for st in world.query::<&StationHot>().iter(world) {
        let m = &plant_model.stations[st.idx as usize];
        let mut t = [0.0; STATES];
        for srv in &st.servers {
            let s = srv.time_in_until(now);
            for i in 0..STATES {
                t[i] += s[i];
            }
        }
        // Servers in service (a capacity command may have changed the plant file's number).
        let capacity = st.servers.iter().filter(|v| !v.retired).count() as u32;
        let total = capacity as f64 * span;
        let sh = |i: usize| ratio(t[i], total);
        let e = &m.energy_kw;
        let energy_kwh =
            (t[0] * e.busy + t[1] * e.setup + t[2] * e.idle + t[3] * e.blocked + t[4] * e.down + t[5] * e.off_shift)
                / 3600.0;
        energy_total += energy_kwh;
        let planned = total - t[5];
        let run_time = planned - t[4] - t[1];
        let s = &st.stats;
        let good = s.ops_done - s.scrapped;
        let availability = ratio(run_time, planned);
        let performance = ratio(s.ideal_s, run_time);
        let quality = ratio(good as f64, s.ops_done as f64);
        let wait_se_s = s.wait.interval().map_or(0.0, |i| i.std_error);
        stations[st.idx as usize] = Some(StationKpis {
            name: m.name.clone(),
            capacity,
            operations: s.ops_done,
            throughput_per_h: ratio(good as f64 * 3600.0, span),
            utilization: StateShares {
                busy: sh(0),
                setup: sh(1),
                idle: sh(2),
                blocked: sh(3),
                down: sh(4),
                off_shift: sh(5),
            },
            availability,
            performance,
            quality,
            oee: availability * performance * quality,
            energy_kwh,
            wait_mean_s: s.wait.mean(),
            wait_se_s,
            wait_probability: ratio(s.waited as f64, s.wait.count() as f64),
            wait_second_moment_s2: ratio(s.wait_sq, s.wait.count() as f64),
            dispatch_deviations: s.deviations,
            failures: s.failures,
            model: m.model.as_ref().zip(st.model.as_ref()).map(|(pm, h)| {
                let mut h = h.clone();
                h.advance(pm, now);
                ModelKpis {
                    energy_kwh: h.energy_kwh,
                    quality_mean: if h.quality_n == 0 {
                        f64::NAN
                    } else {
                        h.quality_sum / h.quality_n as f64
                    },
                    parameters: pm
                        .params
                        .iter()
                        .map(|p| p.name.clone())
                        .zip(h.params.iter().copied())
                        .collect(),
                    temperature: h.temperature,
                }
            }),
        });
    }
    let mut buffers: Vec<Option<BufferKpis>> = vec![None; plant_model.buffers.len()];
    for b in world.query::<&BufferHot>().iter(world) {
        buffers[b.idx as usize] = Some(BufferKpis {
            name: plant_model.buffers[b.idx as usize].name.clone(),
            level_mean: b.level.mean(now),
            level_max: b.level.max(),
        });
    }
    let p = world.resource::<PlantHot>();
    let orders = (!plant_model.orders.is_empty()).then(|| {
        let mut k = OrderKpis {
            orders: plant_model.orders.len() as u64,
            completed: 0,
            on_time: 0,
            mean_tardiness_s: 0.0,
            max_tardiness_s: 0.0,
            weighted_tardiness_s: 0.0,
            open_past_due: 0,
        };
        let mut tard_sum = 0.0;
        for (o, pr) in plant_model.orders.iter().zip(&p.orders) {
            match pr.completed {
                Some(c) => {
                    k.completed += 1;
                    let tard = o.due.map_or(0.0, |d| (c - d.secs()).max(0.0));
                    if tard == 0.0 {
                        k.on_time += 1;
                    }
                    tard_sum += tard;
                    k.max_tardiness_s = k.max_tardiness_s.max(tard);
                    k.weighted_tardiness_s += o.priority as f64 * tard;
                }
                None => {
                    if o.due.is_some_and(|d| d.secs() < now) {
                        k.open_past_due += 1;
                    }
                }
            }
        }
        k.mean_tardiness_s = ratio(tard_sum, k.completed as f64);
        k
    });
    RunReport {
        replication,
        seed,
        observed_from_s: since,
        end_s: now,
        events,
        plant: PlantKpis {
            throughput_per_h: ratio(p.exits as f64 * 3600.0, span),
            parts_out: p.exits,
            parts_scrapped: p.scrapped,
            wip_mean: p.wip.mean(now),
            lead_time_mean_s: p.lead.mean(),
            lead_time_se_s: p.lead_batches.interval().map_or(0.0, |i| i.std_error),
            lead_time_p50_s: p.lead.quantile(0.5).unwrap_or(0.0),
            lead_time_p95_s: p.lead.quantile(0.95).unwrap_or(0.0),
            energy_kwh: energy_total,
        },
        stations: stations.into_iter().flatten().collect(),
        buffers: buffers.into_iter().flatten().collect(),
        orders,
        series: Vec::new(),
        policy,
    }
}

/// Every numeric KPI of a report as (dotted path, value), in report order
/// (`plant.throughput_per_h`, `stations.Lathe.utilization.busy`, ...). The time series is left out.
pub fn flatten_report(r: &RunReport) -> Vec<(String, f64)> {
    let mut flat = Vec::new();
    let v = serde_json::to_value(r).expect("reports serialize");
    for key in ["plant", "stations", "buffers", "orders", "policy"] {
        flatten(&v[key], key.to_string(), &mut flat);
    }
    flat
}

/// One KPI over replications: mean and 95% confidence half-width.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KpiStat {
    /// Dotted path of the KPI (`plant.throughput_per_h`, `stations.Lathe.oee`).
    pub kpi: String,
    /// Mean over replications.
    pub mean: f64,
    /// Half-width of the 95% Student-t interval (0 with one replication).
    pub ci95: f64,
}

/// Means and 95% confidence intervals of every numeric KPI over replications, in report order.
pub fn summarize(reports: &[RunReport]) -> Vec<KpiStat> {
    let mut paths: Vec<(String, Vec<f64>)> = Vec::new();
    for r in reports {
        for (i, (path, x)) in flatten_report(r).into_iter().enumerate() {
            match paths.get_mut(i) {
                Some((p, xs)) if *p == path => xs.push(x),
                _ => match paths.iter_mut().find(|(p, _)| *p == path) {
                    Some((_, xs)) => xs.push(x),
                    None => paths.push((path, vec![x])),
                },
            }
        }
    }
    paths
        .into_iter()
        .map(|(kpi, xs)| {
            let i = Interval::from_samples(&xs, 0.95).unwrap_or_default();
            KpiStat {
                kpi,
                mean: i.mean,
                ci95: i.half_width,
            }
        })
        .collect()
}

fn flatten(v: &serde_json::Value, prefix: String, out: &mut Vec<(String, f64)>) {
    use serde_json::Value;
    match v {
        Value::Number(n) => out.push((prefix, n.as_f64().unwrap_or(0.0))),
        Value::Object(m) => {
            for (k, x) in m {
                if k != "name" {
                    flatten(x, format!("{prefix}.{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let key = x
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| i.to_string(), str::to_string);
                flatten(x, format!("{prefix}.{key}"), out);
            }
        }
        _ => {}
    }
}
