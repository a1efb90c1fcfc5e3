//! `twin schedule`: solve a job-shop / flexible job-shop instance, or benchmark a directory of
//! published instances against their best-known bounds.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use twinworks_aps::bench::{BenchRow, NameFilter, load_instance, run_bench};
use twinworks_aps::milp::{MilpOptions, MilpOutcome, solve_milp};
use twinworks_aps::plant_plan::{PlantPlanError, Split, plan_plant};
use twinworks_aps::prelude::*;
use twinworks_engine::parse_duration;

use crate::{EXIT_INPUT, EXIT_RUN};

#[derive(Args)]
pub struct ScheduleArgs {
    /// A plant file (.toml) whose orders to schedule, or an instance: Taillard / OR-Library
    /// (.txt), Brandimarte (.fjs), a serialized problem (.json).
    file: Option<PathBuf>,
    /// Benchmark every instance of this directory (with its bounds.csv) instead.
    #[arg(long, conflicts_with = "file")]
    bench: Option<PathBuf>,
    /// With --bench: only these instances, e.g. "ta01-ta50,ft06".
    #[arg(long, requires = "bench")]
    only: Option<String>,
    /// Wall-clock limit per instance ("10s", "2min").
    #[arg(long, conflicts_with = "iterations")]
    time_limit: Option<String>,
    /// An iteration budget instead of a time limit: reproducible for any thread count.
    #[arg(long)]
    iterations: Option<u64>,
    /// Worker threads of the portfolio.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed of the portfolio.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// makespan, twt (total weighted tardiness) or lmax (maximum lateness).
    #[arg(long, default_value = "makespan")]
    objective: String,
    /// Solve the exact MILP instead (classical job shops; pure-Rust microlp unless built with --features highs).
    #[arg(long, conflicts_with = "bench")]
    milp: bool,
    /// Write the schedule (JSON) here; for a plant file in the documented format
    /// (solvers/aps/schedule.schema.json).
    #[arg(long, conflicts_with = "bench")]
    out: Option<PathBuf>,
    /// With --bench: the rows as CSV; with a plant: the schedule as CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// With a plant file: replace its orders with the orders of this CSV.
    #[arg(long)]
    orders: Option<PathBuf>,
    /// With a plant file: one job per order ("lot", the default) or per unit ("unit").
    #[arg(long, default_value = "lot")]
    split: String,
    /// With a plant file: write an SVG Gantt chart here.
    #[arg(long)]
    gantt: Option<PathBuf>,
}

fn input_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_INPUT)
}

fn run_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_RUN)
}

pub fn run(args: ScheduleArgs) -> ExitCode {
    let mut opts = SolveOptions {
        threads: args.threads.max(1),
        seed: args.seed,
        ..SolveOptions::default()
    };
    match args.objective.parse() {
        Ok(o) => opts.objective = o,
        Err(e) => return input_error(format!("--objective: {e}")),
    }
    let time_limit = match &args.time_limit {
        Some(t) => match parse_duration(t) {
            Ok(d) if d.secs() > 0.0 => Some(Duration::from_secs_f64(d.secs())),
            Ok(_) => return input_error("--time-limit must be > 0"),
            Err(e) => return input_error(format!("--time-limit: {e}")),
        },
        None => None,
    };
    match (time_limit, args.iterations) {
        (Some(t), _) => opts.budget = Budget::TimeLimit(t),
        (None, Some(n)) => opts.budget = Budget::Iterations(n),
        (None, None) => opts.budget = Budget::TimeLimit(Duration::from_secs(10)),
    }
    if let Some(dir) = &args.bench {
        return bench(dir, args.only.as_deref().unwrap_or(""), &opts, args.csv.as_ref());
    }
    let Some(file) = &args.file else {
        return input_error("give an instance file or --bench DIR (see twin schedule --help)");
    };
    if file.extension().is_some_and(|e| e == "toml") {
        return schedule_plant(file, &args, &opts);
    }
    let problem = match load_instance(file) {
        Ok(p) => p,
        Err(e) => return input_error(e),
    };
    if args.milp {
        let limit = time_limit.map_or(60.0, |d| d.as_secs_f64());
        return match solve_milp(
            &problem,
            &MilpOptions {
                time_limit_s: limit,
                ..Default::default()
            },
        ) {
            Ok(MilpOutcome::Optimal { makespan, schedule }) => finish(
                &problem,
                &schedule,
                &format!("milp: proved optimal makespan {makespan}"),
                args.out.as_ref(),
            ),
            Ok(MilpOutcome::TimeLimit {
                best: Some((makespan, schedule)),
            }) => finish(
                &problem,
                &schedule,
                &format!("milp: time limit, best makespan {makespan} (not proven optimal)"),
                args.out.as_ref(),
            ),
            Ok(MilpOutcome::TimeLimit { best: None }) => {
                println!("{}: milp: time limit, no schedule found", problem.name);
                ExitCode::SUCCESS
            }
            Ok(MilpOutcome::Infeasible) => {
                println!("{}: milp: infeasible", problem.name);
                ExitCode::SUCCESS
            }
            Ok(other) => {
                println!("{}: milp: {other:?}", problem.name);
                ExitCode::SUCCESS
            }
            Err(e) => run_error(e),
        };
    }
    // The published bounds, when the instance's directory has a bounds.csv that knows it
    // (makespan only): the gap to the best known value says far more than the gap to the
    // simple job and machine bound.
    let known = if opts.objective == Objective::Makespan {
        match twinworks_aps::bench::bounds_beside(file.parent().unwrap_or(std::path::Path::new("."))) {
            Ok(b) => b.get(&problem.name).copied(),
            Err(e) => return input_error(e),
        }
    } else {
        None
    };
    match solve(&problem, &opts) {
        Ok(r) => {
            let pct = |g: Option<f64>| g.map_or("n/a".into(), |g| format!("{g:.2}%"));
            let bound = match known {
                Some(k) => format!(
                    "best known {} (gap {}), proven lower bound {} (gap {})",
                    k.upper,
                    pct(gap_percent(r.value, k.upper)),
                    k.lower.max(r.lower_bound),
                    pct(gap_percent(r.value, k.lower.max(r.lower_bound)))
                ),
                None => format!(
                    "lower bound {} (job and machine bound; gap {})",
                    r.lower_bound,
                    pct(r.gap_to_lower_bound_percent)
                ),
            };
            let optimal = r.proven_optimal || known.is_some_and(|k| r.value <= k.lower);
            let summary = format!(
                "{} = {}   {bound}{}   time to best {}   {} iterations",
                r.objective,
                r.value,
                if optimal { " (optimal)" } else { "" },
                r.time_to_best_s.map_or("n/a".into(), |t| format!("{t:.2} s")),
                r.iterations
            );
            finish(&problem, &r.schedule, &summary, args.out.as_ref())
        }
        Err(e) => run_error(e),
    }
}

/// Checks the schedule with the independent checker, prints, and writes it.
fn finish(problem: &Problem, schedule: &Schedule, summary: &str, out: Option<&PathBuf>) -> ExitCode {
    if let Err(v) = check(problem, schedule) {
        return run_error(format!(
            "the solver returned an infeasible schedule ({} violations, first: {})",
            v.len(),
            v[0]
        ));
    }
    println!("{}: {summary}   (checked feasible)", problem.name);
    if let Some(path) = out {
        let text = match serde_json::to_string_pretty(schedule) {
            Ok(t) => t,
            Err(e) => return run_error(e),
        };
        if let Err(e) = std::fs::write(path, text + "\n") {
            return run_error(format!("writing {}: {e}", path.display()));
        }
        eprintln!("schedule written to {}", path.display());
    }
    ExitCode::SUCCESS
}

/// Schedules the orders of a plant file and writes the schedule as JSON, CSV and a Gantt chart.
fn schedule_plant(file: &std::path::Path, args: &ScheduleArgs, opts: &SolveOptions) -> ExitCode {
    let mut plant = match twinworks_twins::plant_file::load_plant(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    if let Some(csv) = &args.orders {
        let products: Vec<String> = plant.products.iter().map(|p| p.name.clone()).collect();
        match twinworks_twins::orders_csv::read_orders_csv(csv, &products, plant.start.as_ref()) {
            Ok(o) => plant.orders = o,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_INPUT);
            }
        }
    }
    let split = match args.split.as_str() {
        "lot" => Split::Lot,
        "unit" => Split::Unit,
        other => return input_error(format!("--split: '{other}' is not lot or unit")),
    };
    let doc = match plan_plant(&plant, split, opts) {
        Ok(d) => d,
        Err(PlantPlanError::Plan(e)) => return input_error(format!("{}: {e}", file.display())),
        Err(e) => return run_error(e),
    };
    // Order-level summary: completion of each job against its due date.
    let mut late = 0;
    let mut tardiness = 0;
    for (j, job) in doc.jobs.iter().enumerate() {
        let done = doc
            .operations
            .iter()
            .filter(|o| o.job == j)
            .map(|o| o.end)
            .max()
            .unwrap_or(0);
        if let Some(d) = job.due
            && done > d
        {
            late += 1;
            tardiness += done - d;
        }
    }
    let makespan = doc.operations.iter().map(|o| o.end).max().unwrap_or(0);
    println!(
        "{}: {} jobs ({} split) on {} machines   {} = {}   lower bound {}   makespan {:.2} h   late jobs {}   total tardiness {:.2} h   (checked feasible)",
        plant.name,
        doc.jobs.len(),
        args.split,
        doc.machines.len(),
        doc.objective,
        doc.value,
        doc.lower_bound,
        makespan as f64 / 3600.0,
        late,
        tardiness as f64 / 3600.0
    );
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    if let Some(out) = &args.out {
        let text = match serde_json::to_string_pretty(&doc) {
            Ok(t) => t + "\n",
            Err(e) => return run_error(e),
        };
        if let Err(e) = write(out, text) {
            return run_error(e);
        }
        eprintln!("schedule written to {}", out.display());
    }
    if let Some(csv) = &args.csv {
        if let Err(e) = write(csv, crate::gantt::schedule_csv(&doc)) {
            return run_error(e);
        }
        eprintln!("schedule CSV written to {}", csv.display());
    }
    if let Some(g) = &args.gantt {
        if let Err(e) = crate::gantt::gantt_svg(&doc, g) {
            return run_error(format!("writing {}: {e}", g.display()));
        }
        eprintln!("Gantt chart written to {}", g.display());
    }
    ExitCode::SUCCESS
}

fn bench(dir: &std::path::Path, only: &str, opts: &SolveOptions, csv: Option<&PathBuf>) -> ExitCode {
    let filter = match NameFilter::parse(only) {
        Ok(f) => f,
        Err(e) => return input_error(format!("--only: {e}")),
    };
    let mut csv_file = match csv {
        Some(p) => {
            match std::fs::File::create(p).and_then(|mut f| writeln!(f, "{}", BenchRow::CSV_HEADER).map(|_| f)) {
                Ok(f) => Some(f),
                Err(e) => return run_error(format!("{}: {e}", p.display())),
            }
        }
        None => None,
    };
    println!(
        "{:<8} {:>8} {:>10} {:>7} {:>8} {:>9}",
        "instance", "value", "best_known", "gap%", "lb", "t_best_s"
    );
    let mut io_error = None;
    let rows = run_bench(dir, &filter, opts, |row, _| {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.2}"));
        println!(
            "{:<8} {:>8} {:>10} {:>7} {:>8} {:>9}",
            row.instance,
            row.value,
            row.best_known.map_or("-".into(), |b| b.to_string()),
            f(row.gap_percent),
            row.lower_bound,
            f(row.time_to_best_s)
        );
        if let Some(file) = csv_file.as_mut()
            && let Err(e) = writeln!(file, "{}", row.csv())
        {
            io_error.get_or_insert(e);
        }
    });
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return run_error(e),
    };
    if let Some(e) = io_error {
        return run_error(format!("writing the CSV: {e}"));
    }
    let gaps: Vec<f64> = rows.iter().filter_map(|r| r.gap_percent).collect();
    if !gaps.is_empty() {
        println!(
            "mean gap to best known: {:.3}% over {} instances",
            gaps.iter().sum::<f64>() / gaps.len() as f64,
            gaps.len()
        );
    }
    ExitCode::SUCCESS
}
