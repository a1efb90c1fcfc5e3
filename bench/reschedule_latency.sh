#!/usr/bin/env bash
# Rescheduling on the job-shop sample (issue 14): the plan shifted right (`plan`) against
# affected-operations repair (`plan+repair`) and a full re-solve (`plan+resolve`) on the
# sample's `[reschedule]` triggers (breakdown, repair; 30 min frozen; 2000 iterations per
# slot), 20 replications, seed 13: total weighted tardiness, on-time orders, stability per
# policy, and the solver's wall time per re-plan (median, p95), with the peak RSS.
# One worker thread, so that the re-plan latency is that of one core.
# Usage: bash bench/reschedule_latency.sh [replications]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/twinworks/target}"
reps="${1:-20}"
plant=scenarios/samples/job_shop.toml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --release --locked --quiet --bin twin
twin="$CARGO_TARGET_DIR/release/twin"
/usr/bin/time -v "$twin" dispatch "$plant" --policies plan,plan+repair,plan+resolve \
    --replications "$reps" --threads 1 --json > "$out/dispatch.json" 2> "$out/stderr.txt"
grep "re-plans" "$out/stderr.txt"
grep -E "Maximum resident set size|Elapsed \(wall" "$out/stderr.txt" | sed 's/^\s*//'
python3 - "$out/dispatch.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print(f"\n{'policy':<14}{'TWT [h]':>16}{'on time':>9}{'reschedules':>13}{'moved':>8}{'seq. changes':>14}{'|start change| [h]':>20}")
for v in doc["variants"]:
    k = {e["kpi"]: e for e in v["kpis"]}
    g = lambda name: k[name]["mean"] if name in k else float("nan")
    hw = k["orders.weighted_tardiness_s"]["ci95"]
    print(f"{v['name']:<14}{g('orders.weighted_tardiness_s')/3600:>9.1f} ± {hw/3600:<5.1f}{g('orders.on_time'):>8.1f}"
          f"{g('policy.reschedules'):>13.1f}{g('policy.moved_to_other_server'):>8.1f}{g('policy.sequence_changes'):>14.1f}"
          f"{g('policy.start_change_abs_mean_s')/3600:>20.2f}")
base = doc["variants"][0]["name"]
for v in doc["variants"][1:]:
    for d in v["vs_baseline"]:
        if d["kpi"] == "orders.weighted_tardiness_s":
            print(f"{v['name']} - {base}: {d['mean']/3600:.1f} h ± {d['ci95']/3600:.1f} h (paired 95%, common random numbers)")
PY
