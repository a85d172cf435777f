#!/usr/bin/env bash
# Regenerates link/startup.order (static build) or link/startup.dynamic.order (SINGLET_BIN of a
# dynamic one, build.rs says why two): the release binary's functions in the order the start-up paths
# first call them, which build.rs hands to the linker (--symbol-ordering-file) so that the code
# a start-up runs sits on few, adjacent pages (bench/README.md, "Start-up symbol order").
#
# Exact, not sampled: a uprobe on every function of the binary (tracefs uprobe_events, no PMU
# needed), then the paths below run once, and the first hit of each probe gives the order:
#   singlet-oci run, create/start/state/delete as root; run as an unprivileged user;
#   singlet exec of a SIF and instance start/stop as that user.
# Usage (as root, no other uprobes defined): bench/startup-order.sh
# SINGLET_BIN=PATH profiles that build instead of a fresh release build; the symbol names do not
# depend on the order file, so any release build of the same sources gives the same result.
set -euo pipefail
if [ -z "${SINGLET_ORDER_NS:-}" ]; then
  # a private mount namespace, so that mounting tracefs (if the host has not) stays ours; no
  # address-space randomisation (inherited by every process below), so that the binary sits at
  # the same address in all of them and a hit's address names its function
  exec env SINGLET_ORDER_NS=1 unshare --mount --propagation private setarch "$(uname -m)" -R "$0" "$@"
fi
source "$(dirname "$0")/common.sh"
T=/sys/kernel/tracing
mountpoint -q "$T" || mount -t tracefs nodev "$T"
if grep -qv '^p:singlet_order/' "$T/uprobe_events"; then
  echo "startup-order: other uprobes are defined ($T/uprobe_events); this script clears them all at the end, so it refuses to run" >&2
  exit 1
fi
cleanup() {
  echo 0 > "$T/events/singlet_order/enable" 2>/dev/null || true
  : > "$T/uprobe_events" # one write removes them all
  rm -rf "$W"
}
trap cleanup EXIT

echo "# registering a uprobe on every function of $W/singlet"
python3 - "$W/singlet" "$W/names" <<'PY'
import os, subprocess, sys
binary, names = sys.argv[1], sys.argv[2]
# file offsets of the executable LOAD segments: uprobes take an offset into the file
segs = []
for l in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    f = l.split()
    if f and f[0] == "LOAD" and "E" in "".join(f[6:-1]):
        segs.append((int(f[2], 16), int(f[1], 16), int(f[5], 16)))
code = open(binary, "rb").read()
funcs = {}
nm = subprocess.run(["nm", "--defined-only", "-S", binary], capture_output=True, text=True, check=True)
for l in nm.stdout.splitlines():
    f = l.split()
    if len(f) == 4 and f[2] in "tTwW" and int(f[1], 16) > 0:
        a = int(f[0], 16)
        for va, off, size in segs:
            if va <= a < va + size:
                # a probe on an AVX-512 (EVEX, first byte 0x62) instruction re-traps without
                # end (glibc's memset of a static build spun `run` at full CPU), so none there
                if code[a - va + off] != 0x62:
                    funcs.setdefault(a - va + off, (a, f[3]))
# one event with a probe per function: disabling 12,000 events one by one takes ten minutes
# (a grace period each), one event with 12,000 probes a moment
u = os.open("/sys/kernel/tracing/uprobe_events", os.O_WRONLY | os.O_APPEND)
with open(names, "w") as out:
    for off, (vaddr, name) in sorted(funcs.items()):
        os.write(u, f"p:singlet_order/hit {binary}:{off:#x}\n".encode())
        out.write(f"{vaddr:#x} {name}\n")
os.close(u)
print(f"{len(funcs)} functions")
PY

true_bundle "$W/b"
true_bundle "$W/u/b" "$(id -u "$BUSER")" "$(id -g "$BUSER")"
cp "$TESTDATA/real/singularity-3.8.1-busybox_amd64.sif" "$W/u/busybox.sif"
chown -R "$BUSER:" "$W/u"

echo 65536 > "$T/buffer_size_kb"
: > "$T/trace"
echo 1 > "$T/events/singlet_order/enable"
# the runtime's paths first, so that their code leads the order
(cd "$W/b" && "$W/singlet-oci" --root "$W/st" run o1)
(cd "$W/b" && "$W/singlet-oci" --root "$W/st" create o2 >/dev/null)
"$W/singlet-oci" --root "$W/st" start o2
"$W/singlet-oci" --root "$W/st" state o2 >/dev/null
"$W/singlet-oci" --root "$W/st" delete -f o2
as_user "cd \$W/u/b && \$W/singlet-oci --root \$W/u/st run u1"
# a cache of its own, so the result does not depend on what the user ran before: a first exec
# fills it, the second is the usual warm start
as_user "export SINGLET_CACHEDIR=\$W/u/cache; \$W/singlet exec \$W/u/busybox.sif true && \$W/singlet exec \$W/u/busybox.sif true"
as_user "export SINGLET_CACHEDIR=\$W/u/cache; \$W/singlet instance start \$W/u/busybox.sif order >/dev/null && \$W/singlet instance stop order >/dev/null"
echo 0 > "$T/events/singlet_order/enable"

python3 - "$T/trace" "$W/names" "$(order_file "$W/singlet")" <<'PY'
import os, re, sys
trace, names, out = sys.argv[1:]
name = {int(a, 16): n for a, n in (l.split() for l in open(names))}
start = next(a for a, n in name.items() if n == "_start")
order, base, stray = [], None, 0
for l in open(trace):
    m = re.search(r" hit: \((0x[0-9a-f]+)\)", l)
    if not m:
        continue
    ip = int(m.group(1), 16)
    if base is None:
        base = ip - start  # the first hit is the first process's _start
    n = name.get(ip - base)
    if n is None:
        stray += 1
    else:
        order.append(n)
order = list(dict.fromkeys(order))
if stray or len(order) < 100:
    sys.exit(f"startup-order: {stray} hits at no function's address, {len(order)} functions: is address randomisation off?")
tmp = out + ".tmp"
with open(tmp, "w") as f:
    f.write("".join(n + "\n" for n in order))
os.replace(tmp, out)
print(f"{len(order)} of {len(name)} functions called; order written to {out}")
PY
