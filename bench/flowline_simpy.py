#!/usr/bin/env python3
"""The flow-line reference model in SimPy, in `twin` and as a plain Rust loop: all ratios in one run.

Five stations in series, one server each, exponential process times with means
0.9, 0.95, 1.0, 0.95, 0.9 s, buffers of 5 between stations, blocking after service, the first
station never starved (scenarios/samples/flowline.toml). The SimPy model below is frozen (issue
10): the same code and parameters as when the first figures were taken. The plain loop is
bench/flowline_plain (the same model and random streams as the twin, bit-identical results).

    python3 bench/flowline_simpy.py                       # dist profile, 1 M parts, SimPy 100 k
    python3 bench/flowline_simpy.py --profile release     # the README's run profile
    python3 bench/flowline_simpy.py --runs 3 --simpy-parts 50000

It prints SimPy / twin and twin / plain loop in CPU time (medians of --runs runs each), each
one's CPU-seconds and peak RSS, and the build profile. SimPy's CPU time per part is measured on
--simpy-parts parts (in a child process, env.run only) and scaled to --parts. `twin` and the plain
loop are whole processes (start-up included), built with `cargo build --profile P
--no-default-features` (the CLI without viewer and adapters: the simulation code is the same).
SimPy is installed with pip if missing.
"""

import argparse
import json
import os
import resource
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


def child_usage(cmd):
    """Runs `cmd`; returns (stdout, CPU seconds, peak RSS in MiB) of that child alone.

    CPU time is the growth of this process's RUSAGE_CHILDREN (user + sys of every waited-for
    descendant). The peak RSS comes from GNU time's %M: a child forked straight from this Python
    process would carry Python's own peak into its ru_maxrss across exec.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed with exit code {proc.returncode}: {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    return proc.stdout, cpu, rss_kib / 1024.0


def twin_flowline(binary, parts, seed):
    """Returns (CPU seconds, peak RSS in MiB, throughput per hour, events) of one run."""
    stdout, cpu, rss = child_usage(
        [binary, "run", os.path.join(ROOT, "scenarios/samples/flowline.toml"),
         "--horizon", f"{parts}parts", "--seed", str(seed), "--json"])
    run = json.loads(stdout)["runs"][0]
    return cpu, rss, run["plant"]["throughput_per_h"], run["events"]


def plain_flowline(binary, parts, seed):
    """Returns (CPU seconds, peak RSS in MiB, throughput per hour, completions) of one run."""
    stdout, cpu, rss = child_usage([binary, "--parts", str(parts), "--seed", str(seed)])
    doc = json.loads(stdout)
    return cpu, rss, doc["throughput_per_h"], doc["completions"]


def simpy_child(parts, seed):
    """Runs in the child process: prints SimPy's (CPU seconds of env.run, throughput) as JSON."""
    ensure_simpy()
    cpu, _, th = simpy_flowline(parts, seed)
    print(json.dumps({"cpu": cpu, "throughput_per_h": th}))


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", type=int, default=1_000_000, help="parts for twin and the plain loop")
    ap.add_argument("--simpy-parts", type=int, default=100_000, help="parts for SimPy (scaled to --parts)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5, help="runs of each; medians are compared")
    ap.add_argument("--profile", default="dist", help="cargo profile of twin and the plain loop")
    ap.add_argument("--simpy-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.simpy_child is not None:
        simpy_child(args.simpy_child, args.seed)
        return

    subprocess.run(["cargo", "build", "--quiet", "--locked", "--profile", args.profile, "--no-default-features",
                    "-p", "twinworks", "-p", "twinworks-flowline-plain"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    bindir = os.path.join(target, "debug" if args.profile == "dev" else args.profile)
    ensure_simpy()

    twin = [twin_flowline(os.path.join(bindir, "twin"), args.parts, args.seed) for _ in range(args.runs)]
    plain = [plain_flowline(os.path.join(bindir, "flowline-plain"), args.parts, args.seed) for _ in range(args.runs)]
    if twin[0][2] != plain[0][2]:
        sys.exit(f"twin and the plain loop disagree: throughput {twin[0][2]!r} vs {plain[0][2]!r}")
    simpy = []
    for _ in range(args.runs):
        out, _, rss = child_usage([sys.executable, os.path.abspath(__file__), "--simpy-child",
                                   str(args.simpy_parts), "--seed", str(args.seed)])
        doc = json.loads(out)
        simpy.append((doc["cpu"] * args.parts / args.simpy_parts, rss, doc["throughput_per_h"]))

    t_cpu, p_cpu, s_cpu = (median(r[0] for r in x) for x in (twin, plain, simpy))
    t_rss, p_rss, s_rss = (max(r[1] for r in x) for x in (twin, plain, simpy))
    events = twin[0][3]
    print(f"profile: {args.profile} (no default features), {args.runs} runs each, medians of CPU time (user + sys)")
    print(f"twin : {args.parts:,} parts, {events:,} events, {t_cpu:.3f} CPU-s, "
          f"{events / t_cpu / 1e6:.1f} M events per CPU-second, peak RSS {t_rss:.1f} MiB, "
          f"throughput {twin[0][2]:.1f} parts/h")
    print(f"plain: {args.parts:,} parts, {plain[0][3]:,} completions, {p_cpu:.3f} CPU-s, "
          f"peak RSS {p_rss:.1f} MiB, throughput {plain[0][2]:.1f} parts/h (bit-identical to twin)")
    print(f"simpy: {args.simpy_parts:,} parts scaled to {args.parts:,}: {s_cpu:.2f} CPU-s, "
          f"peak RSS {s_rss:.1f} MiB, throughput {simpy[0][2]:.1f} parts/h")
    print(f"SimPy / twin      = {s_cpu / t_cpu:.1f}  (goal >= 100)")
    print(f"twin / plain loop = {t_cpu / p_cpu:.2f}  (goal <= 1.5)")


if __name__ == "__main__":
    main()
