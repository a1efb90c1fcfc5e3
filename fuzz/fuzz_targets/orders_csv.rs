//! Fuzz target: `properties::orders_csv` (see `tests/properties/mod.rs`).
#![no_main]

#[path = "../../tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::orders_csv(data));
