#!/usr/bin/env bash
# Cold build of the README's run command on a fresh clone: wall time, CPU-seconds, load average
# and the peak of the summed RSS of every process on the machine (sampled each 0.5 s; the
# machine should be idle apart from this build, so that sum is the build's peak memory).
#
#   bash bench/cold_build.sh [PROFILE] [CARGO FLAGS...]     # default: release, default features
set -euo pipefail
profile="${1:-release}"; shift || true
src="$(cd "$(dirname "$0")/.." && pwd)"
dir=$(mktemp -d /tmp/twinworks-cold.XXXX)
git clone --quiet "$src" "$dir/clone"
cd "$dir/clone"
# Dependencies are fetched before the clock starts: the figure is the build, not the download.
cargo fetch --locked --quiet
base_rss=$(ps -eo rss= | awk '{s+=$1} END {print s}')
(
    peak=0
    while true; do
        rss=$(ps -eo rss= | awk '{s+=$1} END {print s}')
        [ "$rss" -gt "$peak" ] && peak=$rss && echo "$peak" > "$dir/peak"
        cut -d' ' -f1 /proc/loadavg >> "$dir/load"
        sleep 0.5
    done
) &
sampler=$!
start=$(date +%s.%N)
/usr/bin/time -f "%e %U %S" -o "$dir/time" env CARGO_TARGET_DIR="$dir/target" \
    cargo build --quiet --locked --profile "$profile" "$@"
kill "$sampler"
read -r wall user sys < "$dir/time"
peak=$(cat "$dir/peak")
python3 - "$profile" "$wall" "$user" "$sys" "$peak" "$base_rss" "$dir/load" "$*" <<'PY'
import sys
profile, wall, user, sys_, peak, base, loadf, flags = sys.argv[1:]
loads = [float(x) for x in open(loadf).read().split()]
print(f"cold build, profile {profile} {flags or '(default features)'}: wall {float(wall)/60:.1f} min, "
      f"CPU {float(user)+float(sys_):.0f} s, load average mean {sum(loads)/len(loads):.2f} max {max(loads):.2f}, "
      f"peak memory {(int(peak)-int(base))/1024/1024:.2f} GiB above the idle machine's")
PY
rm -rf "$dir"
