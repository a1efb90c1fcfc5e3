//! `twin forecast`: each open order's chance to be on time, from forks of the present state
//! (a simulated run at `--at T`, or a state file saved with `twin run --save-state`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use twinworks_engine::{SimTime, parse_duration};
use twinworks_twins::forecast::{Forecast, forecast};
use twinworks_twins::prelude::*;
use twinworks_twins::runner::run_to_state;

use crate::{EXIT_INPUT, EXIT_RUN};

#[derive(Args)]
pub struct ForecastArgs {
    /// The plant file.
    plant: PathBuf,
    /// The present: a simulated run of the plant up to this time ("2d", "36h").
    #[arg(long, conflicts_with = "state", required_unless_present = "state")]
    at: Option<String>,
    /// With --at: which replication of the run is the present (1-based; default 1).
    #[arg(long, requires = "at")]
    replication: Option<u32>,
    /// The present: a state saved with `twin run --at T --save-state F`.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Forks (futures of the present).
    #[arg(long, default_value_t = 100)]
    replications: u32,
    /// How far each fork runs ("7d").
    #[arg(long, default_value = "7d")]
    horizon: String,
    /// Seed of the forks' random streams.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Print the JSON forecast instead of the tables.
    #[arg(long)]
    json: bool,
    /// Write an SVG of each open order's completion distribution (p10–p90, median, due).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Orders shown in the table (most at risk first).
    #[arg(long, default_value_t = 20)]
    top: usize,
}

fn input_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_INPUT)
}

pub fn run(args: ForecastArgs) -> ExitCode {
    let plant = match load_plant(&args.plant) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let horizon = match parse_duration(&args.horizon) {
        Ok(h) if h.secs() > 0.0 => h,
        Ok(_) => return input_error(format!("--horizon '{}' must be > 0", args.horizon)),
        Err(e) => return input_error(format!("--horizon '{}': {e}", args.horizon)),
    };
    if args.replications == 0 || u64::from(args.replications) > twinworks_twins::limits::MAX_REPLICATIONS {
        return input_error(format!(
            "--replications must be in 1..={}, got {}",
            twinworks_twins::limits::MAX_REPLICATIONS,
            args.replications
        ));
    }
    let cfg = Arc::new(Compiled::new(plant.clone()));
    let state = if let Some(path) = &args.state {
        match twinworks_twins::state::load(path) {
            Ok(s) if s.plant != plant.name => {
                return input_error(format!(
                    "{}: the state is of plant '{}', not '{}' ({})",
                    path.display(),
                    s.plant,
                    plant.name,
                    args.plant.display()
                ));
            }
            Ok(s) => s,
            Err(e) => return input_error(e),
        }
    } else {
        let text = args.at.as_deref().unwrap_or_default();
        let at = match parse_duration(text) {
            Ok(t) => t,
            Err(e) => return input_error(format!("--at '{text}': {e}")),
        };
        let rep = match args.replication {
            Some(0) => return input_error("--replication counts from 1"),
            Some(r) => r - 1,
            None => 0,
        };
        let settings = RunOptions::from_plant(&plant).settings;
        match run_to_state(cfg.clone(), rep, &settings, at) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_RUN);
            }
        }
    };
    let bar = indicatif::ProgressBar::new(u64::from(args.replications));
    bar.set_style(
        indicatif::ProgressStyle::with_template("forecast {bar:40} {pos}/{len} forks {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let tick = || bar.inc(1);
    let run = || forecast(&cfg, &state, args.replications, horizon.secs(), args.seed, &tick);
    let result = match args.threads {
        Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build() {
            Ok(pool) => pool.install(run),
            Err(e) => {
                eprintln!("error: cannot start {n} worker threads: {e}");
                return ExitCode::from(EXIT_RUN);
            }
        },
        None => run(),
    };
    bar.finish_and_clear();
    let f = match result {
        Ok(f) => f,
        Err(e) => return input_error(format!("the state does not fit {}: {e}", args.plant.display())),
    };
    if let Some(path) = &args.svg {
        let tmp = path.with_extension("svg.partial");
        if let Err(e) = std::fs::write(&tmp, svg(&f)).and_then(|_| std::fs::rename(&tmp, path)) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(EXIT_RUN);
        }
    }
    let text = if args.json {
        match serde_json::to_string_pretty(&f) {
            Ok(j) => j + "\n",
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_RUN);
            }
        }
    } else {
        table(&f, args.top)
    };
    // A closed pipe (`| head`) is not an error of ours.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    ExitCode::SUCCESS
}

fn t(s: Option<f64>) -> String {
    s.map_or_else(|| "beyond".into(), |x| SimTime::from_secs(x).to_string())
}

/// The tables: orders most at risk first, then stations.
fn table(f: &Forecast, top: usize) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "forecast of plant '{}' at t = {}, {} forks over {} (seed {}): {} open orders",
        f.plant,
        SimTime::from_secs(f.at_s),
        f.replications,
        SimTime::from_secs(f.horizon_s),
        f.seed,
        f.orders.len()
    );
    let _ = writeln!(
        o,
        "{:<14}{:>10}{:>9}{:>17}{:>10}{:>10}{:>10}{:>8}  waits longest at",
        "order", "due", "P(on t)", "95% CI", "p10", "median", "p90", "beyond"
    );
    for x in f.orders.iter().take(top) {
        let _ = writeln!(
            o,
            "{:<14}{:>10}{:>9.2}{:>17}{:>10}{:>10}{:>10}{:>7.0}%  {}{}",
            x.order,
            t(x.due_s),
            x.p_on_time,
            format!("[{:.2}, {:.2}]", x.p_on_time_ci95.0, x.p_on_time_ci95.1),
            t(x.completion_p10_s),
            t(x.completion_p50_s),
            t(x.completion_p90_s),
            100.0 * x.p_beyond_horizon,
            x.longest_wait_station.as_deref().unwrap_or("-"),
            if x.released { "" } else { " (not yet released)" }
        );
    }
    if f.orders.len() > top {
        let _ = writeln!(o, "... {} more (--top N, or --json)", f.orders.len() - top);
    }
    let _ = writeln!(o, "\n{:<14}{:>12}{:>12}", "station", "utilization", "queue");
    for s in &f.stations {
        let _ = writeln!(
            o,
            "{:<14}{:>11.1}%{:>12.2}",
            s.station,
            100.0 * s.utilization,
            s.queue_mean
        );
    }
    o
}

/// One row per open order (most at risk on top): its p10–p90 completion as a bar, the median
/// as a tick, its due date as a red mark; time from the present to the horizon's end.
fn svg(f: &Forecast) -> String {
    let rows = f.orders.len().max(1);
    let (left, width, row_h) = (120.0, 720.0, 16.0);
    let height = 40.0 + row_h * rows as f64;
    let (t0, t1) = (f.at_s, f.at_s + f.horizon_s);
    let x = |t: f64| left + width * ((t - t0) / (t1 - t0)).clamp(0.0, 1.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="11">"#,
        left + width + 20.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="14">completion per open order, p10–p90 (bar), median (tick), due (red); {} to {}</text>"#,
        SimTime::from_secs(t0),
        SimTime::from_secs(t1)
    );
    for (i, o) in f.orders.iter().enumerate() {
        let y = 30.0 + row_h * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="4" y="{}">{} {:.2}</text>"#,
            y + 11.0,
            o.order,
            o.p_on_time
        );
        let lo = o.completion_p10_s.unwrap_or(t1);
        let hi = o.completion_p90_s.unwrap_or(t1);
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="10" fill="#7aa6d8"/>"##,
            x(lo),
            y + 2.0,
            (x(hi) - x(lo)).max(1.0)
        );
        if let Some(m) = o.completion_p50_s {
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#123" stroke-width="2"/>"##,
                x(m),
                y,
                y + 14.0
            );
        }
        if let Some(d) = o.due_s {
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#c00" stroke-width="2"/>"##,
                x(d),
                y,
                y + 14.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
