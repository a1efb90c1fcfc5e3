//! `twin run`: simulate a plant file, print a KPI table or JSON.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use twinworks_aps::plant_plan::read_plant_schedule;
use twinworks_engine::parse_duration;
use twinworks_scenarios::dispatch::plan_policy;
use twinworks_twins::kpi::{KpiStat, RunReport, summarize};
use twinworks_twins::limits::{MAX_PARTS, MAX_REPLICATIONS};
use twinworks_twins::plant::{Horizon, Warmup};
use twinworks_twins::prelude::*;
use twinworks_twins::runner::{run_from_state, run_to_state};
use twinworks_twins::state::Streams;

use crate::{EXIT_INPUT, EXIT_RUN};

#[derive(Args)]
pub struct RunArgs {
    /// The plant file (TOML).
    file: PathBuf,
    /// Number of replications (overrides [run] replications).
    #[arg(long)]
    replications: Option<u32>,
    /// Worker threads for replications (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Base seed (overrides [run] seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Run length: a time ("30d", "8h") or a count of finished parts ("100000parts").
    #[arg(long)]
    horizon: Option<String>,
    /// Warm-up: a time or a count of finished parts ("1000parts"); "0" for none.
    #[arg(long)]
    warmup: Option<String>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Write the trace of replication 1 (one row per operation, setup, breakdown, off-shift).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// With --trace: also write every interval a server spends in one state (busy, setup,
    /// idle, blocked, down, off shift).
    #[arg(long, requires = "trace")]
    trace_states: bool,
    /// With --save-state: run to this simulated time ("2d", "36h") and save the state there.
    #[arg(long, requires = "save_state")]
    at: Option<String>,
    /// Save the complete state of the run at --at to this file (JSON; see docs/state.md).
    #[arg(long, requires = "at", conflicts_with_all = ["state", "replications", "trace"])]
    save_state: Option<PathBuf>,
    /// With --save-state: which replication to run (1-based; default 1).
    #[arg(long, requires = "save_state")]
    replication: Option<u32>,
    /// Continue a run from a state saved with --save-state, to the end of its horizon; the
    /// report equals the unbroken run's.
    #[arg(long, conflicts_with_all = ["replications", "seed", "warmup"])]
    state: Option<PathBuf>,
    /// Execute this plan (the schedule JSON `twin schedule` writes for this plant's orders):
    /// each server follows its planned sequence; prints plan adherence.
    #[arg(long, conflicts_with_all = ["state", "save_state"])]
    schedule: Option<PathBuf>,
    /// With --state: fork the state (fresh random streams keyed by this id, and every
    /// pre-drawn duration redrawn from its residual life) instead of continuing it.
    #[arg(long, requires = "state")]
    fork: Option<u64>,
}

enum Length {
    Time(twinworks_engine::SimTime),
    Parts(u64),
}

fn parse_length(text: &str, what: &str) -> Result<Length, String> {
    let t = text.trim();
    if let Some(n) = t.strip_suffix("parts").or_else(|| t.strip_suffix("part")) {
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--{what} '{text}': expected a whole number of parts, like 100000parts"))?;
        if n > MAX_PARTS {
            return Err(format!("--{what} '{text}': at most {MAX_PARTS} parts (the limit)"));
        }
        return Ok(Length::Parts(n));
    }
    let d = parse_duration(t).map_err(|e| format!("--{what} '{text}': {e}"))?;
    if d.secs() < 0.0 {
        return Err(format!("--{what} '{text}' must not be negative"));
    }
    Ok(Length::Time(d))
}

pub fn run(args: RunArgs) -> ExitCode {
    let plant = match load_plant(&args.file) {
        Ok(p) => p,
        Err(e) => {
            eprint!("{e}");
            eprintln!();
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let mut opts = RunOptions::from_plant(&plant);
    if let Some(r) = args.replications {
        if r == 0 || u64::from(r) > MAX_REPLICATIONS {
            eprintln!("error: --replications must be from 1 to {MAX_REPLICATIONS}, got {r}");
            return ExitCode::from(EXIT_INPUT);
        }
        opts.settings.replications = r;
    }
    if let Some(t) = args.threads {
        if t == 0 {
            eprintln!("error: --threads must be >= 1");
            return ExitCode::from(EXIT_INPUT);
        }
        opts.threads = Some(t);
    }
    if let Some(s) = args.seed {
        opts.settings.seed = s;
    }
    if let Some(h) = &args.horizon {
        match parse_length(h, "horizon") {
            Ok(Length::Time(t)) if t.secs() > 0.0 => opts.settings.horizon = Horizon::Time(t),
            Ok(Length::Parts(n)) if n > 0 => opts.settings.horizon = Horizon::Parts(n),
            Ok(_) => {
                eprintln!("error: --horizon must be > 0");
                return ExitCode::from(EXIT_INPUT);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_INPUT);
            }
        }
    }
    if let Some(w) = &args.warmup {
        opts.settings.warmup = match parse_length(w, "warmup") {
            Ok(Length::Time(t)) if t.secs() == 0.0 => Warmup::None,
            Ok(Length::Time(t)) => Warmup::Time(t),
            Ok(Length::Parts(0)) => Warmup::None,
            Ok(Length::Parts(n)) => Warmup::Parts(n),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_INPUT);
            }
        };
    }
    if let (Horizon::Time(h), Warmup::Time(w)) = (opts.settings.horizon, opts.settings.warmup)
        && w.secs() >= h.secs()
    {
        eprintln!("error: the warm-up ({w}) must be shorter than the horizon ({h})");
        return ExitCode::from(EXIT_INPUT);
    }
    opts.trace = args.trace.clone();
    opts.trace_states = args.trace_states;
    if let Some(path) = &args.schedule {
        let schedule = match std::fs::read_to_string(path)
            .map_err(|e| format!("error: {}: {e}", path.display()))
            .and_then(|text| read_plant_schedule(&text, path, &plant).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_INPUT);
            }
        };
        match plan_policy(&plant, &schedule) {
            Ok(p) => opts.policy = Some(p),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(EXIT_INPUT);
            }
        }
    }
    if let Some(path) = &args.save_state {
        return save_state(&plant, &opts, &args, path);
    }
    if let Some(path) = &args.state {
        return continue_state(&plant, &mut opts, &args, path);
    }

    let reps = opts.settings.replications.max(1) as usize;
    let bar = Progress::new(reps);
    let result = run_replications(&plant, &opts, &|r, f| bar.update(r as usize, f));
    bar.finish();
    let reports = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUN);
        }
    };
    print_reports(&plant, &args, &opts, reports)
}

/// Prints the reports as the KPI table or JSON.
fn print_reports(
    plant: &twinworks_twins::PlantModel,
    args: &RunArgs,
    opts: &RunOptions,
    reports: Vec<RunReport>,
) -> ExitCode {
    let summary = summarize(&reports);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let doc = json!({
            "plant": plant.name,
            "file": args.file.display().to_string(),
            "replications": reports.len(),
            "seed": opts.settings.seed,
            "summary": summary,
            "runs": reports,
        });
        serde_json::to_writer_pretty(&mut out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        write!(out, "{}", table(&plant.name, &reports, &summary))
    };
    if let Some(t) = &args.trace
        && !args.json
    {
        eprintln!("trace of replication 1 written to {}", t.display());
    }
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing output: {e}");
            ExitCode::from(EXIT_RUN)
        }
    }
}

/// `twin run PLANT --at T --save-state F [--replication R]`.
fn save_state(
    plant: &twinworks_twins::PlantModel,
    opts: &RunOptions,
    args: &RunArgs,
    path: &std::path::Path,
) -> ExitCode {
    let at = match args.at.as_deref().map(|a| parse_length(a, "at")) {
        Some(Ok(Length::Time(t))) => t,
        Some(Ok(Length::Parts(_))) => {
            eprintln!("error: --at takes a simulated time (\"2d\", \"36h\"), not a count of parts");
            return ExitCode::from(EXIT_INPUT);
        }
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
        None => unreachable!("clap requires --at with --save-state"),
    };
    let rep = match args.replication {
        Some(0) => {
            eprintln!("error: --replication counts from 1");
            return ExitCode::from(EXIT_INPUT);
        }
        Some(r) => r - 1,
        None => 0,
    };
    let cfg = std::sync::Arc::new(Compiled::new(plant.clone()));
    let state = match run_to_state(cfg, rep, &opts.settings, at) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUN);
        }
    };
    if let Err(e) = twinworks_twins::state::save(path, &state) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_RUN);
    }
    let parts: usize = state
        .buffers
        .iter()
        .map(|b| b.hot.queue.len() + b.hot.backlog.len())
        .sum::<usize>()
        + state
            .stations
            .iter()
            .flat_map(|s| &s.hot.servers)
            .filter(|v| v.part.is_some())
            .count();
    println!(
        "state of replication {} at t = {} saved to {} ({} pending events, {parts} parts on servers and in queues)",
        rep + 1,
        twinworks_engine::SimTime::from_secs(state.now),
        path.display(),
        state.calendar.len()
    );
    ExitCode::SUCCESS
}

/// `twin run PLANT --state F [--fork ID]`.
fn continue_state(
    plant: &twinworks_twins::PlantModel,
    opts: &mut RunOptions,
    args: &RunArgs,
    path: &std::path::Path,
) -> ExitCode {
    let state = match twinworks_twins::state::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let mut settings = match &state.run {
        Some(p) => p.settings(),
        None => opts.settings,
    };
    if args.horizon.is_some() {
        settings.horizon = opts.settings.horizon;
    }
    if let Horizon::Time(h) = settings.horizon
        && h.secs() <= state.now
    {
        eprintln!(
            "error: {}: the state is at t = {}, not before the horizon {h}",
            path.display(),
            twinworks_engine::SimTime::from_secs(state.now)
        );
        return ExitCode::from(EXIT_INPUT);
    }
    let streams = match args.fork {
        Some(f) => Streams::Rekey(f),
        None => Streams::Continue,
    };
    let cfg = std::sync::Arc::new(Compiled::new(plant.clone()));
    let trace = match &args.trace {
        Some(p) => match twinworks_twins::trace::TraceWriter::create(p, cfg.clone()) {
            Ok(t) => Some(Box::new(t.with_states(args.trace_states)) as Box<dyn twinworks_twins::trace::TraceSink>),
            Err(e) => {
                eprintln!("error: trace {}: {e}", p.display());
                return ExitCode::from(EXIT_RUN);
            }
        },
        None => None,
    };
    let report = match run_from_state(cfg, &state, streams, &settings, trace, &|_| {}) {
        Ok(r) => r,
        Err(e @ RunError::State(_)) => {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(EXIT_INPUT);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUN);
        }
    };
    opts.settings = settings;
    print_reports(plant, args, opts, vec![report])
}

/// A progress bar that only appears once the run has taken more than a second, and only on a
/// terminal.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
    fractions: Mutex<Vec<f64>>,
}

impl Progress {
    fn new(reps: usize) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(reps as u64 * 1000), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent}% ({msg})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("{reps} replication{}", if reps == 1 { "" } else { "s" }));
        Progress {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
            fractions: Mutex::new(vec![0.0; reps]),
        }
    }

    fn update(&self, rep: usize, fraction: f64) {
        if !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() > Duration::from_secs(1)
            && std::io::stderr().is_terminal()
        {
            self.shown.store(true, Ordering::Relaxed);
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        if let Ok(mut f) = self.fractions.lock() {
            if let Some(x) = f.get_mut(rep) {
                *x = fraction.clamp(0.0, 1.0);
            }
            let done: f64 = f.iter().sum();
            self.bar.set_position((done * 1000.0) as u64);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn stat<'a>(summary: &'a [KpiStat], kpi: &str) -> Option<&'a KpiStat> {
    summary.iter().find(|s| s.kpi == kpi)
}

fn fmt_stat(summary: &[KpiStat], kpi: &str, scale: f64, digits: usize) -> String {
    match stat(summary, kpi) {
        Some(s) if s.ci95 > 0.0 => format!("{:.*} ± {:.*}", digits, s.mean * scale, digits, s.ci95 * scale),
        Some(s) => format!("{:.*}", digits, s.mean * scale),
        None => "-".into(),
    }
}

/// The KPI table: plant figures with 95% CIs over replications, then one line per station.
fn table(name: &str, reports: &[RunReport], summary: &[KpiStat]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let r0 = &reports[0];
    let n = reports.len();
    let _ = writeln!(s, "plant: {name}");
    let _ = writeln!(
        s,
        "replications: {n}   observed: {:.1} h per replication (from t = {:.1} h){}",
        (r0.end_s - r0.observed_from_s) / 3600.0,
        r0.observed_from_s / 3600.0,
        if n > 1 {
            "   figures: mean ± 95% CI half-width"
        } else {
            ""
        }
    );
    let _ = writeln!(s);
    let rows = [
        ("throughput [parts/h]", "plant.throughput_per_h", 1.0, 3),
        ("parts out", "plant.parts_out", 1.0, 0),
        ("parts scrapped", "plant.parts_scrapped", 1.0, 0),
        ("WIP (time average)", "plant.wip_mean", 1.0, 3),
        ("lead time mean [min]", "plant.lead_time_mean_s", 1.0 / 60.0, 3),
        ("lead time p50 [min]", "plant.lead_time_p50_s", 1.0 / 60.0, 3),
        ("lead time p95 [min]", "plant.lead_time_p95_s", 1.0 / 60.0, 3),
        ("energy [kWh]", "plant.energy_kwh", 1.0, 1),
    ];
    for (label, kpi, scale, d) in rows {
        let _ = writeln!(s, "  {label:<24} {}", fmt_stat(summary, kpi, scale, d));
    }
    if r0.orders.is_some() {
        let _ = writeln!(s);
        for (label, kpi, scale, d) in [
            ("orders complete", "orders.completed", 1.0, 1),
            ("orders on time", "orders.on_time", 1.0, 1),
            ("mean tardiness [h]", "orders.mean_tardiness_s", 1.0 / 3600.0, 2),
            ("max tardiness [h]", "orders.max_tardiness_s", 1.0 / 3600.0, 2),
            ("weighted tardiness [h]", "orders.weighted_tardiness_s", 1.0 / 3600.0, 2),
            ("open past due", "orders.open_past_due", 1.0, 1),
        ] {
            let _ = writeln!(s, "  {label:<24} {}", fmt_stat(summary, kpi, scale, d));
        }
        let _ = writeln!(s, "  {:<24} {}", "orders", r0.orders.as_ref().map_or(0, |o| o.orders));
    }
    if !r0.policy.is_empty() {
        let _ = writeln!(s, "\n  plan adherence");
        for (label, kpi, scale, d) in [
            (
                "start deviation mean [h]",
                "policy.start_deviation_mean_s",
                1.0 / 3600.0,
                2,
            ),
            (
                "start deviation p95 [h]",
                "policy.start_deviation_p95_s",
                1.0 / 3600.0,
                2,
            ),
            (
                "completion deviation [h]",
                "policy.completion_deviation_mean_s",
                1.0 / 3600.0,
                2,
            ),
            (
                "planned w. tardiness [h]",
                "policy.planned_weighted_tardiness_s",
                1.0 / 3600.0,
                2,
            ),
            ("planned on time [%]", "policy.planned_on_time_pct", 1.0, 1),
            ("on time [%]", "policy.on_time_pct", 1.0, 1),
            ("reservation fallbacks", "policy.fallbacks", 1.0, 1),
            ("out-of-plan starts", "policy.out_of_plan_starts", 1.0, 1),
        ] {
            let _ = writeln!(s, "  {label:<24} {}", fmt_stat(summary, kpi, scale, d));
        }
        let _ = writeln!(
            s,
            "  (per order: planned vs realized completion and tardiness in --json, policy.order.*)"
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<14} {:>9} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9}",
        "station",
        "parts/h",
        "busy%",
        "setup%",
        "idle%",
        "blocked%",
        "down%",
        "off%",
        "avail",
        "perf",
        "qual",
        "OEE",
        "kWh"
    );
    for st in &r0.stations {
        let m = |k: &str| stat(summary, &format!("stations.{}.{k}", st.name)).map_or(0.0, |x| x.mean);
        let _ = writeln!(
            s,
            "  {:<14} {:>9.2} {:>6.1} {:>6.1} {:>6.1} {:>7.1} {:>6.1} {:>6.1} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>9.1}",
            truncate(&st.name, 14),
            m("throughput_per_h"),
            100.0 * m("utilization.busy"),
            100.0 * m("utilization.setup"),
            100.0 * m("utilization.idle"),
            100.0 * m("utilization.blocked"),
            100.0 * m("utilization.down"),
            100.0 * m("utilization.off_shift"),
            m("availability"),
            m("performance"),
            m("quality"),
            m("oee"),
            m("energy_kwh"),
        );
    }
    if n > 1 {
        let _ = writeln!(
            s,
            "\n  station figures are means over replications; --json gives every KPI with its CI"
        );
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}
