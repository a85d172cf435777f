#!/usr/bin/env bash
# Regenerates link/resident.order: the functions of the static release binary that the
# runtime's long-lived waiting processes run after they have given their code pages back
# (`sys::mem::release_code`): an instance's monitor and init, and the foreground `run` waiting
# for its container. build.rs puts them ahead of link/startup.order, together, so that the
# code those processes fault back in sits in one fault-around window (128 KiB on this host's
# kernel) that they share, instead of in three or more each (bench/README.md, "Resident code").
#
# Measured, not guessed: uprobes cannot be used (a probe's page is an anonymous copy, which
# release_code leaves alone), so this traces the page faults of instruction fetches
# (exceptions:page_fault_user) that those processes take after release_code's madvise(2) of
# the binary's code (syscalls:sys_enter_madvise at the code mapping), and names the function
# holding each faulting address. A fault maps the whole window around it, so a function that
# only shares a window with an earlier fault is not seen until the functions that hid it have
# moved: the result is merged into the existing file, and the script says how many functions
# were new. Run it (and relink) until none are.
# Usage (as root, a static release build): bench/resident-order.sh
# SINGLET_BIN=PATH profiles that build instead of a fresh release build.
set -euo pipefail
if [ -z "${SINGLET_ORDER_NS:-}" ]; then
  # a private mount namespace for tracefs; no address-space randomisation, so that the
  # binary sits at the same address in every process below
  exec env SINGLET_ORDER_NS=1 unshare --mount --propagation private setarch "$(uname -m)" -R "$0" "$@"
fi
source "$(dirname "$0")/common.sh"
if readelf -lW "$W/singlet" | grep -q INTERP; then
  echo "resident-order: $SINGLET_BIN is a dynamic build; link/resident.order is for the static one" >&2
  exit 1
fi
T=/sys/kernel/tracing
mountpoint -q "$T" || mount -t tracefs nodev "$T"
F=$T/events/exceptions/page_fault_user
M=$T/events/syscalls/sys_enter_madvise
cleanup() {
  echo 0 > "$F/enable" 2>/dev/null || true
  echo 0 > "$M/enable" 2>/dev/null || true
  echo 0 > "$F/filter" 2>/dev/null || true
  as_user "SINGLET_CACHEDIR=\$W/u/cache \$W/singlet instance stop resident >/dev/null 2>&1" || true
  rm -rf "$W"
}
trap cleanup EXIT

mkdir -p "$W/u" "$W/b"
cp "$TESTDATA/real/singularity-3.8.1-busybox_amd64.sif" "$W/u/busybox.sif"
chown -R "$BUSER:" "$W/u"
true_bundle "$W/b"
python3 - "$W/b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/bin/sleep", "2.5"]
json.dump(c, open(sys.argv[1], "w"))
PY
# a first start fills the user's image cache, so that the traced one is the usual warm start
as_user "SINGLET_CACHEDIR=\$W/u/cache \$W/singlet exec \$W/u/busybox.sif true"

echo 65536 > "$T/buffer_size_kb"
: > "$T/trace"
echo 'error_code & 0x10' > "$F/filter" # instruction fetches only
echo 1 > "$M/enable"
echo 1 > "$F/enable"
echo "resident-begin" > "$T/trace_marker"
as_user "SINGLET_CACHEDIR=\$W/u/cache \$W/singlet instance start \$W/u/busybox.sif resident >/dev/null"
(cd "$W/b" && "$W/singlet-oci" --root "$W/st" run r1) &
RUN=$!
sleep 2 # the monitor and `run` give their code back after 1 s
PIDS=$(pgrep -u "$BUSER" -f "instance start" | tr '\n' ' ')
PIDS="$PIDS $(pgrep -f "singlet-oci --root $W/st run r1" | tr '\n' ' ')"
read -r FIRST _ <<< "$PIDS"
if [ -z "${FIRST:-}" ]; then
  echo "resident-order: neither the instance nor the run is there 2 s after starting them" >&2
  exit 1
fi
# the binary's mappings by inode: a process in another mount namespace names the file otherwise
INODE=$(stat -L -c %i "$W/singlet")
BASE=$(awk -v ino="$INODE" '$5 == ino && $3 == "00000000" {split($1, a, "-"); print a[1]; exit}' "/proc/$FIRST/maps")
TEXT=$(awk -v ino="$INODE" '$5 == ino && $2 ~ /x/ {split($1, a, "-"); print a[1]; exit}' "/proc/$FIRST/maps")
echo "# resident code (KiB, Rss of the binary's code mapping) with this build's order:"
for p in $PIDS; do
  echo "  $p $(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-40)… $(awk -v ino="$INODE" '/^[0-9a-f]+-/ {m = ($2 == "r-xp" && $5 == ino); next} m && /^Rss:/ {print $2}' "/proc/$p/smaps") KiB"
done
echo "resident-end" > "$T/trace_marker"
echo 0 > "$F/enable"
echo 0 > "$M/enable"
wait "$RUN"

python3 - "$T/trace" "$W/singlet" "$BASE" "$TEXT" "$REPO/link/resident.order" $PIDS <<'PY'
import bisect, os, re, subprocess, sys
trace, binary, base, text, out, *pids = sys.argv[1:]
base, text, pids = int(base, 16), int(text, 16), set(pids)
funcs = []
nm = subprocess.run(["nm", "--defined-only", "-S", binary], capture_output=True, text=True, check=True)
for l in nm.stdout.splitlines():
    f = l.split()
    if len(f) == 4 and f[2] in "tTwW" and int(f[1], 16) > 0:
        funcs.append((int(f[0], 16), int(f[1], 16), f[3]))
funcs.sort()
starts = [a for a, _, _ in funcs]
# per pid: the functions faulted in since release_code gave the code mapping back
since, inside = {}, False
for l in open(trace):
    if "resident-begin" in l:
        inside = True
        continue
    if "resident-end" in l:
        break
    m = re.match(r"\s*(.+?)-(\d+)\s", l)
    if not inside or not m or m.group(2) not in pids:
        continue
    pid = m.group(2)
    adv = re.search(r"sys_madvise\(start: 0x([0-9a-f]+)", l)
    if adv:
        if int(adv.group(1), 16) == text:
            since[pid] = []  # the code mapping given back: from here on it faults back in
        continue
    a = re.search(r"page_fault_user: address=(0x[0-9a-f]+)", l)
    if a and pid in since:
        rel = int(a.group(1), 16) - base
        i = bisect.bisect_right(starts, rel) - 1
        if i >= 0 and rel < funcs[i][0] + funcs[i][1]:
            since[pid].append(funcs[i][2])
        elif os.environ.get("SINGLET_RESIDENT_DEBUG"):
            print(f"{pid}: a fault at {rel:#x} (binary offset) in no function", file=sys.stderr)
if len(since) < 3:
    sys.exit(f"resident-order: only {len(since)} of the processes {sorted(pids)} gave their code back (madvise): is release_code called?")
for p in sorted(since):
    print(f"{p}: {len(since[p])} code faults after the code was given back")
have = [n for n in open(out).read().split()] if os.path.exists(out) else []
new = [n for p in sorted(since) for n in since[p] if n not in have]
new = list(dict.fromkeys(new))
tmp = out + ".tmp"
with open(tmp, "w") as f:
    f.write("".join(n + "\n" for n in have + new))
os.replace(tmp, out)
if new:
    print(f"{len(have) + len(new)} functions in {out}, {len(new)} new: relink and run this again until none are")
else:
    print(f"{len(have)} functions in {out}, none new: the order is complete for this build")
PY
