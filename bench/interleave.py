#!/usr/bin/env python3
"""Times shell commands interleaved and prints medians and ratios.

Rounds rotate the order (A B C, B C A, C A B, ...) so that every command follows every other
equally often: on this kind of host one runtime's teardown (cgroup removal, RCU grace periods)
slows whichever command runs next, and a fixed order would charge that to one of them.

Usage: interleave.py [--runs N] [--warmup N] [--setup CMD] [--fixed-order] NAME=CMD ...
Each CMD runs through /bin/sh; "{i}" in it is replaced by the run number, so every run can
use a fresh container id. --setup runs before each timed command (not timed). The first
NAME is the subject: ratios are printed as subject/other. Exit status != 0 of a timed command
is an error (the bench must measure working runs only).
"""
import argparse
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--setup", default="")
    ap.add_argument("--title", default="")
    ap.add_argument("--fixed-order", action="store_true",
                    help="A B C A B C ... instead of rotating the order each round")
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    cmds = []
    for c in a.cmds:
        name, _, cmd = c.partition("=")
        cmds.append((name, cmd))
    times = {n: [] for n, _ in cmds}
    total = a.warmup + a.runs
    for i in range(total):
        k = 0 if a.fixed_order else i % len(cmds)
        for name, cmd in cmds[k:] + cmds[:k]:
            if a.setup:
                subprocess.run(a.setup.replace("{i}", str(i)), shell=True, check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            c = cmd.replace("{i}", str(i))
            t0 = time.perf_counter()
            r = subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                sys.stderr.write(f"{name}: `{c}` failed ({r.returncode}): {r.stderr.decode()[-500:]}\n")
                sys.exit(1)
            if i >= a.warmup:
                times[name].append(dt * 1000)
    if a.title:
        print(f"## {a.title}")
    print(f"{'command':<28}{'runs':>6}{'median ms':>12}{'p10':>9}{'p90':>9}")
    med = {}
    for name, _ in cmds:
        v = sorted(times[name])
        med[name] = statistics.median(v)
        p10 = v[int(len(v) * 0.1)]
        p90 = v[min(len(v) - 1, int(len(v) * 0.9))]
        print(f"{name:<28}{len(v):>6}{med[name]:>12.2f}{p10:>9.2f}{p90:>9.2f}")
    subject = cmds[0][0]
    for name, _ in cmds[1:]:
        print(f"ratio {subject}/{name}: {med[subject] / med[name]:.2f}")


if __name__ == "__main__":
    main()
