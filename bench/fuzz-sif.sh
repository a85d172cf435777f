#!/usr/bin/env bash
# Fuzzes one parser of untrusted input for a fixed time: sif_parse (default; header →
# descriptors → primary partition → backhand superblock and tree → /.singularity.d reads),
# oci_layer, config_json, deffile or signature (signed images and keyrings). Usage: bench/fuzz-sif.sh [SECONDS] [TARGET]
# Stable Rust has no ASan (-Zsanitizer), so the target runs with --sanitizer none: libFuzzer
# coverage, panics, timeouts (-timeout) and the RSS limit still count as findings.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${1:-600}
TARGET=${2:-sif_parse}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
mkdir -p "corpus/$TARGET"
if [ "$TARGET" = oci_layer ]; then
  for f in /var/tmp/singlet-fixtures/oci-*/layout/blobs/sha256/*; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 300000 ] && cp -n "$f" "corpus/$TARGET/" 2>/dev/null || true
  done
fi
if [ "$TARGET" = sif_parse ]; then
  for f in ../../shared/testdata/sif/*/*.sif /work/shared/testdata/sif/*/*.sif; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 4000000 ] && cp -n "$f" "corpus/$TARGET/" 2>/dev/null || true
  done
fi
if [ "$TARGET" = deffile ]; then
  printf 'Bootstrap: docker\nFrom: busybox\n%%post -c /bin/bash\n  echo hi\n%%labels\n  A "b c"\n%%files\n  a /b\n%%apprun x\n  run\n' \
    > "corpus/$TARGET/seed.def"
fi
if [ "$TARGET" = signature ]; then
  # The target's first byte picks the input: 0 a keyring, otherwise an image.
  G=/usr/share/gocode/src/github.com/sylabs/sif/test
  for f in ../../shared/testdata/sif/*/*signed*.sif /work/shared/testdata/sif/*/*signed*.sif \
           "$G"/images/*signed*.sif; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 4000000 ] || continue
    { printf '\001'; cat "$f"; } > "corpus/$TARGET/img-$(basename "$f")"
  done
  for f in /work/shared/testdata/sif/reference/*.asc "$G"/keys/*; do
    [ -f "$f" ] && { printf '\000'; cat "$f"; } > "corpus/$TARGET/key-$(basename "$f")"
  done
fi
rc=0
cargo fuzz run --sanitizer none "$TARGET" -- \
  -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=4000000 -print_final_stats=1 \
  >"/tmp/fuzz-$TARGET.log" 2>&1 || rc=$?
grep -E "^#[0-9]+.*(pulse|DONE)|Done|ERROR|panicked|stat::" "/tmp/fuzz-$TARGET.log" || true
if ! grep -q "^Done [0-9]* runs" "/tmp/fuzz-$TARGET.log"; then
  # A build failure or a crash: libFuzzer never reached its summary.
  tail -n 30 "/tmp/fuzz-$TARGET.log" >&2
  echo "the fuzz run of $TARGET did not complete (exit $rc; log /tmp/fuzz-$TARGET.log)" >&2
  exit 1
fi
if ls artifacts/"$TARGET"/* >/dev/null 2>&1; then
  echo "FINDINGS in fuzz/artifacts/$TARGET" >&2
  exit 1
fi
echo "no findings in ${SECS}s of $TARGET"
