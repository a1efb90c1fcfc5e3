#!/usr/bin/env python3
"""The flow-line reference model in SimPy and in `twin`, and the ratio of their CPU times.

Five stations in series, one server each, exponential process times with means
0.9, 0.95, 1.0, 0.95, 0.9 s, buffers of 5 between stations, blocking after service, the first
station never starved (scenarios/samples/flowline.toml). Both run the same number of finished
parts; both report their throughput so you can see they simulate the same line.

    python3 bench/flowline_simpy.py                # 1,000,000 parts (SimPy takes minutes)
    python3 bench/flowline_simpy.py --parts 200000 # quicker

It builds `twin` in release mode first (cargo build --release) unless --twin points at a binary.
SimPy is installed with pip if missing.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEANS = [0.9, 0.95, 1.0, 0.95, 0.9]
BUFFER = 5


def ensure_simpy():
    try:
        import simpy  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "simpy"])


def simpy_flowline(parts, seed):
    """Returns (CPU seconds, simulated time, throughput per hour)."""
    import simpy

    rng = random.Random(seed)
    env = simpy.Environment()
    # Store(capacity=5) holds the parts waiting between stations; a finished part's put()
    # blocks while the store is full, holding the station: blocking after service.
    stores = [simpy.Store(env, capacity=BUFFER) for _ in MEANS[1:]]
    done = [0]
    finished = env.event()

    def station(i):
        while True:
            if i > 0:
                yield stores[i - 1].get()
            yield env.timeout(rng.expovariate(1.0 / MEANS[i]))
            if i + 1 < len(MEANS):
                yield stores[i].put(1)
            else:
                done[0] += 1
                if done[0] == parts:
                    finished.succeed()

    for i in range(len(MEANS)):
        env.process(station(i))
    start = time.process_time()
    env.run(until=finished)
    cpu = time.process_time() - start
    return cpu, env.now, parts / env.now * 3600.0


def twin_flowline(binary, parts, seed):
    """Returns (CPU seconds, peak RSS in MiB, throughput per hour, completions) of one run."""
    proc = subprocess.Popen(
        [binary, "run", os.path.join(ROOT, "scenarios/samples/flowline.toml"),
         "--horizon", f"{parts}parts", "--seed", str(seed), "--json"],
        stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    # wait4 gives this child's own resource usage (CPU and peak RSS in KiB on Linux).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"twin failed with exit code {proc.returncode}")
    doc = json.loads(stdout)
    run = doc["runs"][0]
    completions = sum(s["operations"] for s in run["stations"])
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, run["plant"]["throughput_per_h"], completions


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--twin-runs", type=int, default=5, help="twin runs; the median CPU time is used")
    ap.add_argument("--twin", default=None, help="path to a built twin binary")
    args = ap.parse_args()

    binary = args.twin
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        binary = os.path.join(target, "release", "twin")
    ensure_simpy()

    twin_runs = [twin_flowline(binary, args.parts, args.seed) for _ in range(args.twin_runs)]
    twin_runs.sort(key=lambda r: r[0])
    t_cpu, t_rss, t_th, completions = twin_runs[len(twin_runs) // 2]
    print(f"twin : {args.parts:,} parts, {completions:,} completions, median CPU {t_cpu:.3f} s "
          f"of {args.twin_runs} runs, {completions / t_cpu / 1e6:.1f} M completions per CPU-second, "
          f"peak RSS {t_rss:.1f} MiB, throughput {t_th:.1f} parts/h")
    sys.stdout.flush()
    s_cpu, s_end, s_th = simpy_flowline(args.parts, args.seed)
    print(f"simpy: {args.parts:,} parts, CPU {s_cpu:.2f} s, "
          f"{args.parts * len(MEANS) / s_cpu / 1e6:.3f} M completions per CPU-second, throughput {s_th:.1f} parts/h")
    print(f"ratio: twin is {s_cpu / t_cpu:.0f}x faster than SimPy in CPU time")


if __name__ == "__main__":
    main()
