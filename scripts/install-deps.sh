#!/usr/bin/env bash
# Installs the system packages the build and tests need, each only when missing, so that a
# fresh machine passes scripts/check.sh and scripts/test.sh. Run by both before cargo.
set -euo pipefail

# The `highs` feature (exact scheduling model on HiGHS) builds HiGHS from source: it needs
# cmake, a C++ compiler and libclang (for bindgen).
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
