#!/usr/bin/env bash
# Singularity 2.x ext3 images (issue 20): the Debian rootfs of reference/debian.sif as an
# ext3 image (with the 2.x launch line) against the SIF, interleaved:
#  1. root: exec /bin/true of the ext3 image (loop device) vs the SIF (squashfuse);
#  2. unprivileged with /dev/fuse open (a private mount namespace with a 0666 node bound over
#     the host's 0600 one): ext3 (fuse2fs) vs the SIF warm (extracted tree in the cache) vs
#     the SIF with squashfuse;
#  3. unprivileged without FUSE, cold: ext3 (a private debugfs copy each run) vs the SIF
#     (extraction into an empty cache).
# Usage: bench/ext3.sh [RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${1:-20}
DEB="$TESTDATA/reference/debian.sif"
U="$W/u"
mkdir -p "$U"
cp "$DEB" "$U/debian.sif"
"$W/singlet" -q build --sandbox "$U/tree" "$DEB"
printf '#!/usr/bin/env run-singularity\n' > "$U/debian.img"
truncate -s $((31 + 400 * 1024 * 1024)) "$U/debian.img"
mkfs.ext3 -q -F -E offset=31 -d "$U/tree" "$U/debian.img" 409600k
rm -rf "$U/tree"
mknod -m 0666 "$W/fuse-node" c 10 229
chown -R "$BUSER:" "$U"

export SINGLET_CACHEDIR="$W/rootcache"
$INTERLEAVE --runs "$RUNS" --title "root: exec of the Debian rootfs, ext3 image (loop device) vs SIF (squashfuse)" \
  "ext3=$W/singlet exec $U/debian.img /bin/true" \
  "sif=$W/singlet exec $U/debian.sif /bin/true"

C="SINGLET_CACHEDIR=$U/cache"
sh -c "$(user_cmd $C "$W/singlet" exec --unsquash "$U/debian.sif" true)"
$INTERLEAVE --runs "$RUNS" \
  --title "unprivileged, /dev/fuse open: ext3 (fuse2fs) vs SIF warm (extracted tree) vs SIF (squashfuse)" \
  "ext3=$(with_fuse "$(user_cmd $C "$W/singlet" exec "$U/debian.img" /bin/true)")" \
  "sif warm=$(with_fuse "$(user_cmd $C "$W/singlet" exec --unsquash "$U/debian.sif" /bin/true)")" \
  "sif squashfuse=$(with_fuse "$(user_cmd $C "$W/singlet" exec "$U/debian.sif" /bin/true)")"

$INTERLEAVE --runs 10 --warmup 1 --setup "rm -rf $U/cache" \
  --title "unprivileged, no FUSE, cold: ext3 (private debugfs copy) vs SIF (extraction into an empty cache)" \
  "ext3=$(user_cmd $C "$W/singlet" exec "$U/debian.img" /bin/true)" \
  "sif=$(user_cmd $C "$W/singlet" exec "$U/debian.sif" /bin/true)"
