#!/usr/bin/env bash
# Forecast speed (issue 17): `twin forecast` on the 50-station, 500-order sample at 2 days,
# 100 forks, 7-day horizon, wall time (median of 5 runs) and peak RSS, on this machine.
# Usage: bash bench/forecast_speed.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/twinworks/target}"
runs="${1:-5}"
cargo build --release --locked --quiet --bin twin
twin="$CARGO_TARGET_DIR/release/twin"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$out/t$i" "$twin" forecast scenarios/samples/plant50.toml \
        --at 2d --replications 100 --horizon 7d --json > "$out/f$i.json"
done
cmp -s "$out/f1.json" "$out/f$runs.json" && echo "identical JSON across runs"
python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
rows = [open(f"{d}/t{i}").read().split() for i in range(1, n + 1)]
wall = [float(r[0]) for r in rows]
rss = [int(r[1]) for r in rows]
doc = json.load(open(f"{d}/f1.json"))
print(f"twin forecast plant50 --at 2d: {len(doc['orders'])} open orders, 100 forks, 7 d horizon")
print(f"wall: median {statistics.median(wall):.2f} s (min {min(wall):.2f}, max {max(wall):.2f}) over {n} runs; peak RSS {max(rss) / 1024:.0f} MiB")
PY
