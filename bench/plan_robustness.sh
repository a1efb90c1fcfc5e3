#!/usr/bin/env bash
# "How robust is this plan?" on the job-shop sample (issue 13): the APS plan's own
# deterministic total weighted tardiness against its tardiness when the twin executes it over
# 100 replications (lognormal times, breakdowns), beside ATC and EDD dispatching.
# Usage: bash bench/plan_robustness.sh [replications]   (needs a built `twin`, or builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/twinworks/target}"
reps="${1:-100}"
plant=scenarios/samples/job_shop.toml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --release --locked --quiet --bin twin
twin="$CARGO_TARGET_DIR/release/twin"
"$twin" schedule "$plant" --split unit --objective twt --iterations 20000 --seed 1 --out "$out/plan.json" | tee "$out/plan.txt"
"$twin" run "$plant" --schedule "$out/plan.json" --replications "$reps" --json > "$out/plan_runs.json"
"$twin" dispatch "$plant" --policies fifo,edd,atc,atcs,plan --replications "$reps" --json > "$out/dispatch.json"
python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
runs = json.load(open(f"{d}/plan_runs.json"))["runs"]
h = lambda x: x / 3600.0
twt = sorted(h(r["orders"]["weighted_tardiness_s"]) for r in runs)
planned = h(runs[0]["policy"]["planned_weighted_tardiness_s"])
q = lambda p: twt[min(len(twt) - 1, int(p * len(twt)))]
n = len(twt)
print(f"\nplan executed over {n} replications: total weighted tardiness [h]")
print(f"  planned (deterministic, mean times): {planned:.1f}")
print(f"  realized: mean {sum(twt)/n:.1f}   p10 {q(0.10):.1f}   median {q(0.50):.1f}   p90 {q(0.90):.1f}   max {twt[-1]:.1f}")
print(f"  replications at or below the plan's own figure: {sum(1 for x in twt if x <= planned + 1e-9)} of {n}")
for k in ["start_deviation_mean_s", "start_deviation_p95_s", "on_time_pct", "planned_on_time_pct", "fallbacks", "out_of_plan_starts"]:
    xs = [r["policy"][k] for r in runs]
    unit = 3600.0 if k.endswith("_s") else 1.0
    print(f"  {k}: mean {sum(xs)/len(xs)/unit:.2f}{' h' if unit > 1 else ''}")
rep = json.load(open(f"{d}/dispatch.json"))
print("\npolicies, same replications (CRN): total weighted tardiness [h], mean ± 95% CI")
for v in rep["variants"]:
    e = next(k for k in v["kpis"] if k["kpi"] == "orders.weighted_tardiness_s")
    print(f"  {v['name']:<6} {h(e['mean']):8.1f} ± {h(e['ci95']):.1f}")
PY
