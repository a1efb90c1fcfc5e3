#!/usr/bin/env bash
# Live-mode figures on loopback, against the project's own OPC UA server (`twin serve-plant`):
#  1. tag updates ingested per second from 10,000 changing tags, and the tag-change-to-twin
#     latency (server source time stamp → observation in the mirror) p50/p99;
#  2. setpoint write round trip (guard, write, read-back, audit fsync) p50/p99, over OPC UA and
#     over Modbus TCP.
# Peak RSS of each process is printed next to its figure. Usage:
#   bash bench/live_ingest.sh [TAGS=10000] [RATE_HZ=10] [SECONDS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
tags=${1:-10000}
rate=${2:-10}
secs=${3:-20}
cargo build --release --quiet
twin=target/release/twin
[ -n "${CARGO_TARGET_DIR:-}" ] && twin="$CARGO_TARGET_DIR/release/twin"
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
plant=scenarios/samples/machining_cell.toml

echo "== ingest: $tags tags changing at $rate Hz, ${secs}s"
/usr/bin/time -f "serve-plant peak RSS %M KiB, CPU %U s user %S s sys" \
    $twin serve-plant $plant --opcua 127.0.0.1:0 --write-tags "$dir/tags.toml" --pki-dir "$dir/pki-plant" \
    --extra-tags "$tags" --extra-rate "$rate" --duration "$((secs + 15))s" 2> "$dir/serve.err" &
for _ in $(seq 300); do [ -f "$dir/tags.toml" ] && break; sleep 0.1; done
/usr/bin/time -f "live peak RSS %M KiB, CPU %U s user %S s sys" \
    $twin live $plant --tags "$dir/tags.toml" --duration "${secs}s" --every 5s --stats > /dev/null 2> "$dir/live.err"
grep -v '^t=' "$dir/live.err" | tail -2
wait
grep "peak RSS" "$dir/serve.err"

echo "== setpoint round trip"
for proto in opcua modbus; do
    rm -f "$dir/tags.toml"
    $twin serve-plant $plant --$proto 127.0.0.1:0 --write-tags "$dir/tags.toml" --pki-dir "$dir/pki-plant" --duration 60s 2> /dev/null &
    pid=$!
    for _ in $(seq 300); do [ -f "$dir/tags.toml" ] && break; sleep 0.1; done
    # A bench tag on the Saw's speed without rate limit or permissive (the guard still checks
    # the limits; the read-back confirms every write).
    python3 - "$dir/tags.toml" <<'PY'
import re, sys
p = sys.argv[1]
t = open(p).read()
m = re.search(r'\[\[tag\]\]\nname = "Saw.Speed"\n(.*?)\nwrite = ', t, re.S)
body = m.group(1)
t += '\n[[tag]]\nname = "Bench.Setpoint"\n' + body + '\nwrite = { min = 0.5, max = 1.5 }\n'
open(p, "w").write(t)
PY
    echo -n "$proto: "
    /usr/bin/time -f "  (twin write peak RSS %M KiB)" $twin write "$dir/tags.toml" Bench.Setpoint=1.1 --repeat 500 --audit "$dir/audit.jsonl" > /dev/null
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
done
