#!/usr/bin/env bash
# Writable containers and the cache (issue 15), on reference/debian.sif, interleaved:
#  1. unprivileged cold exec: extraction into an empty cache vs the squashfuse path (a private
#     mount namespace with a 0666 /dev/fuse node bound over the host's, as most distributions
#     open it to users; this host's is 0600);
#  2. a second image on the same base: cold exec of a derived SIF (one file added) with the
#     base's tree already in the cache (identical files are hard links) vs the base alone;
#     disk usage of the cache after each;
#  3. warm exec with an ext3 overlay image vs without, as root (loop device) and unprivileged
#     (fuse2fs + fuse-overlayfs over the extracted tree), and with --writable-tmpfs for
#     reference.
# Usage: bench/overlay.sh [RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${1:-20}
DEB="$TESTDATA/reference/debian.sif"
U="$W/u"
mkdir -p "$U"
cp "$DEB" "$U/debian.sif"
# The derived image: the base's tree plus one file, squashed again (mtimes kept).
"$W/singlet" build -q --sandbox "$U/sb" "$DEB" >/dev/null 2>&1 || "$W/singlet" build --sandbox "$U/sb" "$DEB" >/dev/null
echo derived > "$U/sb/opt/derived"
"$W/singlet" build "$U/derived.sif" "$U/sb" >/dev/null
rm -rf "$U/sb"
mknod -m 0666 "$W/fuse-node" c 10 229
chown -R "$BUSER:" "$U"
EXTRACT=$(user_cmd SINGLET_CACHEDIR=$U/cache "$W/singlet" exec "$U/debian.sif" /bin/true)
FUSE=$(with_fuse "$(user_cmd SINGLET_CACHEDIR=$U/cache "$W/singlet" exec "$U/debian.sif" /bin/true)")
$INTERLEAVE --runs "$RUNS" --warmup 1 --setup "rm -rf $U/cache" \
  --title "unprivileged: cold exec of debian.sif, squashfuse (fuse node open) vs extraction" \
  "squashfuse=$FUSE" "extraction=$EXTRACT"

BASE=$(user_cmd SINGLET_CACHEDIR=$U/c1 "$W/singlet" exec --unsquash "$U/debian.sif" /bin/true)
DERIVED1=$(user_cmd SINGLET_CACHEDIR=$U/c1 "$W/singlet" exec --unsquash "$U/derived.sif" /bin/true)
DERIVED2=$(user_cmd SINGLET_CACHEDIR=$U/c2 "$W/singlet" exec --unsquash "$U/derived.sif" /bin/true)
$INTERLEAVE --runs "$RUNS" --warmup 1 --setup "rm -rf $U/c1 $U/c2 && $BASE" \
  --title "unprivileged: cold exec of a derived image (base + 1 file), the base's tree in the cache vs an empty cache" \
  "base cached (files shared)=$DERIVED1" "empty cache=$DERIVED2"
rm -rf "$U/c1" "$U/c2"
sh -c "$BASE"
one=$(du -sk "$U/c1" | cut -f1)
sh -c "$DERIVED1"
two=$(du -sk "$U/c1" | cut -f1)
echo "cache after the base: ${one} KiB; after base + derived: ${two} KiB ($(python3 -c "print(f'{$two/$one:.3f}')")x)"
echo

# Warm exec with an ext3 overlay image.
"$W/singlet" overlay create --size 256 "$W/root-ov.img"
as_user "$W/singlet overlay create --size 256 $U/user-ov.img"
export SINGLET_CACHEDIR="$W/rootcache"
"$W/singlet" exec "$DEB" true
$INTERLEAVE --runs "$RUNS" \
  --title "root: warm exec of debian.sif with an ext3 overlay image (loop device) vs without" \
  "ext3 overlay=$W/singlet exec --overlay $W/root-ov.img $DEB /bin/true" \
  "no overlay=$W/singlet exec $DEB /bin/true" \
  "writable-tmpfs=$W/singlet exec --writable-tmpfs $DEB /bin/true"
sh -c "$(with_fuse "$(user_cmd SINGLET_CACHEDIR=$U/cache "$W/singlet" exec "$U/debian.sif" true)")"
$INTERLEAVE --runs "$RUNS" \
  --title "unprivileged (fuse node open): warm exec of debian.sif with an ext3 overlay image (fuse2fs + fuse-overlayfs) vs without" \
  "ext3 overlay=$(with_fuse "$(user_cmd SINGLET_CACHEDIR=$U/cache "$W/singlet" exec --overlay "$U/user-ov.img" "$U/debian.sif" /bin/true)")" \
  "no overlay=$(with_fuse "$(user_cmd SINGLET_CACHEDIR=$U/cache "$W/singlet" exec "$U/debian.sif" /bin/true)")" \
  "no overlay, --unsquash=$(with_fuse "$(user_cmd SINGLET_CACHEDIR=$U/cache "$W/singlet" exec --unsquash "$U/debian.sif" /bin/true)")" \
  "writable-tmpfs=$(with_fuse "$(user_cmd SINGLET_CACHEDIR=$U/cache "$W/singlet" exec --writable-tmpfs "$U/debian.sif" /bin/true)")"
