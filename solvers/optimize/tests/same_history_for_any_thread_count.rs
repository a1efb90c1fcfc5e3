//! Reproducibility: the same seed gives the identical history, and 1 and 2
//! rayon threads give the identical history (noisy objective, batches of 3).

use twinworks_optimize::prelude::*;
use twinworks_optimize::test_functions::{NoisyHartmann6, hartmann6_problem};

fn run(threads: usize, method: &str) -> Outcome {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let problem = hartmann6_problem();
    let f = NoisyHartmann6 { sd: 0.1 };
    pool.install(|| match method {
        "bo" => {
            let settings = BoSettings {
                batch_size: 3,
                ..BoSettings::default()
            };
            bo::minimize(&problem, &f, 22, &settings, 7)
        }
        "cma" => cmaes::minimize(&problem, &f, 40, &CmaSettings::default(), 7),
        _ => random_search::minimize(&problem, &f, 20, 7),
    })
    .unwrap()
}

#[test]
fn bo_history_is_identical_across_runs_and_thread_counts() {
    let a = run(1, "bo");
    let b = run(2, "bo");
    let c = run(2, "bo");
    assert_eq!(a.history.len(), 22);
    assert_eq!(a, b);
    assert_eq!(b, c);
    // The batches are what they say: design, then batches of 3.
    assert_eq!(a.history.records.last().unwrap().batch, 3);
}

#[test]
fn baselines_are_identical_across_thread_counts() {
    for method in ["cma", "random"] {
        assert_eq!(run(1, method), run(2, method), "{method}");
    }
}

#[test]
fn different_seeds_differ() {
    let problem = hartmann6_problem();
    let f = NoisyHartmann6 { sd: 0.1 };
    let a = random_search::minimize(&problem, &f, 5, 1).unwrap();
    let b = random_search::minimize(&problem, &f, 5, 2).unwrap();
    assert_ne!(a.history, b.history);
}
