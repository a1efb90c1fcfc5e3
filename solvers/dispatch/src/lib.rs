//! # twinworks-dispatch: an APS plan executed by the twin
//!
//! The APS (`twinworks-aps`) plans with mean times; the twin has random times, breakdowns and
//! shifts. [`PlanPolicy`] makes the twin follow a plan — the schedule JSON `twin schedule`
//! writes — through the dispatching hook of `twinworks-twins` (`sim::dispatch`):
//!
//! - every server is **reserved** for the next operation of its planned sequence: a unit of an
//!   order at one step (unit plans) or a whole lot (lot plans, executed as a transfer batch:
//!   the lot starts when all its units are in the queue and runs unit after unit, so it moves on
//!   as one); a server whose sequence is done takes only parts without an order;
//! - a part that finds no idle server queues at the station the plan gives it;
//! - a server waiting for another family sets up ahead, as the plan's setups do;
//! - random times, breakdowns and shifts shift the plan to the right; nothing is re-planned;
//! - a reservation that deadlocks (its part is blocked behind the full buffer the server would
//!   drain) falls back once to the station's own rule and is counted; a part taken out of plan
//!   order is struck from the plan of the server it was planned on, and counted.
//!
//! With integer constant process times, no breakdowns or shifts and unbounded buffers the twin
//! reproduces every planned start and end exactly (tested, for both splits).
//!
//! [`PlanPolicy::kpis`] reports plan adherence: start-time deviation (mean, p95), planned vs
//! realized completion and tardiness per order, on-time %, and the fallbacks.

mod plan;
mod reschedule;

pub use plan::{Adherence, PlanError, PlanPolicy, plan_factory};
pub use reschedule::{Latencies, Method, ReschedulePolicy, reschedule_factory};
