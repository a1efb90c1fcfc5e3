#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for SECONDS each (default 120) and prints
# the executions per target. Corpora start from the committed samples (fuzz/corpus, not
# committed); a crash is saved under fuzz/artifacts/TARGET/ and fails the script. cargo-fuzz
# needs nightly features, which the machine's one toolchain gives with RUSTC_BOOTSTRAP=1.
# The property each target checks is in tests/properties/mod.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-120}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/twinworks/fuzz-target}"
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
seed() { # target, files...
    local dir="fuzz/corpus/$1"
    shift
    mkdir -p "$dir"
    cp "$@" "$dir/"
}
seed plant_file scenarios/samples/{machining_cell,flowline,mm1,mm3}.toml
seed study_file scenarios/samples/cell_study.toml
seed tag_map scenarios/samples/cell_tags.toml
seed orders_csv scenarios/samples/cell_orders.csv
seed schedule_json viewer/tests/data/machining_cell_schedule.json
seed jssp bench/instances/jssp/{ft06,ft10}.txt
seed fjsp bench/instances/fjsp/{mk01,mk02}.fjs
cargo fuzz build --fuzz-dir fuzz -O
targets=(plant_file study_file tag_map orders_csv schedule_json jssp fjsp)
failed=0
summary=()
for t in "${targets[@]}"; do
    log="fuzz/artifacts/$t.log"
    mkdir -p "fuzz/artifacts/$t"
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
    # -rss_limit_mb: an input that makes the program allocate beyond it counts as a crash.
    if cargo fuzz run --fuzz-dir fuzz -O "$t" -- -max_total_time="$secs" -max_len=8192 \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="fuzz/artifacts/$t/" > "$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    summary+=("$(printf '%-14s %-7s %10s executions in %s s' "$t" "$status" "$execs" "$secs")")
    echo "${summary[-1]}"
done
echo "--- fuzz summary (logs in fuzz/artifacts/TARGET.log)"
printf '%s\n' "${summary[@]}"
exit "$failed"
