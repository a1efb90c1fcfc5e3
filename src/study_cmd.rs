//! `twin study`: run a what-if study and print (and optionally write) its comparison.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use twinworks_scenarios::study_file::{Replications, Study};
use twinworks_scenarios::{StudyReport, compare, load_study, run_study};

use crate::{EXIT_INPUT, EXIT_RUN};

#[derive(Args)]
pub struct StudyArgs {
    /// The study file (TOML).
    file: PathBuf,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Replications per variant (overrides the study file).
    #[arg(long)]
    replications: Option<u32>,
    /// Base seed (overrides the study file).
    #[arg(long)]
    seed: Option<u64>,
    /// Write report.md, report.csv, report.json and SVG charts into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the JSON report instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: StudyArgs) -> ExitCode {
    let mut study = match load_study(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    if let Err(code) = apply_overrides(&mut study, args.replications, args.seed) {
        return code;
    }
    report_study(&study, args.threads, args.out.as_deref(), args.json)
}

/// The command line's `--replications` and `--seed` over the study's own.
pub fn apply_overrides(study: &mut Study, replications: Option<u32>, seed: Option<u64>) -> Result<(), ExitCode> {
    if let Some(n) = replications {
        if n < 2 {
            eprintln!("error: --replications must be >= 2 for confidence intervals");
            return Err(ExitCode::from(EXIT_INPUT));
        }
        study.replications = Replications::Fixed(n);
    }
    if let Some(s) = seed {
        study.seed = s;
    }
    Ok(())
}

/// Runs `study` on `threads` workers and prints its comparison (a table, or JSON), writing the
/// report files into `out` if given. Shared by `twin study` and `twin dispatch`.
pub fn report_study(study: &Study, threads: Option<usize>, out: Option<&Path>, json: bool) -> ExitCode {
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot start worker threads: {e}");
            return ExitCode::from(EXIT_RUN);
        }
    };
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} runs")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let started = Instant::now();
    let done = AtomicUsize::new(0);
    let result = pool.install(|| {
        run_study(study, &|n| {
            done.fetch_add(n, Ordering::Relaxed);
            if started.elapsed() > Duration::from_secs(1)
                && bar.is_hidden()
                && std::io::IsTerminal::is_terminal(&std::io::stderr())
            {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(done.load(Ordering::Relaxed) as u64);
        })
    });
    bar.finish_and_clear();
    let (runs, selection) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUN);
        }
    };
    let names: Vec<String> = study.variants.iter().map(|v| v.name.clone()).collect();
    let report = StudyReport::new(study, &runs, compare(&names, &runs), selection);
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_RUN);
            }
        }
    } else {
        println!(
            "study: {}  (plant {}, seed {}, common random numbers: {})",
            report.study,
            report.plant,
            report.seed,
            if report.crn { "yes" } else { "no" }
        );
        print!("{}", report.table(false));
    }
    if let Some(dir) = out {
        match report.write(dir) {
            Ok(files) => eprintln!("wrote {} files to {}", files.len(), dir.display()),
            Err(e) => {
                eprintln!("error: writing the report to {}: {e}", dir.display());
                return ExitCode::from(EXIT_RUN);
            }
        }
    }
    ExitCode::SUCCESS
}
