//! # twinworks-scenarios: what-if studies
//!
//! A planner asks "what if we add a second mill, enlarge a buffer, or take this rush order?".
//! This crate answers with numbers one can defend:
//!
//! - [`study_file::load_study`] reads a study file: a base plant, run settings, and variants
//!   that override plant values by path (`station.Mill.capacity = 2`), add or remove elements,
//!   or inject events; every variant is validated into its own `PlantModel`;
//! - [`compare::run_study`] runs variants × replications in parallel (rayon) with common random
//!   numbers, to a fixed count, a target precision, or as many as ranking and selection needs;
//! - [`compare::compare`] gives per KPI and variant the mean with a 95% CI, the paired difference
//!   to the baseline with its CI, and the variance reduction the pairing achieved;
//! - [`dispatch`] compares dispatching policies on one plant as a study (`twin dispatch`);
//! - [`report`] writes the comparison as a table, Markdown, CSV, JSON and SVG charts.
//!
//! Results are identical for any number of threads.
//!
//! ## What this crate must not depend on
//! No async runtime, no GUI, no protocol crates; it drives the kernel only through the
//! `twinworks-twins` replication runner and never reaches into a running world.

pub mod compare;
pub mod dispatch;
pub mod report;
pub mod study_file;
pub mod variant;

pub use compare::{Selection, StudyRuns, VariantResult, compare, run_study};
pub use report::StudyReport;
pub use study_file::{Study, load_study};
