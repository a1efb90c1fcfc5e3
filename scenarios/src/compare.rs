//! Running a study and comparing its variants.
//!
//! **Runner.** Every (variant, replication) cell is one run of the kernel's replication runner,
//! all cells in parallel on rayon and collected in order, so the results do not depend on the
//! number of threads. With common random numbers (the default) replication r of every variant
//! uses the same seed, so the streams keyed by (seed, element name, purpose) are the same for
//! the elements the variants share; without, each variant gets seeds of its own.
//!
//! **Statistics.** Per variant and KPI: the mean over replications with a 95% Student-t
//! interval. Per variant and KPI: the paired difference to the baseline, replication by
//! replication, with its 95% interval, and the variance reduction the pairing achieved:
//! `(s²_variant + s²_baseline) / s²_difference` — the factor by which independent sampling
//! would have needed more replications for the same precision (1 means no gain).
//!
//! **Ranking and selection.** A two-stage procedure with Bonferroni-corrected paired
//! differences, valid with common random numbers (Clark & Yang 1986; procedure NM-B of Nelson
//! & Matejcik 1995): run `n0` first-stage replications of all k variants; for every pair (i, l)
//! take the sample variance S²_il of X_i − X_l; with t = t(1 − (1 − PCS)/(k − 1), n0 − 1) run all
//! variants to N = max(n0, ⌈max S²_il · t² / δ²⌉) replications and select the best sample mean.
//! Under normality this selects a variant within δ of the best with probability ≥ PCS.

use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;
use twinworks_engine::{Interval, student_t_quantile};
use twinworks_twins::kpi::{RunReport, flatten_report};
use twinworks_twins::prelude::*;
use twinworks_twins::runner::run_replication_with;
use twinworks_twins::sim::{Command, commands_between};

use crate::study_file::{Replications, Study};

/// All replications of all variants.
pub struct StudyRuns {
    /// Per variant (baseline first), its reports in replication order.
    pub reports: Vec<Vec<RunReport>>,
}

/// The seed base of variant `v`: the study seed with CRN, else one of its own.
fn variant_seed(seed: u64, v: usize, crn: bool) -> u64 {
    if crn || v == 0 {
        seed
    } else {
        seed ^ (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
    }
}

/// Runs replications `from..to` of every variant, in parallel, in a deterministic order.
fn run_cells(
    study: &Study,
    cfgs: &[(Arc<Compiled>, Vec<Command>)],
    from: u32,
    to: u32,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Vec<RunReport>>, RunError> {
    let cells: Vec<(usize, u32)> = (0..cfgs.len()).flat_map(|v| (from..to).map(move |r| (v, r))).collect();
    let results: Vec<RunReport> = cells
        .par_iter()
        .map(|&(v, r)| {
            let mut settings = study.variants[v].plant.run;
            settings.seed = variant_seed(study.seed, v, study.crn);
            let (cfg, commands) = &cfgs[v];
            let rep = run_replication_with(cfg.clone(), r, &settings, commands, None, &|_| {});
            progress(1);
            rep
        })
        .collect::<Result<_, _>>()?;
    let mut out: Vec<Vec<RunReport>> = vec![Vec::new(); cfgs.len()];
    for ((v, _), rep) in cells.into_iter().zip(results) {
        out[v].push(rep);
    }
    Ok(out)
}

/// The values of `kpi` over the replications of one variant.
pub fn values(reports: &[RunReport], kpi: &str) -> Vec<f64> {
    reports
        .iter()
        .map(|r| {
            flatten_report(r)
                .into_iter()
                .find(|(k, _)| k == kpi)
                .map_or(f64::NAN, |(_, x)| x)
        })
        .collect()
}

/// What the ranking procedure decided.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Selection {
    /// The KPI ranked on.
    pub kpi: String,
    /// Whether larger is better.
    pub maximize: bool,
    /// Required probability of correct selection.
    pub pcs: f64,
    /// Indifference zone.
    pub indifference: f64,
    /// First-stage replications.
    pub first_stage: u32,
    /// Replications the procedure asked for.
    pub required: u32,
    /// Replications actually run (fewer than required only if capped).
    pub used: u32,
    /// The selected variant.
    pub best: String,
    /// Whether the PCS guarantee holds (false if the replications were capped).
    pub guaranteed: bool,
}

/// Most replications the ranking procedure may ask for per variant.
pub const MAX_RANKING_REPLICATIONS: u32 = 2_000;

/// Runs the study: replications as the study asks (fixed, to a target precision, and as many
/// as the ranking procedure needs). `progress(n)` counts finished runs.
pub fn run_study(study: &Study, progress: &(dyn Fn(usize) + Sync)) -> Result<(StudyRuns, Option<Selection>), RunError> {
    // A variant that only changes values commands set runs as commands on twins of the base
    // plant (no re-parse, no compile per variant); any other gets its own compiled plant, and
    // one with a policy of its own (plan execution) gets it installed there.
    let base = &study.variants[0].plant;
    let base_cfg = Arc::new(Compiled::new(base.clone()));
    let cfgs: Vec<(Arc<Compiled>, Vec<Command>)> = study
        .variants
        .iter()
        .map(|v| match (&v.policy, commands_between(base, &v.plant)) {
            (Some(p), _) => (
                Arc::new(Compiled::new(v.plant.clone()).with_policy(p.0.clone())),
                Vec::new(),
            ),
            (None, Some(commands)) => (base_cfg.clone(), commands),
            (None, None) => (Arc::new(Compiled::new(v.plant.clone())), Vec::new()),
        })
        .collect();
    let mut reports = match &study.replications {
        Replications::Fixed(n) => run_cells(study, &cfgs, 0, *n, progress)?,
        Replications::Target {
            kpi,
            half_width,
            initial,
            max,
        } => {
            let mut reps = run_cells(study, &cfgs, 0, *initial, progress)?;
            loop {
                let n = reps[0].len() as u32;
                // The widest interval decides; the next round aims at it with the usual
                // n · (h / target)² rule, at least one more replication, at most `max`.
                let worst = reps
                    .iter()
                    .filter_map(|r| Interval::from_samples(&values(r, kpi), 0.95))
                    .map(|i| i.half_width)
                    .fold(0.0f64, f64::max);
                if worst <= *half_width || n >= *max {
                    break;
                }
                let want = ((n as f64) * (worst / half_width).powi(2)).ceil() as u32;
                let next = want.clamp(n + 1, *max);
                let more = run_cells(study, &cfgs, n, next, progress)?;
                for (r, m) in reps.iter_mut().zip(more) {
                    r.extend(m);
                }
            }
            reps
        }
    };
    let mut selection = None;
    if let Some(rk) = &study.ranking {
        let n = reports[0].len() as u32;
        if n < rk.first_stage {
            let more = run_cells(study, &cfgs, n, rk.first_stage, progress)?;
            for (r, m) in reports.iter_mut().zip(more) {
                r.extend(m);
            }
        }
        let n0 = rk.first_stage as usize;
        let k = reports.len();
        let first: Vec<Vec<f64>> = reports.iter().map(|r| values(&r[..n0], &rk.kpi)).collect();
        let t = student_t_quantile(1.0 - (1.0 - rk.pcs) / (k - 1) as f64, (n0 - 1) as u32);
        let mut max_var = 0.0f64;
        for i in 0..k {
            for l in i + 1..k {
                let d: Vec<f64> = first[i].iter().zip(&first[l]).map(|(a, b)| a - b).collect();
                let mut tally = twinworks_engine::Tally::new();
                d.iter().for_each(|x| tally.record(*x));
                max_var = max_var.max(tally.variance());
            }
        }
        let required = ((max_var * t * t / (rk.indifference * rk.indifference)).ceil() as u32).max(rk.first_stage);
        let used = required.min(MAX_RANKING_REPLICATIONS);
        let n = reports[0].len() as u32;
        if n < used {
            let more = run_cells(study, &cfgs, n, used, progress)?;
            for (r, m) in reports.iter_mut().zip(more) {
                r.extend(m);
            }
        }
        // Select on the first `used` replications of every variant (all have at least that many).
        let means: Vec<f64> = reports
            .iter()
            .map(|r| {
                let xs = values(&r[..used as usize], &rk.kpi);
                xs.iter().sum::<f64>() / xs.len() as f64
            })
            .collect();
        let mut best = 0;
        for (i, m) in means.iter().enumerate() {
            let better = if rk.maximize {
                *m > means[best]
            } else {
                *m < means[best]
            };
            if better {
                best = i;
            }
        }
        selection = Some(Selection {
            kpi: rk.kpi.clone(),
            maximize: rk.maximize,
            pcs: rk.pcs,
            indifference: rk.indifference,
            first_stage: rk.first_stage,
            required,
            used,
            best: study.variants[best].name.clone(),
            guaranteed: used >= required,
        });
    }
    Ok((StudyRuns { reports }, selection))
}

/// A KPI of one variant over its replications.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KpiEstimate {
    /// Dotted KPI path.
    pub kpi: String,
    /// Mean over replications.
    pub mean: f64,
    /// 95% CI half-width.
    pub ci95: f64,
    /// Replications.
    pub n: u64,
}

/// A variant's paired difference to the baseline for one KPI.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Difference {
    /// Dotted KPI path.
    pub kpi: String,
    /// Mean of (variant − baseline) over paired replications.
    pub mean: f64,
    /// 95% CI half-width of the difference.
    pub ci95: f64,
    /// (s²_variant + s²_baseline) / s²_difference; NaN when the difference has no spread.
    pub variance_reduction: f64,
}

/// One variant's results.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VariantResult {
    /// Variant name.
    pub name: String,
    /// Replications run.
    pub replications: u64,
    /// Every KPI with its CI.
    pub kpis: Vec<KpiEstimate>,
    /// Paired differences to the baseline (empty for the baseline itself).
    pub vs_baseline: Vec<Difference>,
}

/// Summarizes every variant: estimates and paired differences for every KPI they share.
pub fn compare(names: &[String], runs: &StudyRuns) -> Vec<VariantResult> {
    let flat: Vec<Vec<Vec<(String, f64)>>> = runs
        .reports
        .iter()
        .map(|reps| reps.par_iter().map(flatten_report).collect())
        .collect();
    // Reports of one plant list their KPIs in the same order, so a KPI is found by position;
    // the name check guards the assumption and falls back to a search.
    let column = |v: usize, i: usize, kpi: &str| -> Vec<f64> {
        flat[v]
            .iter()
            .map(|f| match f.get(i) {
                Some((k, x)) if k == kpi => *x,
                _ => f.iter().find(|(k, _)| k == kpi).map_or(f64::NAN, |(_, x)| *x),
            })
            .collect()
    };
    let base_index: std::collections::HashMap<&str, usize> =
        flat.first().and_then(|r| r.first()).map_or_else(Default::default, |f| {
            f.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect()
        });
    let mut out = Vec::new();
    for v in 0..flat.len() {
        let Some(first) = flat[v].first() else { continue };
        let mut kpis = Vec::new();
        let mut diffs = Vec::new();
        for (i, (kpi, _)) in first.iter().enumerate() {
            let xs = column(v, i, kpi);
            let Some(est) = Interval::from_samples(&xs, 0.95) else {
                continue;
            };
            kpis.push(KpiEstimate {
                kpi: kpi.clone(),
                mean: est.mean,
                ci95: est.half_width,
                n: est.n,
            });
            let Some(&bi) = base_index.get(kpi.as_str()) else {
                continue;
            };
            if v == 0 {
                continue;
            }
            let base = column(0, bi, kpi);
            let n = xs.len().min(base.len());
            let d: Vec<f64> = (0..n).map(|r| xs[r] - base[r]).collect();
            let Some(di) = Interval::from_samples(&d, 0.95) else {
                continue;
            };
            let var = |s: &[f64]| Interval::from_samples(s, 0.95).map_or(0.0, |i| i.std_error.powi(2) * s.len() as f64);
            let sd2 = var(&d);
            let vr = if sd2 > 0.0 {
                (var(&xs[..n]) + var(&base[..n])) / sd2
            } else {
                f64::NAN
            };
            diffs.push(Difference {
                kpi: kpi.clone(),
                mean: di.mean,
                ci95: di.half_width,
                variance_reduction: vr,
            });
        }
        out.push(VariantResult {
            name: names[v].clone(),
            replications: flat[v].len() as u64,
            kpis,
            vs_baseline: diffs,
        });
    }
    out
}
