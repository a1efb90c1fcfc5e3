#!/usr/bin/env bash
# Callgrind instructions per service completion of the flow line, for `twin` and the plain
# loop: counts that the load of a shared machine does not move (valgrind --tool=callgrind).
#
#   bash bench/flowline_callgrind.sh [PROFILE] [PARTS]     # PROFILE: dist (default) or release
#
# The whole process is counted (start-up and parsing included, a few hundred thousand
# instructions); PARTS (default 200000) makes that negligible.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-dist}"
parts="${2:-200000}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --locked --profile "$profile" --no-default-features -p twinworks -p twinworks-flowline-plain
dir="$target/$profile"
[ "$profile" = dev ] && dir="$target/debug"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # name, command...
    local name="$1"; shift
    valgrind --tool=callgrind --callgrind-out-file="$out/$name" "$@" > "$out/$name.stdout" 2> "$out/$name.log"
    grep -o 'Collected : [0-9]*' "$out/$name.log" | grep -o '[0-9]*$'
}
twin_ir=$(count twin "$dir/twin" run scenarios/samples/flowline.toml --horizon "${parts}parts" --json)
twin_events=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['runs'][0]['events'])" "$out/twin.stdout")
plain_ir=$(count plain "$dir/flowline-plain" --parts "$parts")
plain_events=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['completions'])" "$out/plain.stdout")
python3 - "$profile" "$parts" "$twin_ir" "$twin_events" "$plain_ir" "$plain_events" <<'PY'
import sys
profile, parts, t_ir, t_ev, p_ir, p_ev = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
print(f"profile {profile}, {parts:,} parts (no default features: the CLI without viewer and adapters)")
print(f"twin : {t_ir:,} instructions, {t_ev:,} events, {t_ir / t_ev:.0f} per completion")
print(f"plain: {p_ir:,} instructions, {p_ev:,} events, {p_ir / p_ev:.0f} per completion")
print(f"twin / plain loop: {t_ir / p_ir:.2f} in instructions")
PY
