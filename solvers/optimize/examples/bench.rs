//! The optimizer bench (issue 15, part 2): GP-BO, random search and CMA-ES on
//! Branin (budget 50), Hartmann6 (80) and Hartmann6 with noise sd 0.1 (150),
//! seeds 1..=5 fixed in advance. For each method and function it prints the
//! number of evaluations until the incumbent's true (noise-free) value is
//! within 1% of the optimum, `|f − f*| <= 0.01 |f*|`, per seed and as the
//! median of the five, and the wall time of each run.
//!
//! Run: `cargo run --release -p twinworks-optimize --example bench`.
//! The targets (median): Branin <= 25, Hartmann6 <= 40, noisy
//! Hartmann6 <= 100 evaluations.

use std::time::Instant;

use twinworks_optimize::prelude::*;
use twinworks_optimize::test_functions::{
    BRANIN_MIN, HARTMANN6_MIN, NoisyHartmann6, branin, branin_problem, hartmann6, hartmann6_problem,
};

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

struct Case<'a> {
    name: &'a str,
    problem: Problem,
    objective: &'a dyn Objective,
    truth: fn(&[f64]) -> f64,
    optimum: f64,
    budget: usize,
}

#[derive(Clone, Copy)]
enum Method {
    Bo { batch: usize },
    Random,
    Cma,
}

impl Method {
    fn label(self) -> String {
        match self {
            Method::Bo { batch } => format!("gp-bo (q={batch})"),
            Method::Random => "random search".into(),
            Method::Cma => "cma-es".into(),
        }
    }

    fn run(self, case: &Case, seed: u64) -> Outcome {
        let (p, f, b) = (&case.problem, case.objective, case.budget);
        match self {
            Method::Bo { batch } => {
                let settings = BoSettings {
                    batch_size: batch,
                    ..BoSettings::default()
                };
                bo::minimize(p, f, b, &settings, seed)
            }
            Method::Random => random_search::minimize(p, f, b, seed),
            Method::Cma => cmaes::minimize(p, f, b, &CmaSettings::default(), seed),
        }
        .expect("valid problem")
    }
}

/// The first evaluation count at which the incumbent's true value is within
/// 1% of the optimum.
fn evaluations_to_target(case: &Case, out: &Outcome) -> Option<usize> {
    out.trace.iter().find_map(|step| {
        let x = &out.history.records[step.index?].x;
        ((case.truth)(x) - case.optimum)
            .abs()
            .le(&(0.01 * case.optimum.abs()))
            .then_some(step.evaluations)
    })
}

fn main() {
    let branin_f = |x: &[f64]| Evaluation::new(branin(x));
    let hartmann_f = |x: &[f64]| Evaluation::new(hartmann6(x));
    let noisy = NoisyHartmann6 { sd: 0.1 };
    let cases = [
        Case {
            name: "branin",
            problem: branin_problem(),
            objective: &branin_f,
            truth: branin,
            optimum: BRANIN_MIN,
            budget: 50,
        },
        Case {
            name: "hartmann6",
            problem: hartmann6_problem(),
            objective: &hartmann_f,
            truth: hartmann6,
            optimum: HARTMANN6_MIN,
            budget: 80,
        },
        Case {
            name: "noisy hartmann6 (sd 0.1)",
            problem: hartmann6_problem(),
            objective: &noisy,
            truth: hartmann6,
            optimum: HARTMANN6_MIN,
            budget: 150,
        },
    ];
    let methods = [
        Method::Bo { batch: 1 },
        Method::Bo { batch: 4 },
        Method::Random,
        Method::Cma,
    ];
    println!("evaluations until |f_true(incumbent) - f*| <= 1% |f*|; seeds {SEEDS:?}; '-' = not reached");
    println!("rayon threads: {}", rayon::current_num_threads());
    println!();
    let mut summary = Vec::new();
    for case in &cases {
        println!(
            "== {} (d = {}, budget {}, f* = {})",
            case.name,
            case.problem.dim(),
            case.budget,
            case.optimum
        );
        for method in methods {
            let mut evals = Vec::new();
            let mut times = Vec::new();
            let mut finals = Vec::new();
            for seed in SEEDS {
                let start = Instant::now();
                let out = method.run(case, seed);
                times.push(start.elapsed().as_secs_f64());
                evals.push(evaluations_to_target(case, &out));
                let inc = out
                    .trace
                    .last()
                    .and_then(|s| s.index)
                    .map(|i| &out.history.records[i].x);
                finals.push(inc.map_or(f64::NAN, |x| (case.truth)(x)));
            }
            let mut sorted: Vec<usize> = evals.iter().map(|e| e.unwrap_or(usize::MAX)).collect();
            sorted.sort_unstable();
            let median = match sorted[SEEDS.len() / 2] {
                usize::MAX => "not reached".to_string(),
                m => m.to_string(),
            };
            let per_seed: Vec<String> = evals.iter().map(|e| e.map_or("-".into(), |v| v.to_string())).collect();
            let times_s: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
            let finals_s: Vec<String> = finals.iter().map(|v| format!("{v:.4}")).collect();
            println!(
                "  {:<15} median {:>11}   per seed [{}]   wall s [{}]   final true f [{}]",
                method.label(),
                median,
                per_seed.join(", "),
                times_s.join(", "),
                finals_s.join(", ")
            );
            summary.push((case.name, method.label(), median));
        }
        println!();
    }
    println!("summary (median evaluations to 1%):");
    for (case, method, median) in summary {
        println!("  {case:<26} {method:<15} {median}");
    }
}
