#!/usr/bin/env bash
# Installs what singlet's build, tests and benchmarks need on Debian 12, and prepares the host:
# test users with and without /etc/subuid ranges, and crun's hugetlb workaround.
# Idempotent; run as root.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh must run as root (it uses apt-get and useradd)" >&2
  exit 1
fi

PKGS=(
  build-essential pkg-config curl ca-certificates git
  libseccomp-dev
  busybox-static uidmap procps psmisc util-linux strace
  runc crun
  squashfs-tools squashfuse fuse3 fuse-overlayfs fuse2fs e2fsprogs
  skopeo umoci docker-registry
  golang-go golang-github-sylabs-sif-dev openssl gnupg
  debootstrap hyperfine python3 python3-venv
  podman containerd catatonit protobuf-compiler
  slirp4netns
  slurmctld slurmd slurm-client munge openmpi-bin libopenmpi-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  for d in "$HOME/.cargo/bin" /root/.cargo/bin /usr/local/cargo/bin; do
    [ -x "$d/cargo" ] && export PATH="$d:$PATH"
  done
fi
command -v cargo >/dev/null || { echo "cargo not found (install Rust with rustup)" >&2; exit 1; }

# An independent ORAS client for the oras:// tests and bench/pull.sh (the ORAS project's
# Python SDK, from PyPI; Debian has no ORAS client).
if ! /opt/singlet-venv/bin/python3 -c 'import oras' 2>/dev/null; then
  python3 -m venv /opt/singlet-venv
  /opt/singlet-venv/bin/pip install -q 'oras==0.2.43'
fi

# Test users: one with subordinate id ranges, one without.
TEST_USER=${SINGLET_TEST_USER:-singlet-test}
NOSUB_USER=${SINGLET_TEST_USER_NOSUB:-singlet-nosub}
id "$TEST_USER" >/dev/null 2>&1 || useradd -m "$TEST_USER"
id "$NOSUB_USER" >/dev/null 2>&1 || useradd -m "$NOSUB_USER"
if ! grep -q "^$TEST_USER:" /etc/subuid; then
  usermod --add-subuids 400000-465535 --add-subgids 400000-465535 "$TEST_USER"
fi
sed -i "/^$NOSUB_USER:/d" /etc/subuid /etc/subgid

# crun refuses hybrid cgroups while hugetlb is on cgroup2 (see DEVELOPERS notes).
if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb 2>/dev/null; then
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb hugetlb /sys/fs/cgroup/hugetlb || true
fi
