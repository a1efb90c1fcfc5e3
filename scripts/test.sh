#!/usr/bin/env bash
# Runs every test of every crate with all features: the one test command (README, CI).
# It first installs what the tests need on a fresh machine; each step is skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

# The `highs` feature (exact scheduling model on HiGHS) builds HiGHS from source: it needs
# cmake, a C++ compiler and libclang (for bindgen). Debian packages; skipped when present.
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
if ((${#need[@]})); then
    echo "installing ${need[*]} (apt)"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cargo test --workspace --all-features --locked
