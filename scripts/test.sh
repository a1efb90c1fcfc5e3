#!/usr/bin/env bash
# Runs every test of every crate with all features: the one test command (README, CI).
# It first installs what the tests need on a fresh machine; each step is skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing outside the Rust toolchain is needed yet. Later crates add their peers here
# (pip: asyncua, pymodbus; apt: mosquitto, cmake for HiGHS, Xvfb and Mesa for the viewer).

cargo test --workspace --all-features --locked
