//! Upper limits on the numbers a user writes in plant files, order files and on the command
//! line. Values beyond them are refused with a located error, never clamped or wrapped: each
//! limit sits well above any real plant and well below what would overflow a conversion
//! (`u32` indices, `std::time::Duration`, allocation sizes). Documented in `docs/plant-file.md`.
//!
//! Durations are limited once, where they are parsed: [`twinworks_engine::MAX_DURATION_S`].

/// Parallel servers of one station (`capacity`); they are allocated when the twin is built.
pub const MAX_SERVERS: u64 = 10_000;
/// A buffer's `capacity` (parts).
pub const MAX_BUFFER_CAPACITY: u64 = 1_000_000_000;
/// Units of one order (`quantity`); the release backlog holds them.
pub const MAX_ORDER_QUANTITY: u64 = 10_000_000;
/// Parts a source creates (`limit`), and `horizon_parts` / `warmup_parts`.
pub const MAX_PARTS: u64 = 1_000_000_000_000;
/// Replications of one run or study variant.
pub const MAX_REPLICATIONS: u64 = 1_000_000;
/// The magnitude of an order priority (weight).
pub const MAX_PRIORITY: i64 = 1_000_000;
/// The size of one input file (plant, study, tag map, orders, schedule): 64 MiB.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;
/// How many times faster than the wall clock a live or viewed twin may run (`--time-scale`).
pub const MAX_TIME_SCALE: f64 = 1e6;
/// Most tabu iterations per search slot of one re-solve (`[reschedule] iterations`).
pub const MAX_RESCHEDULE_ITERATIONS: u64 = 10_000_000;

/// Checks a `--time-scale` argument: a number in (0, [`MAX_TIME_SCALE`]].
pub fn check_time_scale(x: f64) -> Result<f64, String> {
    if x > 0.0 && x <= MAX_TIME_SCALE {
        Ok(x)
    } else {
        Err(format!(
            "--time-scale must be a number in (0, {MAX_TIME_SCALE:e}], got {x}"
        ))
    }
}
