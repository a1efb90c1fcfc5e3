//! # twinworks-twins: the factory on the simulation kernel
//!
//! This crate owns the factory domain: the plant file format, the equipment and material-flow
//! behaviour on a bevy_ecs world, KPIs and traces.
//!
//! - [`plant_file::load_plant`] reads a TOML plant file into a validated [`PlantModel`]
//!   (errors name file, line, column and key, with the nearest valid name);
//! - [`sim::build_twin`] spawns the model into an ECS world and returns a runnable [`Twin`]
//!   (the kernel's [`Simulation`](twinworks_engine::Simulation) with the plant's handlers);
//! - [`runner::run_replications`] runs warm-up, horizon and replications in parallel;
//! - [`kpi`] defines and computes the KPIs (throughput, WIP, lead time, utilization by state,
//!   OEE, energy, order tardiness) and their confidence intervals over replications;
//! - [`trace`] streams one CSV row per operation, setup, breakdown and off-shift interval.
//!
//! ```no_run
//! use twinworks_twins::prelude::*;
//! let plant = load_plant(std::path::Path::new("scenarios/samples/mm1.toml")).unwrap();
//! let reports = run_replications(&plant, &RunOptions::from_plant(&plant), &|_, _| {}).unwrap();
//! println!("{:.2} parts/h", reports[0].plant.throughput_per_h);
//! ```
//!
//! ## What this crate must not depend on
//! It is synchronous and does no I/O except reading plant and order files and writing the trace
//! it is asked for: no async runtime, no protocol crates, no GUI. Solvers read a [`PlantModel`];
//! they never reach into the ECS world.

pub mod clock;
pub mod diagnostic;
pub mod dist_spec;
pub mod expr;
pub mod forecast;
pub mod kpi;
pub mod limits;
pub mod lookahead;
pub mod orders_csv;
pub mod plant;
pub mod plant_file;
pub mod rules;
pub mod runner;
pub mod sim;
pub mod snapshot;
pub mod state;
pub mod trace;

pub use diagnostic::{Diagnostic, LoadError};
pub use plant::PlantModel;
pub use sim::Twin;

/// The types most users need.
pub mod prelude {
    pub use crate::kpi::{KpiStat, RunReport, summarize};
    pub use crate::plant::{Horizon, PlantModel, RunSettings, Warmup};
    pub use crate::plant_file::{load_plant, parse_plant};
    pub use crate::runner::{RunError, RunOptions, run_replications};
    pub use crate::sim::{Compiled, Twin, build_twin};
    pub use crate::{Diagnostic, LoadError};
}
