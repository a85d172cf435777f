#!/usr/bin/env bash
# MPI ping-pong between two ranks on this node (tests/mpi/pingpong.c, Debian's Open MPI 4.1,
# vader BTL), as the unprivileged bench user, three ways interleaved in one run with the order
# rotated each round: host-native; `singlet exec` with the job's shared user namespace (the
# default: CMA between ranks); `singlet exec --private-userns` (one namespace per rank: Open
# MPI turns CMA off and copies through shared memory). Prints medians of the one-way latency
# (8-byte messages) and of the bandwidth (1 MiB messages), and each one's ratio to native.
# Usage: bench/mpi.sh [ROUNDS]      (default 11; each run: 20 warm-up + 200 timed round trips
#                                     at 1 MiB, 2000 at 8 bytes)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-11}
bash "$REPO/tests/mpi/image.sh" "$W" >/dev/null
chmod -R a+rX "$W"
IMG=$W/mpi
chown "$BUSER" "$W"
python3 - "$ROUNDS" "$W" "$IMG" "$(user_cmd)" <<'PY'
import re, statistics, subprocess, sys
rounds, w, img, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
variants = {
    "native": f"{img}/opt/pingpong",
    "singlet shared userns": f"{w}/singlet exec {img} /opt/pingpong",
    "singlet --private-userns": f"{w}/singlet exec --private-userns {img} /opt/pingpong",
}
tests = {"latency 8 B (us)": ("8 2000", "latency_us"), "bandwidth 1 MiB (MB/s)": ("1048576 200", "bandwidth_MBps")}
res = {(v, t): [] for v in variants for t in tests}
names = list(variants)
for r in range(rounds):
    order = names[r % len(names):] + names[:r % len(names)]
    for v in order:
        for t, (args, key) in tests.items():
            cmd = f"{user} SINGLET_CACHEDIR={w}/cache mpirun -np 2 {variants[v]} {args}"
            out = subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=w)
            m = re.search(key + r" ([0-9.]+)", out.stdout)
            if not m:
                sys.exit(f"{v}: no {key} in: {out.stdout}{out.stderr}")
            res[(v, t)].append(float(m.group(1)))
print(f"cores: {subprocess.run('nproc', capture_output=True, text=True).stdout.strip()}; "
      f"{rounds} rounds, order rotated; Open MPI {subprocess.run('mpirun --version', shell=True, capture_output=True, text=True).stdout.split()[3]}")
for t in tests:
    base = statistics.median(res[("native", t)])
    print(f"\n{t}")
    for v in variants:
        vals = res[(v, t)]
        med = statistics.median(vals)
        print(f"  {v:26s} median {med:10.2f}  ({min(vals):.2f}..{max(vals):.2f})  {med / base:5.2f}x native")
PY
