#!/usr/bin/env python3
"""Side-by-side makespans of OR-Tools CP-SAT and our tabu search.

Both get the same wall-clock limit and 2 workers/threads; they run one after
the other so they never compete for the cores. The CP-SAT model is the
textbook one: an interval per operation (optional intervals plus an
exactly-one choice for flexible operations), AddNoOverlap per machine,
precedence within each job, minimise the makespan.

usage: bench/cpsat_compare.py [--time-limit 10] [--workers 2]
                              [--twin PATH_TO_twin_BINARY] FILE...
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import time


def parse(path):
    """Returns (machines, jobs); jobs = [[[(machine, duration), ...] per op] per job]."""
    tokens = open(path).read().split()
    if path.endswith(".fjs"):
        it = iter(tokens)
        n, m = int(next(it)), int(next(it))
        next(it)  # average alternatives, informative only
        jobs = []
        for _ in range(n):
            ops = []
            for _ in range(int(next(it))):
                k = int(next(it))
                ops.append([(int(next(it)) - 1, int(next(it))) for _ in range(k)])
            jobs.append(ops)
        return m, jobs
    lines = [l.split() for l in open(path) if l.strip()]
    n, m = int(lines[0][0]), int(lines[0][1])
    jobs = []
    for row in lines[1 : n + 1]:
        v = list(map(int, row))
        jobs.append([[(v[i], v[i + 1])] for i in range(0, len(v), 2)])
    return m, jobs


def cpsat(machines, jobs, time_limit, workers):
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    horizon = sum(max(d for _, d in op) for job in jobs for op in job)
    per_machine = [[] for _ in range(machines)]
    ends = []
    for j, job in enumerate(jobs):
        prev_end = None
        for o, alts in enumerate(job):
            start = model.NewIntVar(0, horizon, f"s{j}_{o}")
            end = model.NewIntVar(0, horizon, f"e{j}_{o}")
            if len(alts) == 1:
                m, d = alts[0]
                per_machine[m].append(model.NewIntervalVar(start, d, end, f"i{j}_{o}"))
            else:
                dur = model.NewIntVar(min(d for _, d in alts), max(d for _, d in alts), f"d{j}_{o}")
                model.NewIntervalVar(start, dur, end, f"i{j}_{o}")
                lits = []
                for m, d in alts:
                    lit = model.NewBoolVar(f"x{j}_{o}_{m}")
                    lits.append(lit)
                    per_machine[m].append(
                        model.NewOptionalIntervalVar(start, d, end, lit, f"oi{j}_{o}_{m}")
                    )
                    model.Add(dur == d).OnlyEnforceIf(lit)
                model.AddExactlyOne(lits)
            if prev_end is not None:
                model.Add(start >= prev_end)
            prev_end = end
        ends.append(prev_end)
    for ivs in per_machine:
        model.AddNoOverlap(ivs)
    mk = model.NewIntVar(0, horizon, "makespan")
    model.AddMaxEquality(mk, ends)
    model.Minimize(mk)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = workers
    t0 = time.time()
    status = solver.Solve(model)
    secs = time.time() - t0
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return int(solver.ObjectiveValue()), solver.StatusName(status), int(solver.BestObjectiveBound()), secs
    return None, solver.StatusName(status), None, secs


def ours(twin, path, time_limit, threads):
    """Our solver through `twin schedule`; returns (makespan, time to best in s)."""
    out = subprocess.run(
        [twin, "schedule", path, "--time-limit", f"{time_limit}s", "--threads", str(threads)],
        check=True, capture_output=True, text=True,
    ).stdout
    m = re.search(r"makespan = (\d+)", out)
    t = re.search(r"time to best ([\d.]+) s", out)
    return int(m.group(1)), (float(t.group(1)) if t else None)


def best_known(path):
    bounds = os.path.join(os.path.dirname(path), "bounds.csv")
    name = os.path.splitext(os.path.basename(path))[0]
    if os.path.exists(bounds):
        for row in csv.DictReader(open(bounds)):
            if row["name"] == name:
                return int(row["upper_bound"])
    return None


def gap(v, ref):
    return "-" if v is None or not ref else f"{100.0 * (v - ref) / ref:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--time-limit", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2)
    here = os.path.dirname(os.path.abspath(__file__))
    default_aps = os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target")), "release", "twin"
    )
    ap.add_argument("--twin", default=default_aps, help="the twin binary (cargo build --release)")
    a = ap.parse_args()
    print(f"{'instance':<9}{'best':>7}{'cpsat':>8}{'gap%':>7}{'status':>10}{'cp_lb':>7}{'ours':>8}{'gap%':>7}{'t_best':>8}")
    sums = {"cp": [], "us": []}
    for f in a.files:
        name = os.path.splitext(os.path.basename(f))[0]
        ref = best_known(f)
        machines, jobs = parse(f)
        cv, status, lb, _ = cpsat(machines, jobs, a.time_limit, a.workers)
        ov, tb = ours(a.twin, f, a.time_limit, a.workers)
        if ref:
            if cv is not None:
                sums["cp"].append(100.0 * (cv - ref) / ref)
            sums["us"].append(100.0 * (ov - ref) / ref)
        print(f"{name:<9}{ref or '-':>7}{cv or '-':>8}{gap(cv, ref):>7}{status:>10}{lb or '-':>7}{ov:>8}{gap(ov, ref):>7}{tb if tb is not None else '-':>8}")
        sys.stdout.flush()
    for k, label in (("cp", "cp-sat"), ("us", "ours")):
        if sums[k]:
            print(f"mean gap {label}: {sum(sums[k]) / len(sums[k]):.2f}% over {len(sums[k])}")


if __name__ == "__main__":
    main()
