#!/usr/bin/env python3
"""Carries an order file (link/*.order) over to a new build's symbol names.

A Rust symbol's mangled name ends in a hash of the crate's build metadata (`17h<16 hex>E`),
which changes with every dependency change even where the code does not; the order files then
name functions the binary no longer has (bench/README.md, "Start-up symbol order": after a new
dependency, 729 of 1,315 names were left). This maps each name to the binary's symbol with the
same path and another hash when exactly one such symbol exists, keeps names the binary has
(C functions, unchanged hashes), and drops the rest. Cheaper than measuring again
(bench/resident-order.sh needs several relinks), but it cannot add functions the new code
calls: bench/startup-order.sh remains the way to a complete start-up order.

Usage: bench/order-rename.py BINARY ORDER_FILE...   (rewrites each file in place)
"""
import collections
import os
import re
import subprocess
import sys

HASH = re.compile(r"17h[0-9a-f]{16}E$")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    binary, files = sys.argv[1], sys.argv[2:]
    nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
    names = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
    by_path = collections.defaultdict(list)
    for n in names:
        if HASH.search(n):
            by_path[HASH.sub("", n)].append(n)
    for path in files:
        old = open(path).read().split()
        out, kept, renamed, dropped = [], 0, 0, 0
        for n in old:
            if n in names:
                out.append(n)
                kept += 1
                continue
            same = by_path.get(HASH.sub("", n), []) if HASH.search(n) else []
            if len(same) == 1:
                out.append(same[0])
                renamed += 1
            else:
                dropped += 1
        out = list(dict.fromkeys(out))
        with open(path + ".tmp", "w") as f:
            f.write("".join(n + "\n" for n in out))
        os.replace(path + ".tmp", path)
        print(f"{path}: {kept} kept, {renamed} renamed, {dropped} dropped ({len(out)} names)")


main()
