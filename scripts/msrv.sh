#!/usr/bin/env bash
# Checks the declared MSRV (workspace.package rust-version in Cargo.toml) without a second
# toolchain: every crate the workspace resolves to must declare a rust-version no newer than
# ours, and clippy's incompatible_msrv lint (on by default, -D warnings in scripts/test.sh)
# refuses standard-library items stabilized after it. Usage: scripts/msrv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 -c '
import json, re, sys
m = json.load(sys.stdin)
toml = open("Cargo.toml").read()
ours = re.search(r"^rust-version\s*=\s*\"([0-9.]+)\"", toml, re.M).group(1)
key = lambda v: tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])
used = {n["id"] for n in m["resolve"]["nodes"]}
newer = sorted(
    (p["name"], p["version"], p["rust_version"])
    for p in m["packages"]
    if p["id"] in used and p.get("rust_version") and key(p["rust_version"]) > key(ours)
)
for n, v, r in newer:
    print(f"{n} {v} needs Rust {r}, newer than the declared MSRV {ours}", file=sys.stderr)
if newer:
    sys.exit(1)
print(f"MSRV {ours}: every resolved crate declares it or older")
'
