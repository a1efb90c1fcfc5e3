//! A tiny command line over the library.
//!
//! ```text
//! aps solve FILE [--time-limit 10s] [--threads N] [--seed S] [--iterations N]
//!                [--slots K] [--objective makespan|twt|lmax] [--due-factor F]
//!                [--out schedule.json]
//! aps milp FILE [--time-limit 60s]
//! aps bench DIR [--only ta01-ta50] [--time-limit 10s] [--threads 2] [--csv out.csv]
//! ```
//!
//! Every schedule printed or written has passed the independent checker.

use std::error::Error;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use twinworks_aps::bench::{BenchRow, NameFilter, load_instance, run_bench};
use twinworks_aps::milp::{MilpOptions, MilpOutcome, solve_milp};
use twinworks_aps::prelude::*;

type Res<T> = Result<T, Box<dyn Error>>;

fn parse_duration(s: &str) -> Res<Duration> {
    let (num, scale) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad duration '{s}', expected e.g. 10s, 500ms, 2m"))?;
    Ok(Duration::from_secs_f64(v * scale))
}

struct Args {
    positional: Vec<String>,
    flags: Vec<(String, String)>,
}

impl Args {
    fn parse(raw: impl Iterator<Item = String>) -> Res<Args> {
        let mut positional = Vec::new();
        let mut flags = Vec::new();
        let mut it = raw.peekable();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                flags.push((name.to_string(), v));
            } else {
                positional.push(a);
            }
        }
        Ok(Args { positional, flags })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn check_known(&self, known: &[&str]) -> Res<()> {
        for (n, _) in &self.flags {
            if !known.contains(&n.as_str()) {
                return Err(format!("unknown option --{n}; known: --{}", known.join(", --")).into());
            }
        }
        Ok(())
    }

    fn solve_options(&self) -> Res<SolveOptions> {
        let mut o = SolveOptions::default();
        if let Some(v) = self.get("threads") {
            o.threads = v.parse().map_err(|_| format!("bad --threads '{v}'"))?;
        }
        if let Some(v) = self.get("seed") {
            o.seed = v.parse().map_err(|_| format!("bad --seed '{v}'"))?;
        }
        if let Some(v) = self.get("slots") {
            o.slots = v.parse().map_err(|_| format!("bad --slots '{v}'"))?;
        }
        if let Some(v) = self.get("objective") {
            o.objective = v.parse()?;
        }
        match (self.get("time-limit"), self.get("iterations")) {
            (Some(_), Some(_)) => return Err("give either --time-limit or --iterations".into()),
            (Some(t), None) => o.budget = Budget::TimeLimit(parse_duration(t)?),
            (None, Some(n)) => o.budget = Budget::Iterations(n.parse().map_err(|_| format!("bad --iterations '{n}'"))?),
            (None, None) => {}
        }
        Ok(o)
    }
}

const USAGE: &str = "usage:\n  aps solve FILE [--time-limit 10s] [--threads N] [--seed S] [--iterations N] [--slots K] [--objective makespan|twt|lmax] [--due-factor F] [--out schedule.json]\n  aps milp FILE [--time-limit 60s]\n  aps bench DIR [--only ta01-ta50] [--time-limit 10s] [--threads 2] [--iterations N] [--seed S] [--csv out.csv]";

fn cmd_solve(args: &Args) -> Res<()> {
    args.check_known(&[
        "time-limit",
        "threads",
        "seed",
        "iterations",
        "slots",
        "objective",
        "out",
        "due-factor",
    ])?;
    let file = args.positional.get(1).ok_or(USAGE)?;
    let mut problem = load_instance(Path::new(file))?;
    if let Some(f) = args.get("due-factor") {
        let f: f64 = f.parse().map_err(|_| format!("bad --due-factor '{f}'"))?;
        add_due_dates(&mut problem, f);
    }
    let opts = args.solve_options()?;
    let r = solve(&problem, &opts)?;
    // `solve` already checked it; check again here so the CLI's promise does
    // not depend on a library detail.
    check(&problem, &r.schedule).map_err(|v| format!("infeasible schedule: {}", v[0]))?;
    println!(
        "{} {}={} lower_bound={} gap_to_lb={} optimal={} time_to_best_s={} iterations={} elapsed_s={:.3}",
        problem.name,
        r.objective,
        r.value,
        r.lower_bound,
        r.gap_to_lower_bound_percent
            .map_or("n/a".into(), |g| format!("{g:.2}%")),
        r.proven_optimal,
        r.time_to_best_s.map_or("n/a".into(), |t| format!("{t:.3}")),
        r.iterations,
        r.elapsed_s
    );
    if let Some(out) = args.get("out") {
        std::fs::write(out, serde_json::to_string_pretty(&r.schedule)?)?;
    }
    Ok(())
}

/// Benchmark files carry no due dates. For twt/lmax experiments this sets
/// the classical total-work-content due date `d_j = r_j + f · Σ p_j` (shortest
/// times) and the Singer–Pinedo weights: the first 20 % of jobs weigh 4, the
/// next 60 % weigh 2, the last 20 % weigh 1.
fn add_due_dates(problem: &mut Problem, f: f64) {
    let n = problem.jobs.len();
    for (j, job) in problem.jobs.iter_mut().enumerate() {
        let work: i64 = job.operations.iter().map(|o| o.min_duration()).sum();
        job.due = Some(job.release + (f * work as f64).floor() as i64);
        job.weight = if 5 * j < n {
            4
        } else if 5 * j < 4 * n {
            2
        } else {
            1
        };
    }
}

fn cmd_milp(args: &Args) -> Res<()> {
    args.check_known(&["time-limit"])?;
    let file = args.positional.get(1).ok_or(USAGE)?;
    let problem = load_instance(Path::new(file))?;
    let mut opts = MilpOptions::default();
    if let Some(t) = args.get("time-limit") {
        opts.time_limit_s = parse_duration(t)?.as_secs_f64();
    }
    let t0 = std::time::Instant::now();
    let out = solve_milp(&problem, &opts)?;
    let secs = t0.elapsed().as_secs_f64();
    match out {
        MilpOutcome::Optimal { makespan, schedule } => {
            check(&problem, &schedule).map_err(|v| format!("infeasible schedule: {}", v[0]))?;
            println!("{} milp optimal makespan={makespan} elapsed_s={secs:.2}", problem.name);
        }
        MilpOutcome::TimeLimit { best } => match best {
            Some((makespan, schedule)) => {
                check(&problem, &schedule).map_err(|v| format!("infeasible schedule: {}", v[0]))?;
                println!(
                    "{} milp time limit, best makespan={makespan} (not proven) elapsed_s={secs:.2}",
                    problem.name
                );
            }
            None => println!("{} milp time limit, no solution elapsed_s={secs:.2}", problem.name),
        },
        MilpOutcome::Infeasible => println!("{} milp infeasible elapsed_s={secs:.2}", problem.name),
        other => println!("{} milp outcome {other:?}", problem.name),
    }
    Ok(())
}

fn cmd_bench(args: &Args) -> Res<()> {
    args.check_known(&["only", "time-limit", "threads", "seed", "iterations", "slots", "csv"])?;
    let dir = args.positional.get(1).ok_or(USAGE)?;
    let filter = NameFilter::parse(args.get("only").unwrap_or(""))?;
    let opts = args.solve_options()?;
    let mut csv = match args.get("csv") {
        Some(p) => {
            let mut f = std::fs::File::create(p)?;
            writeln!(f, "{}", BenchRow::CSV_HEADER)?;
            Some(f)
        }
        None => None,
    };
    println!(
        "{:<8} {:>8} {:>10} {:>7} {:>8} {:>9}",
        "instance", "value", "best_known", "gap%", "lb", "t_best_s"
    );
    let mut failure: Option<String> = None;
    let rows = run_bench(Path::new(dir), &filter, &opts, |row, _| {
        let f = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |x| format!("{x:.d$}"));
        println!(
            "{:<8} {:>8} {:>10} {:>7} {:>8} {:>9}",
            row.instance,
            row.value,
            row.best_known.map_or("-".into(), |b| b.to_string()),
            f(row.gap_percent, 2),
            row.lower_bound,
            f(row.time_to_best_s, 2)
        );
        if let Some(c) = csv.as_mut()
            && let Err(e) = writeln!(c, "{}", row.csv())
        {
            failure.get_or_insert(e.to_string());
        }
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let gaps: Vec<f64> = rows.iter().filter_map(|r| r.gap_percent).collect();
    if !gaps.is_empty() {
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let max = gaps.iter().copied().fold(f64::MIN, f64::max);
        println!("instances={} mean_gap%={mean:.3} max_gap%={max:.3}", gaps.len());
    }
    Ok(())
}

fn main() {
    let run = || -> Res<()> {
        let args = Args::parse(std::env::args().skip(1))?;
        match args.positional.first().map(String::as_str) {
            Some("solve") => cmd_solve(&args),
            Some("milp") => cmd_milp(&args),
            Some("bench") => cmd_bench(&args),
            _ => Err(USAGE.into()),
        }
    };
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
