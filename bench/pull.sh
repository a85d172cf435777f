#!/usr/bin/env bash
# Pull-and-convert of the Debian test image from a local docker-registry, against the
# pipeline Apptainer runs with the same tools (skopeo copy → umoci unpack → mksquashfs
# -comp gzip), interleaved in one run; then the same with zstd. Each run starts from an empty
# cache. Afterwards both outputs are unpacked and their file lists compared.
# Then SIF transfers: `pull oras://` of the Debian SIF pushed to the same registry, against the
# ORAS project's Python client (tests/oras/client.py), a plain curl of the blob (the floor the
# issue sets), curl followed by `openssl dgst -sha256` (the same transfer checked with standard
# tools), and examples/unverified_pull (singlet's transfer without the SHA-256 check: what the
# check costs). These rows also print their CPU and the registry's (interleave.py --cpu-of):
# the floor no schedule of that work on this host's CPUs can beat. A 1 MB SIF, pulled the same
# way against curl of its blob, shows the fixed costs (start, requests, rename) apart from the
# transfer.
# Usage: bench/pull.sh [RUNS] [all|docker|oras]
source "$(dirname "$0")/common.sh"
RUNS=${1:-5}
WHAT=${2:-all}
FIX=/var/tmp/singlet-fixtures/bench-oci
bash "$REPO/tests/fixtures/oci-images.sh" "$FIX"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/reg"
cat > "$W/reg/config.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $W/reg/data
http:
  addr: 127.0.0.1:$PORT
log:
  level: error
YML
docker-registry serve "$W/reg/config.yml" >/dev/null 2>&1 &
REG=$!
trap 'kill $REG 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
IMG=docker://127.0.0.1:$PORT/test/debian:latest
export SINGLET_CACHEDIR=$W/cache
if [ "$WHAT" != oras ]; then
skopeo copy -q --dest-tls-verify=false "oci:$FIX/layout:debian" "$IMG"
APPTAINER_WAY="rm -rf $W/a && mkdir -p $W/a && skopeo copy -q --src-tls-verify=false $IMG oci:$W/a/layout:img && umoci unpack --image $W/a/layout:img $W/a/bundle >/dev/null && mksquashfs $W/a/bundle/rootfs $W/a/out.sqfs -noappend -quiet -no-progress"
echo "cores: $(nproc); image: Debian bookworm minbase ($(du -sh "$FIX/layout" | cut -f1) layout)"
$INTERLEAVE --runs "$RUNS" --warmup 1 --title "pull + convert to SIF, gzip (empty cache each run)" \
  --setup "rm -rf $W/cache $W/s.sif" \
  "singlet pull=$W/singlet -q pull --no-https $W/s.sif $IMG" \
  "skopeo+umoci+mksquashfs gzip=$APPTAINER_WAY -comp gzip"
$INTERLEAVE --runs "$RUNS" --warmup 1 --title "pull + convert to SIF, zstd (empty cache each run)" \
  --setup "rm -rf $W/cache $W/s.sif" \
  "singlet pull --compress zstd=$W/singlet -q pull --compress zstd --no-https $W/s.sif $IMG" \
  "skopeo+umoci+mksquashfs zstd=$APPTAINER_WAY -comp zstd"
# Same contents: both squashfs partitions hold the same paths (outside the Singularity layout).
rm -rf "$W/cache" "$W/s.sif"
"$W/singlet" -q pull --no-https "$W/s.sif" "$IMG"
bash -c "$APPTAINER_WAY -comp gzip"
OFF=$("$W/singlet" sif list "$W/s.sif" | awk -F'|' '/\*System/ {split($4, a, "-"); print a[1]+0}')
unsquashfs -q -n -o "$OFF" -d "$W/ours" "$W/s.sif" >/dev/null
unsquashfs -q -n -d "$W/theirs" "$W/a/out.sqfs" >/dev/null
(cd "$W/ours" && find . | sort) | grep -v -E '^\./(\.singularity\.d|singularity$|environment$|\.(run|exec|shell|test)$)' > "$W/ours.txt"
(cd "$W/theirs" && find . | sort) > "$W/theirs.txt"
echo "paths: singlet $(wc -l < "$W/ours.txt"), apptainer pipeline $(wc -l < "$W/theirs.txt"); only in one of them (outside /.singularity.d): $(diff "$W/ours.txt" "$W/theirs.txt" | grep -c '^[<>]')"
diff "$W/ours.txt" "$W/theirs.txt" | grep '^[<>]' | head -10
echo "sizes: singlet SIF $(stat -c %s "$W/s.sif") bytes, mksquashfs gzip-9 $(stat -c %s "$W/a/out.sqfs") bytes"
fi

if [ "$WHAT" != docker ]; then
  D="$TESTDATA/reference/debian.sif"
  ORAS=oras://127.0.0.1:$PORT/test/debian-sif:latest
  "$W/singlet" -q push --no-https "$D" "$ORAS"
  layer_digest() { # REPOSITORY: the digest of the SIF layer of REPOSITORY:latest
    curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      "http://127.0.0.1:$PORT/v2/$1/manifests/latest" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])'
  }
  DIGEST=$(layer_digest test/debian-sif)
  BLOB="http://127.0.0.1:$PORT/v2/test/debian-sif/blobs/$DIGEST"
  PY=/opt/singlet-venv/bin/python3
  SIZE=$(stat -c %s "$D")
  UNVERIFIED=$(CARGO_TERM_QUIET=true "$REPO/scripts/release.sh" --example unverified_pull)
  cp "$UNVERIFIED" "$W/unverified_pull"
  echo "# SIF transfer: debian.sif ($SIZE bytes) from the local registry ($RUNS runs each, interleaved)"
  $INTERLEAVE --runs "$RUNS" --warmup 1 --cpu-of "$REG" --title "pull oras:// (empty cache each run)" \
    --setup "rm -rf $W/cache $W/o.sif $W/py $W/c.sif $W/u.sif && mkdir -p $W/py" \
    "singlet pull oras://=$W/singlet -q pull --no-https $W/o.sif $ORAS" \
    "singlet pull --disable-cache=$W/singlet -q pull --disable-cache --no-https $W/o.sif $ORAS" \
    "oras-py pull=$PY $REPO/tests/oras/client.py pull 127.0.0.1:$PORT/test/debian-sif:latest $W/py" \
    "curl blob=curl -s -o $W/c.sif $BLOB" \
    "curl + openssl dgst=sh -c 'curl -s -o $W/c.sif $BLOB && openssl dgst -sha256 $W/c.sif >/dev/null'" \
    "unverified_pull (no SHA-256)=$W/unverified_pull 127.0.0.1:$PORT test/debian-sif $DIGEST $SIZE $W/u.sif"
  rm -rf "$W/cache" && mkdir -p "$W/py"
  "$W/singlet" -q pull --force --no-https "$W/o.sif" "$ORAS"
  "$PY" "$REPO/tests/oras/client.py" pull "127.0.0.1:$PORT/test/debian-sif:latest" "$W/py" >/dev/null
  curl -s -o "$W/c.sif" "$BLOB"
  "$W/unverified_pull" "127.0.0.1:$PORT" test/debian-sif "$DIGEST" "$SIZE" "$W/u.sif"
  cmp "$W/o.sif" "$D" && cmp "$W/py/debian.sif" "$D" && cmp "$W/c.sif" "$D" && cmp "$W/u.sif" "$D" \
    && echo "all four outputs identical to debian.sif"
  $INTERLEAVE --runs "$RUNS" --warmup 1 --title "push oras:// of the same SIF (the blob already there)" \
    "singlet push=$W/singlet -q push --no-https $D $ORAS"
  SMALL="$TESTDATA/reference/busybox-xz.sif"
  SORAS=oras://127.0.0.1:$PORT/test/small-sif:latest
  "$W/singlet" -q push --no-https "$SMALL" "$SORAS"
  SDIGEST=$(layer_digest test/small-sif)
  $INTERLEAVE --runs "$RUNS" --warmup 1 --cpu-of "$REG" \
    --title "fixed costs: pull oras:// of busybox-xz.sif ($(stat -c %s "$SMALL") bytes)" \
    --setup "rm -f $W/o.sif $W/c.sif" \
    "singlet pull --disable-cache=$W/singlet -q pull --disable-cache --no-https $W/o.sif $SORAS" \
    "curl blob=curl -s -o $W/c.sif http://127.0.0.1:$PORT/v2/test/small-sif/blobs/$SDIGEST"
  "$W/singlet" -q pull --force --disable-cache --no-https "$W/o.sif" "$SORAS"
  curl -s -o "$W/c.sif" "http://127.0.0.1:$PORT/v2/test/small-sif/blobs/$SDIGEST"
  cmp "$W/o.sif" "$SMALL" && cmp "$W/c.sif" "$SMALL" && echo "both outputs identical to busybox-xz.sif"
fi
