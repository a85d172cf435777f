#!/usr/bin/env bash
# The release binary as it is shipped and measured (bench/README.md): a static PIE, like runc's
# and crun's release binaries. It needs no shared library where it runs, so one file serves
# every node of a cluster whatever its glibc, and it starts with less: no dynamic loader, and
# only the glibc functions it calls, ordered with its own start-up code (link/startup.order).
# Relocations are packed (DT_RELR, build.rs).
#
# Usage: scripts/release.sh [--dynamic] [--example NAME]
#   prints the path of the built `singlet` on standard output (make `singlet-oci` a link to it).
#   --example NAME: build examples/NAME.rs the same way and print its path instead (the
#   measuring tools of bench/, e.g. unverified_pull for bench/pull.sh).
#   --dynamic: a plain `cargo build --release` instead (glibc's shared libraries, PIE), for sites
#   whose user database is reached through an NSS module other than files (sss, ldap, systemd)
#   and that want glibc's own lookups in every case (a static build asks `getent` for users and
#   groups /etc/passwd and /etc/group lack: src/sys/users.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
dynamic=; example=
while [ $# -gt 0 ]; do
  case "$1" in
    --dynamic) dynamic=1; shift ;;
    --example) [ $# -ge 2 ] || { echo "release.sh: --example needs a NAME" >&2; exit 2; }
      example=$2; shift 2 ;;
    *) echo "release.sh: unknown argument $1 (usage: scripts/release.sh [--dynamic] [--example NAME])" >&2; exit 2 ;;
  esac
done
what=(--bin singlet); out=singlet
[ -n "$example" ] && { what=(--example "$example"); out="examples/$example"; }
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ -n "$dynamic" ]; then
  cargo build --release "${what[@]}" >&2
  echo "$target_dir/release/$out"
  exit
fi
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu) ;;
  *) echo "release.sh: static glibc builds are made for *-linux-gnu hosts, this is $host: use --dynamic" >&2; exit 2 ;;
esac
# --target keeps the flag off the build scripts and proc-macros, which cannot be static
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" cargo build --release --target "$host" "${what[@]}" >&2
echo "$target_dir/$host/release/$out"
