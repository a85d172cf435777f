#!/usr/bin/env bash
# Checks the crate's layering (docs/reference/design.md): each top-level module of src/ may use
# only the modules below it,
#     cli → launcher → {image, runtime} → {sif, sys}      (image and runtime apart; sys a leaf)
# and only runtime/ and sys/ fork, unshare, setns or mount. Prints each offending line and
# exits 1; prints the edge counts otherwise. Usage: scripts/layers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import collections, pathlib, re, sys

allowed = {
    "cli": {"launcher", "image", "runtime", "sif", "sys"},
    "launcher": {"image", "runtime", "sif", "sys"},
    "image": {"sif", "sys"},
    "runtime": {"sys"},
    "sif": {"sys"},
    "sys": set(),
}
privileged = re.compile(r"\b(fork|unshare|setns)\s*\(|nix::mount::|\bmount\s*\(\s*(Some|None)")
bad, edges = [], collections.Counter()
for f in sorted(pathlib.Path("src").rglob("*.rs")):
    parts = f.relative_to("src").parts
    if len(parts) < 2:
        continue  # lib.rs, main.rs
    me = parts[0]
    in_tests = False
    for n, line in enumerate(f.read_text().splitlines(), 1):
        code = line.split("//")[0]
        if re.match(r"\s*#\[cfg\(test\)\]", line):
            in_tests = True  # unit tests may use anything
        if in_tests:
            continue
        names = [m.group(1) for m in re.finditer(r"crate::([a-z_]+)", code)]
        for g in re.finditer(r"crate::\{([^}]*)", code):
            names += re.findall(r"(?:^|,)\s*([a-z_]+)", g.group(1))
        for dst in names:
            if dst == me or dst not in allowed:
                continue
            edges[(me, dst)] += 1
            if dst not in allowed[me]:
                bad.append(f"{f}:{n}: {me} uses {dst}: {line.strip()}")
        if me not in ("runtime", "sys") and privileged.search(code):
            bad.append(f"{f}:{n}: only runtime/ and sys/ may fork, unshare, setns or mount: {line.strip()}")
for (a, b), c in sorted(edges.items()):
    print(f"  {a:8} → {b:8} {c:3} uses")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
print("layering: ok")
PY
