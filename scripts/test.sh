#!/usr/bin/env bash
# singlet's whole test suite on a fresh Debian 12 machine, as root:
#   installs what it needs (scripts/deps.sh), checks format and lints, builds, runs the unit
#   and integration tests (real containers as root and as unprivileged users), then the
#   runtime-spec conformance suite against singlet-oci and, to check the suite itself, runc,
#   and the real clients (Podman, containerd, CRI) with singlet-oci and with runc.
#
# scripts/test.sh --quick: the fast tier for a change in progress (no package installs, no
#   peers): format, lints, layering, MSRV, unit tests, and the golden configurations (as root also
#   the unprivileged ones). About a minute after a build.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

if [ "${1:-}" = --quick ]; then
  [ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
  echo "== quick: format, lints, layering"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
  ./scripts/layers.sh
  ./scripts/msrv.sh
  echo "== quick: unit tests"
  cargo test --workspace --lib --bins -q
  echo "== quick: golden configurations"
  TARGET=${CARGO_TARGET_DIR:-$REPO/target}
  cargo build -q
  chmod -R a+rX "$TARGET/debug" 2>/dev/null || true
  cargo test -q --test it golden
  echo "== quick tier passed"
  exit 0
fi

./scripts/deps.sh
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
export SINGLET_TEST_USER=${SINGLET_TEST_USER:-singlet-test}
export SINGLET_TEST_USER_NOSUB=${SINGLET_TEST_USER_NOSUB:-singlet-nosub}

# Unprivileged test users must be able to execute the binaries: build outside the checkout
# when its path is not traversable for them.
if ! setpriv --reuid="$(id -u "$SINGLET_TEST_USER")" --regid="$(id -g "$SINGLET_TEST_USER")" --clear-groups \
     test -x "$REPO/Cargo.toml" -o -r "$REPO/Cargo.toml" 2>/dev/null; then
  export CARGO_TARGET_DIR=/var/tmp/singlet-target
  mkdir -p "$CARGO_TARGET_DIR"; chmod 755 "$CARGO_TARGET_DIR"
fi
TARGET=${CARGO_TARGET_DIR:-$REPO/target}

# Close stray descriptors inherited from the calling environment (docs/reference/clients.md §d.8).
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
done

echo "== format, lints, layering"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
./scripts/layers.sh
./scripts/msrv.sh

echo "== build"
cargo build --workspace
chmod -R a+rX "$TARGET/debug" 2>/dev/null || true
ln -sf singlet "$TARGET/debug/singlet-oci"

echo "== reference SIF tools (siftool, sifref) from golang-github-sylabs-sif-dev"
./tests/interop/build.sh "$TARGET/sifref-bin"
export SINGLET_SIFTOOL="$TARGET/sifref-bin/siftool" SINGLET_SIFREF="$TARGET/sifref-bin/sifref"
export SINGLET_TESTDATA=${SINGLET_TESTDATA:-$(cd "$REPO/../shared/testdata/sif" 2>/dev/null && pwd || echo /work/shared/testdata/sif)}

echo "== unit and integration tests"
cargo test --workspace -- --test-threads "${SINGLET_TEST_THREADS:-4}"

echo "== conformance (runtime-spec v1.2)"
CONF="$TARGET/debug/conformance"
status=0
run_conf() { # runtime, user (empty = root)
  local rt=$1 user=${2:-}
  echo "-- $rt as ${user:-root}"
  if [ -n "$user" ]; then
    (cd /tmp && setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups \
       env HOME="/home/$user" PATH=/usr/bin:/bin "$CONF" --runtime "$rt") | tee "/tmp/conformance-$(basename "$rt")-$user.txt"
  else
    "$CONF" --runtime "$rt" | tee "/tmp/conformance-$(basename "$rt")-root.txt"
  fi
}
run_conf "$TARGET/debug/singlet-oci" || status=1
run_conf "$TARGET/debug/singlet-oci" "$SINGLET_TEST_USER" || status=1
# runc checks the suite: its failures must all be listed known differences.
run_conf /usr/sbin/runc || status=1
run_conf /usr/sbin/runc "$SINGLET_TEST_USER" || status=1

echo "== clients: Podman (rootful, rootless), containerd ctr and CRI with singlet-oci; runc as the reference"
./tests/clients/run.sh "$TARGET/debug/singlet-oci" singlet-oci "$TARGET/debug/singlet-cri-test" || status=1
./tests/clients/run.sh /usr/sbin/runc runc-ref "$TARGET/debug/singlet-cri-test" || status=1

if [ "$status" != 0 ]; then
  echo "FAILED: see the conformance and client tables above" >&2
  exit 1
fi
echo "== all tests passed"
