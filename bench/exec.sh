#!/usr/bin/env bash
# `singlet exec IMAGE /bin/true` as an unprivileged user, warm (rootfs cache ready) and cold
# (first run: extraction), on the busybox and Debian SIFs, interleaved with `crun run` and
# `runc run` of a rootless bundle on the same rootfs; then, as root, cold exec of the Debian
# SIF with squashfuse, and extraction throughput against unsquashfs. Usage: bench/exec.sh [RUNS]
#   SINGLET_BASELINE=/path/to/older/singlet adds that build to the exec comparisons ("baseline").
source "$(dirname "$0")/common.sh"
RUNS=${1:-30}
if [ -n "${SINGLET_BASELINE:-}" ]; then
  cp "$SINGLET_BASELINE" "$W/singlet-base"
  BX="\"baseline exec=$W/singlet-base exec"   # completed per row: IMAGE /bin/true"
fi
base_row() { # IMAGE: the baseline's row of a comparison, if any
  [ -n "${SINGLET_BASELINE:-}" ] && printf '%s %s /bin/true" ' "$BX" "$1"
  return 0
}
BB="$TESTDATA/reference/busybox.sif"
DEB="$TESTDATA/reference/debian.sif"
mkdir -p "$W/u"
chown "$BUSER:" "$W/u"

# Bundles with the images' own rootfs (extracted with unsquashfs) for crun and runc.
for img in busybox debian; do
  f="$TESTDATA/reference/$img.sif"
  off=$("$W/singlet" sif list "$f" | awk -F'|' '/\*System/ {split($4, a, "-"); print a[1]+0}')
  mkdir -p "$W/u/$img"
  unsquashfs -q -n -o "$off" -d "$W/u/$img/rootfs" "$f" >/dev/null
  true_config "$W/u/$img" "$(id -u "$BUSER")" "$(id -g "$BUSER")"
done
chown -R "$BUSER:" "$W/u"
cat > "$W/u/bench.sh" <<EOS
set -e
export SINGLET_CACHEDIR=$W/u/cache
cd $W/u
I="python3 $BENCH/interleave.py --runs $RUNS"
$W/singlet exec $BB true; $W/singlet exec $DEB true
${SINGLET_BASELINE:+$W/singlet-base exec $BB true; $W/singlet-base exec $DEB true}
\$I --title "unprivileged: warm exec, busybox" \
  "singlet exec=$W/singlet exec $BB /bin/true" $(base_row "$BB") \
  "crun run=cd $W/u/busybox && crun --root $W/u/st-c run c{i}" \
  "runc run=cd $W/u/busybox && runc --root $W/u/st-r run r{i}"
\$I --title "unprivileged: warm exec, debian" \
  "singlet exec=$W/singlet exec $DEB /bin/true" $(base_row "$DEB") \
  "crun run=cd $W/u/debian && crun --root $W/u/st-c run d{i}" \
  "runc run=cd $W/u/debian && runc --root $W/u/st-r run e{i}"
python3 $BENCH/interleave.py --runs 10 --warmup 0 --title "unprivileged: cold exec (extraction into an empty cache)" \
  --setup "rm -rf $W/u/cache" \
  "singlet exec busybox=$W/singlet exec $BB /bin/true" \
  "singlet exec debian=$W/singlet exec $DEB /bin/true"
EOS
as_user "sh $W/u/bench.sh"

echo
OFF=$("$W/singlet" sif list "$DEB" | awk -F'|' '/\*System/ {split($4, a, "-"); print a[1]+0}')
export SINGLET_CACHEDIR="$W/rootcache"
ROOTBASE=()
[ -n "${SINGLET_BASELINE:-}" ] && ROOTBASE=("baseline (squashfuse)=$W/singlet-base exec $DEB /bin/true")
$INTERLEAVE --runs "$RUNS" --title "root: cold exec of debian.sif with squashfuse (mount per run)" \
  "singlet exec (squashfuse)=$W/singlet exec $DEB /bin/true" "${ROOTBASE[@]}"
# On this VM's ext4 (mounted with discard) creating files after a large delete costs ~0.5 ms
# each and whoever runs first after the delete pays for it, so the throughput comparison is
# made on tmpfs, where the extractors' own work shows; the disk figures follow for reference.
SHM=$(mktemp -d /dev/shm/singlet-bench.XXXXXX)
trap 'rm -rf "$W" "$SHM"' EXIT
SINGLET_CACHEDIR="$SHM/cache" $INTERLEAVE --runs "$RUNS" --warmup 1 \
  --title "extraction of debian.sif's partition to tmpfs (singlet includes the exec)" \
  --setup "rm -rf $SHM/cache $SHM/unsq" \
  "singlet (exec --unsquash, cold)=$W/singlet exec --unsquash $DEB /bin/true" \
  "unsquashfs -d=unsquashfs -q -n -o $OFF -d $SHM/unsq $DEB"
$INTERLEAVE --runs 10 --warmup 1 --title "extraction of debian.sif's partition to disk" \
  --setup "rm -rf $W/rootcache $W/unsq; sync" \
  "singlet (exec --unsquash, cold)=$W/singlet exec --unsquash $DEB /bin/true" \
  "unsquashfs -d=unsquashfs -q -n -o $OFF -d $W/unsq $DEB"
