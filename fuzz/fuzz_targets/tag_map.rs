//! Fuzz target: `properties::tag_map` (see `tests/properties/mod.rs`).
#![no_main]

#[path = "../../tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::tag_map(data));
