#!/usr/bin/env bash
# Runs every test of every crate with all features: the one test command (README, CI).
# It first installs what the tests need on a fresh machine (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --all-features --locked
