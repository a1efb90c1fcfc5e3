//! `twin dispatch`: compare dispatching policies on a plant (or a study's base plant) over
//! replications with common random numbers, reported as a study.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use twinworks_scenarios::dispatch::{dispatch_study_timed, parse_policies, rank_on};

use crate::EXIT_INPUT;
use crate::study_cmd::{apply_overrides, report_study};

#[derive(Args)]
pub struct DispatchArgs {
    /// The plant file, or a study file (its base plant, replications, seed and KPIs are used).
    file: PathBuf,
    /// The policies to compare, the first being the baseline: rule names (`fifo`, `spt`, `lpt`,
    /// `edd`, `odd`, `cr`, `slack`, `s/opn`, `mwkr`, `lwkr`, `winq`, `atc`, `atcs`,
    /// `same_family`), with parameters as `atc(k=3)` or `atcs(k1=2,k2=0.5)`; `plan` (the APS
    /// plan, shifted right), `plan(lot)`, `plan+repair` and `plan+resolve` (rescheduled on the
    /// plant file's `[reschedule]` triggers).
    #[arg(long, default_value = "fifo,edd,atc,atcs")]
    policies: String,
    /// Replications per policy (overrides the file).
    #[arg(long)]
    replications: Option<u32>,
    /// Base seed (overrides the file).
    #[arg(long)]
    seed: Option<u64>,
    /// Select the policy with the least total weighted tardiness with 95% probability,
    /// ignoring differences below this many seconds (two-stage ranking and selection).
    #[arg(long)]
    select: Option<f64>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Write report.md, report.csv, report.json and SVG charts into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the JSON report instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DispatchArgs) -> ExitCode {
    let policies = match parse_policies(&args.policies) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let (mut study, latencies) = match dispatch_study_timed(&args.file, &policies) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    if let Err(code) = apply_overrides(&mut study, args.replications, args.seed) {
        return code;
    }
    if let Some(delta) = args.select {
        if !(delta.is_finite() && delta > 0.0) {
            eprintln!("error: --select must be a number of seconds > 0, got {delta}");
            return ExitCode::from(EXIT_INPUT);
        }
        study.ranking = Some(rank_on("orders.weighted_tardiness_s", delta, false));
    }
    let code = report_study(&study, args.threads, args.out.as_deref(), args.json);
    // Wall times are not results (they vary run to run): stderr, beside the report.
    for (label, log) in latencies {
        let mut ms = log.lock().map(|v| v.clone()).unwrap_or_default();
        if ms.is_empty() {
            continue;
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        eprintln!(
            "{label}: {} re-plans, solver wall time median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            ms.len(),
            at(0.5),
            at(0.95),
            ms[ms.len() - 1]
        );
    }
    code
}
