#!/usr/bin/env bash
# Builds the reference tools from Debian's golang-github-sylabs-sif-dev (sylabs/sif v2.8.3) in
# GOPATH mode, without network access (docs/reference/sif.md §1.1): `siftool` and `sifref` (the
# reference library driven for interop tests). Usage: build.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: build.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$OUT" "$W/src/siftool-ref" "$W/src/sifref"
printf 'module siftool-ref\n\ngo 1.18\n' > "$W/src/siftool-ref/go.mod"
cat > "$W/src/siftool-ref/main.go" <<'GO'
package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/sylabs/sif/v2/pkg/siftool"
)

func main() {
	root := &cobra.Command{Use: "siftool", SilenceUsage: true}
	if err := siftool.AddCommands(root, siftool.OptWithExperimental(true)); err != nil {
		os.Exit(2)
	}
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
GO
printf 'module sifref\n\ngo 1.18\n' > "$W/src/sifref/go.mod"
cp "$HERE/sifref/main.go" "$W/src/sifref/main.go"
for p in siftool-ref sifref; do
  (cd "$W/src/$p" && GO111MODULE=off GOFLAGS= GOPATH=/usr/share/gocode:$W GOCACHE=$W/.gocache \
     go build -trimpath -o "$OUT/${p%-ref}" .)
done
"$OUT/siftool" --help >/dev/null
