#!/usr/bin/env python3
"""Times shell commands interleaved and prints medians and ratios.

Rounds rotate the order (A B C, B C A, C A B, ...) so that every command follows every other
equally often: on this kind of host one runtime's teardown (cgroup removal, RCU grace periods)
slows whichever command runs next, and a fixed order would charge that to one of them.

Usage: interleave.py [--runs N] [--warmup N] [--setup CMD] [--fixed-order] [--cpu-of PID]
                     NAME=CMD ...
Each CMD runs through /bin/sh; "{i}" in it is replaced by the run number, so every run can
use a fresh container id. --setup runs before each timed command (not timed). The first
NAME is the subject: ratios are printed as subject/other. Exit status != 0 of a timed command
is an error (the bench must measure working runs only).

--cpu-of PID adds a second table: the CPU time of each command (user + system of its whole
process tree, from wait4) and of the server PID during it (its threads' run time from
/proc/PID/task/*/schedstat, in ns), and their sum divided by the number of CPUs: no schedule
of that work finishes sooner, so a command whose median is close to that floor is CPU-bound.
"""
import argparse
import glob
import os
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
    ap.add_argument("--cpu-of", type=int, default=0, metavar="PID",
                    help="also account the CPU of this server process during each command")
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    cmds = []
    for c in a.cmds:
        name, _, cmd = c.partition("=")
        cmds.append((name, cmd))
    times = {n: [] for n, _ in cmds}
    cpu = {n: [] for n, _ in cmds}
    server = {n: [] for n, _ in cmds}
    total = a.warmup + a.runs
    for i in range(total):
        k = 0 if a.fixed_order else i % len(cmds)
        for name, cmd in cmds[k:] + cmds[:k]:
            if a.setup:
                subprocess.run(a.setup.replace("{i}", str(i)), shell=True, check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            c = cmd.replace("{i}", str(i))
            s0 = server_ns(a.cpu_of)
            t0 = time.perf_counter()
            p = subprocess.Popen(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            err = p.stderr.read()
            _, status, usage = os.wait4(p.pid, 0)
            dt = time.perf_counter() - t0
            s1 = server_ns(a.cpu_of)
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                sys.stderr.write(f"{name}: `{c}` failed ({code}): {err.decode()[-500:]}\n")
                sys.exit(1)
            if i >= a.warmup:
                times[name].append(dt * 1000)
                cpu[name].append((usage.ru_utime + usage.ru_stime) * 1000)
                server[name].append((s1 - s0) / 1e6)
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
    if a.cpu_of:
        n = os.cpu_count()
        print(f"CPU per run, medians in ms (floor = (command + server) / {n} CPUs):")
        print(f"{'command':<28}{'command':>9}{'server':>9}{'floor':>9}{'wall/floor':>12}")
        for name, _ in cmds:
            c, s = statistics.median(cpu[name]), statistics.median(server[name])
            floor = (c + s) / n
            print(f"{name:<28}{c:>9.2f}{s:>9.2f}{floor:>9.2f}{med[name] / floor:>12.2f}")


def server_ns(pid):
    """Run time in ns of the threads of `pid` so far (0 without a pid). A thread that exits
    between two readings takes its time with it: the server must keep its threads (a Go
    program such as docker-registry does)."""
    if not pid:
        return 0
    tasks = glob.glob(f"/proc/{pid}/task/*/schedstat")
    if not tasks:
        sys.exit(f"--cpu-of {pid}: no /proc/{pid}/task/*/schedstat (not running, or a kernel "
                 "without schedstat)")
    total = 0
    for t in tasks:
        try:
            with open(t) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread ended between glob and open
    return total


if __name__ == "__main__":
    main()
