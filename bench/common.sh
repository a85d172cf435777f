# Shared set-up for the bench scripts: the release build (scripts/release.sh), the singlet-oci link, a busybox rootfs.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ -z "${SINGLET_BIN:-}" ]; then
  # the shipped build (static; SINGLET_BIN=$(scripts/release.sh --dynamic) measures the other)
  SINGLET_BIN=$(CARGO_TERM_QUIET=true "$REPO/scripts/release.sh")
fi
TESTDATA=${SINGLET_TESTDATA:-$REPO/../shared/testdata/sif}
[ -d "$TESTDATA" ] || TESTDATA=/work/shared/testdata/sif
BUSER=${SINGLET_TEST_USER:-singlet-test}
W=$(mktemp -d /tmp/singlet-bench.XXXXXX)
chmod 755 "$W"
cp "$SINGLET_BIN" "$W/singlet"
ln -sf singlet "$W/singlet-oci"
trap 'rm -rf "$W"' EXIT
INTERLEAVE="python3 $BENCH/interleave.py"

as_user() { # run a shell snippet as the unprivileged bench user
  setpriv --reuid="$(id -u "$BUSER")" --regid="$(id -g "$BUSER")" --init-groups \
    env -i HOME="/home/$BUSER" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin W="$W" sh -c "$1"
}

user_cmd() { # WORDS…: a command line running WORDS as the bench user (env assignments first)
  printf 'setpriv --reuid=%s --regid=%s --init-groups env -i HOME=/home/%s PATH=/usr/bin:/bin:/usr/sbin:/sbin %s' \
    "$(id -u "$BUSER")" "$(id -g "$BUSER")" "$BUSER" "$*"
}

with_fuse() { # CMD: CMD in a private mount namespace with $W/fuse-node (0666) over /dev/fuse
  [ -e "$W/fuse-node" ] || mknod -m 0666 "$W/fuse-node" c 10 229
  printf "unshare --mount --propagation private sh -c 'mount --bind %s /dev/fuse && exec %s'" "$W/fuse-node" "$1"
}

busybox_rootfs() { # DIR
  mkdir -p "$1/bin" "$1/proc" "$1/sys" "$1/dev" "$1/tmp" "$1/etc" "$1/root"
  cp /bin/busybox "$1/bin/"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$1/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$1/etc/passwd"
}

true_config() { # DIR [UID GID]: DIR/config.json for DIR/rootfs running /bin/true, no terminal;
  # rootless (`spec --rootless`) with container root mapped to UID:GID when they are given
  (cd "$1" && "$W/singlet-oci" spec ${2:+--rootless})
  python3 - "$1/config.json" "${@:2}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ociVersion"] = "1.0.2"          # crun 1.8 rejects newer versions
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
if len(sys.argv) > 2:
    uid, gid = int(sys.argv[2]), int(sys.argv[3])
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
json.dump(c, open(sys.argv[1], "w"))
PY
}

true_bundle() { # DIR [UID GID]: a busybox bundle running /bin/true (see true_config)
  mkdir -p "$1"
  busybox_rootfs "$1/rootfs"
  true_config "$@"
}

# crun refuses hybrid cgroups while hugetlb sits on cgroup2 (DEVELOPERS notes)
if [ "$(id -u)" = 0 ] && [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb hugetlb /sys/fs/cgroup/hugetlb || true
fi

order_file() { # BINARY: the link/ order file build.rs gives that build (static or dynamic)
  if readelf -lW "$1" | grep -q INTERP; then
    echo "$REPO/link/startup.dynamic.order"
  else
    echo "$REPO/link/startup.order"
  fi
}
