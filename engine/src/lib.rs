//! # twinworks-engine: a domain-free discrete-event simulation kernel on bevy_ecs
//!
//! This crate owns *time* and *chance* for Twinworks, and nothing about factories:
//!
//! - [`SimTime`]: simulated time in seconds, and [`parse_duration`] for `"90s"`, `"8h"`, `"2d"`;
//! - [`Calendar`]: the event calendar, a 4-ary heap with deterministic FIFO tie-breaking;
//! - [`Kernel`] and [`Simulation`]: the clock, the calendar and run control (until a time, until
//!   the model asks to stop, a single step, while a condition holds);
//! - [`RngStream`] and [`Distribution`]: random streams keyed by (seed, stable name, purpose),
//!   which give common random numbers across variants of a model, and the distributions drawn
//!   from them;
//! - [`Tally`], [`TimeWeighted`], [`BatchMeans`], [`Interval`]: bounded-memory statistics.
//!
//! ```text
//!            ┌───────────── Simulation<M> ─────────────┐
//!            │  world: bevy_ecs::World  (model state)  │
//!            │  model: M  (handlers + immutable config)│
//!            │  kernel: clock, calendar, batch limits  │
//!            └─────────────────────────────────────────┘
//!   run_until(t) / step() / run_to_end()
//!        └─> M::run_batch(&mut world, &mut kernel)
//!               borrow queries once ─> while let Some(e) = kernel.next_event() { handle(e) }
//! ```
//!
//! ## Ordering guarantees
//! Events fire in increasing time; events at the same instant fire in the order they were
//! scheduled. Given the same seed and the same model, a run is bit-for-bit reproducible: the
//! kernel never reads the wall clock and has no unseeded randomness.
//!
//! ## What this crate must not depend on
//! No factory concepts, no file formats (serde), no async runtime, no GUI. The model state lives
//! in the ECS world; the kernel's own clock and calendar do not (a resource lookup per event
//! costs ~50 ns, measured in `shared/ECS_HOT_LOOP.md`).
//!
//! ```
//! use twinworks_engine::prelude::*;
//! assert_eq!(parse_duration("1.5h").unwrap(), SimTime::from_secs(5400.0));
//! let mut cal = Calendar::new();
//! cal.schedule(SimTime::from_secs(2.0), "b");
//! cal.schedule(SimTime::from_secs(1.0), "a");
//! assert_eq!(cal.pop().unwrap().event, "a");
//! ```

pub mod calendar;
pub mod kernel;
pub mod random;
pub mod stats;
pub mod time;

pub use calendar::{Calendar, Scheduled};
pub use kernel::{Kernel, Model, Simulation, StopReason};
pub use random::{Distribution, ParamError, RngStream, StreamKey, replication_seed};
pub use stats::{
    BatchMeans, BatchMeansRaw, Interval, LogHistogram, LogHistogramRaw, Tally, TallyRaw, TimeWeighted, TimeWeightedRaw,
    student_t_quantile,
};
pub use time::{DurationError, MAX_DURATION_S, SimTime, check_duration, parse_duration};

/// The types most users of the kernel need.
pub mod prelude {
    pub use crate::{
        BatchMeans, Calendar, Distribution, Interval, Kernel, Model, RngStream, SimTime, Simulation, StopReason,
        StreamKey, Tally, TimeWeighted, parse_duration,
    };
}
