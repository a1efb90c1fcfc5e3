//! # twinworks-optimize — black-box optimization for the Twinworks twin
//!
//! This crate knows functions, not plants: it minimizes an [`Objective`]
//! `f(x) → Evaluation { value, noise_sd, constraints }` over a [`Problem`] (a
//! bound per variable, continuous or integer), where a point is feasible when
//! every constraint `g_i(x) <= 0`. Callers (a study in `twinworks-scenarios`,
//! a test) wrap a simulation run as the objective; nothing here touches the
//! ECS world or the event kernel.
//!
//! ```text
//!  Problem + Objective ──► bo::minimize ──► Outcome { history, trace, incumbent, recommended }
//!                          cmaes::minimize              │
//!                          random_search::minimize      └──► confirm(k) ──► mean ± 95% CI
//! ```
//!
//! ## The method ([`bo`])
//!
//! * Initial design: a randomized Latin hypercube of `max(2d + 1, 5)` points
//!   ([`design`]); it counts against the budget.
//! * Model ([`gp`]): a Gaussian process per output on inputs scaled to
//!   `[0, 1]^d`, outputs standardized; Matérn 5/2 kernel with one length
//!   scale per input (ARD); a fixed nugget `1e-6` for noise-free objectives, a
//!   learned noise variance when the objective reports `noise_sd > 0`.
//!   Hyperparameters maximize the marginal likelihood: bounded Nelder–Mead
//!   ([`nelder_mead`]) in log space from the previous fit, a default and one
//!   random start (three more on the first fit), Cholesky by nalgebra; length
//!   scales in `[0.01, 2]`, signal variance in `[0.05, 20]`, noise variance in
//!   `[1e-6, 1]` (unit-cube and standardized units).
//! * Acquisition ([`acquisition`]): expected improvement over the best
//!   observed feasible value — for noisy objectives over the lowest posterior
//!   mean at an evaluated point (the plug-in form of noisy EI) — times the
//!   probability of feasibility from an independent GP per constraint; while
//!   nothing is feasible, the probability of feasibility alone. For noisy
//!   objectives EI also carries the augmentation factor
//!   `1 − σ_n / √(s² + σ_n²)` (Huang et al., 2006), so that points the model
//!   already knows to within the noise are not resampled endlessly.
//! * Every third batch, its first point is the minimizer of the posterior
//!   mean instead (a greedy step: it puts evaluations where the model expects
//!   the optimum, which matters most for noisy objectives, whose incumbent
//!   must be an evaluated point; skipped for noise-free objectives when it
//!   would repeat an evaluated point).
//! * Its maximization: 2000 uniform candidates and 600 Gaussian perturbations
//!   of the incumbent (scales 0.2, 0.05, 0.01), the best four polished by
//!   Nelder–Mead. A batch of `q` points (default 1) comes from the kriging
//!   believer: each chosen point is added to the models at their own mean
//!   before the next is chosen.
//! * Incumbent: the best observed feasible point; for noisy objectives the
//!   evaluated feasible point with the lowest posterior mean. After the
//!   budget, the incumbent is polished on the posterior mean (Nelder–Mead in
//!   a box of half width 0.1, probability of feasibility ≥ 0.5) into
//!   [`Outcome::recommended`], and [`confirm()`] re-evaluates a point `k` times
//!   and reports mean ± 95% confidence interval.
//!
//! [`BoSettings::default`] is the one setting for every problem; the bench
//! does not tune per function or per seed.
//!
//! Baselines: [`random_search`] and [`cmaes`] (standard (μ/μ_w, λ) CMA-ES
//! with step-size adaptation, bounds by clipping repair).
//! [`test_functions`]: Branin, Hartmann6 and noisy Hartmann6 with their optima.
//!
//! ## Reproducibility contract
//!
//! The same seed gives the same history — the same points in the same order,
//! bit for bit — whatever the number of rayon threads. Batches are evaluated
//! in parallel but recorded in proposal order; parallel model fits and
//! candidate scoring collect in order and break ties by index; every random
//! decision comes from the crate's own generator ([`rng`], no `rand`), and a
//! stochastic objective draws its noise from the key the optimizer passes
//! with each evaluation (`mix(seed, evaluation index)`), never from the thread.
//!
//! ```
//! use twinworks_optimize::prelude::*;
//! let problem = Problem::continuous(&[(-2.0, 2.0)]).unwrap();
//! let f = |x: &[f64]| Evaluation::new((x[0] - 0.5).powi(2));
//! let out = bo::minimize(&problem, &f, 12, &BoSettings::default(), 1).unwrap();
//! assert_eq!(out.history.len(), 12);
//! let best = out.incumbent_record().unwrap();
//! assert!((best.x[0] - 0.5).abs() < 0.05);
//! ```
//!
//! ## The bench
//!
//! `cargo run --release -p twinworks-optimize --example bench` runs GP-BO,
//! random search and CMA-ES on Branin (budget 50), Hartmann6 (80) and noisy
//! Hartmann6 (sd 0.1, budget 150) for seeds 1..=5 and prints the median
//! number of evaluations until the incumbent's true value is within 1% of
//! the optimum, with wall times.
//!
//! Architecture invariants: no dependency on any other Twinworks crate;
//! external crates: nalgebra, rayon, thiserror (`tests/tidy.rs`); no RNG
//! crate; no wall clock (the bench example times itself, the library never).

pub mod acquisition;
pub mod bo;
pub mod cmaes;
pub mod confirm;
pub mod design;
pub mod evaluation;
pub mod gp;
pub mod nelder_mead;
pub mod problem;
pub mod random_search;
pub mod rng;
pub mod test_functions;

pub use bo::BoSettings;
pub use confirm::{Confirmation, confirm};
pub use evaluation::{Evaluation, History, IncumbentStep, Objective, Outcome, Record};
pub use problem::{Problem, ProblemError, Variable};

/// The types most callers need.
pub mod prelude {
    pub use crate::bo::{self, BoSettings};
    pub use crate::cmaes::{self, CmaSettings};
    pub use crate::confirm::{Confirmation, confirm};
    pub use crate::evaluation::{Evaluation, History, IncumbentStep, Objective, Outcome, Record};
    pub use crate::problem::{Problem, ProblemError, Variable};
    pub use crate::random_search;
}
