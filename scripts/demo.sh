#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is needed, build and install
# singlet (with the singlet-oci link), then, as an unprivileged user:
#   1. run a real SIF image rootless with `singlet exec` and `singlet run` (the Debian SIF of the
#      shared test data, or a busybox SIF built here when that is not available);
#   2. build a busybox OCI bundle from the host's busybox-static and run it rootless through
#      `singlet-oci run`.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
# the static release binary (scripts/release.sh says why)
install -m 0755 "$(./scripts/release.sh)" /usr/local/bin/singlet
ln -sf singlet /usr/local/bin/singlet-oci
# `./image.sif` runs `/usr/bin/env run-singularity ./image.sif` (the SIF's launch script).
[ -e /usr/local/bin/run-singularity ] || ln -sf singlet /usr/local/bin/run-singularity
/usr/local/bin/singlet generate man /usr/local/share/man/man1 >/dev/null 2>&1 || true

USER_NAME=${SINGLET_TEST_USER:-singlet-test}
WORK=$(mktemp -d /tmp/singlet-demo.XXXXXX)
chmod 755 "$WORK"
chown "$USER_NAME:" "$WORK"
trap 'rm -rf "$WORK"' EXIT

SIF=$(cd "$(dirname "$0")/.." && pwd)/../shared/testdata/sif/reference/debian.sif
[ -f "$SIF" ] || SIF=/work/shared/testdata/sif/reference/debian.sif
if [ ! -f "$SIF" ]; then
  # No shared image: build a busybox SIF (squashfs of a busybox rootfs as the primary partition).
  R="$WORK/sifroot"
  mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/proc" "$R/sys" "$R/dev" "$R/home" "$R/root"
  cp /bin/busybox "$R/bin/"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
  mksquashfs "$R" "$WORK/rootfs.squashfs" -noappend -all-root -no-progress -quiet
  SIF="$WORK/busybox.sif"
  singlet sif new "$SIF"
  singlet sif add --datatype 4 --parttype 2 --partfs 1 --partarch 2 --groupid 1 "$SIF" "$WORK/rootfs.squashfs"
  chmod 755 "$SIF"
fi
echo "== singlet exec/run of $SIF as $USER_NAME (rootless)"
setpriv --reuid="$(id -u "$USER_NAME")" --regid="$(id -g "$USER_NAME")" --init-groups \
  env -i HOME="/home/$USER_NAME" USER="$USER_NAME" PATH=/usr/local/bin:/usr/bin:/bin sh -eu -c "
  cd /home/$USER_NAME
  singlet exec '$SIF' sh -c 'echo \"running \$(. /etc/os-release 2>/dev/null; echo \${PRETTY_NAME:-busybox}) as \$(id -un) (uid \$(id -u))\"'
  singlet run '$SIF' echo 'runscript done' || true
"
echo "== singlet-oci run of a busybox bundle as $USER_NAME (rootless)"

setpriv --reuid="$(id -u "$USER_NAME")" --regid="$(id -g "$USER_NAME")" --init-groups \
  env -i HOME="/home/$USER_NAME" PATH=/usr/local/bin:/usr/bin:/bin WORK="$WORK" sh -eu -c '
  cd "$WORK"
  mkdir -p bundle/rootfs/bin bundle/rootfs/proc bundle/rootfs/dev bundle/rootfs/sys bundle/rootfs/tmp bundle/rootfs/etc
  cp /bin/busybox bundle/rootfs/bin/
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "bundle/rootfs/bin/$a"; done
  echo "root:x:0:0:root:/root:/bin/sh" > bundle/rootfs/etc/passwd
  cd bundle
  singlet-oci spec --rootless
  python3 - <<"PY"
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c",
    "echo hello from a rootless singlet container: uid $(id -u), uid_map $(cat /proc/self/uid_map)"]
json.dump(c, open("config.json", "w"), indent=2)
PY
  echo "running as $(id -un) (uid $(id -u)):"
  singlet-oci run demo
'
