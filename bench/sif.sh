#!/usr/bin/env bash
# SIF reading: `singlet sif list` against the reference `siftool list` on the real images and
# on a SIF with a 1 GiB partition (listing must not read the partition), and reading one file
# from /.singularity.d of the Debian image: `singlet sif cat` (backhand, in process) against
# `unsquashfs -cat` at the partition offset. Usage: bench/sif.sh [RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${1:-30}
"$REPO/tests/interop/build.sh" "$W/ref" >/dev/null
SIFTOOL="$W/ref/siftool"

truncate -s 1G "$W/big.part"
printf 'hsqs' | dd of="$W/big.part" conv=notrunc status=none
"$W/singlet" sif new "$W/big.sif"
"$W/singlet" sif add --datatype 4 --parttype 2 --partfs 1 --partarch 2 --groupid 1 "$W/big.sif" "$W/big.part"
rm "$W/big.part"

echo "# SIF reading ($RUNS runs each, interleaved)"
args=()
for f in "$TESTDATA"/real/singularity-3.8.1-busybox_amd64.sif "$TESTDATA"/reference/busybox-alltypes.sif "$TESTDATA"/reference/debian.sif "$W/big.sif"; do
  n=$(basename "$f" .sif)
  $INTERLEAVE --runs "$RUNS" --title "list $n ($(stat -c %s "$f") bytes)" \
    "singlet sif list=$W/singlet sif list $f" "siftool list=$SIFTOOL list $f"
done
D="$TESTDATA/reference/debian.sif"
OFF=$("$W/singlet" sif list "$D" | awk -F'|' '/\*System/ {split($4, a, "-"); print a[1]+0}')
$INTERLEAVE --runs "$RUNS" --title "read /.singularity.d/runscript of debian.sif" \
  "singlet sif cat=$W/singlet sif cat $D /.singularity.d/runscript" \
  "unsquashfs -cat=unsquashfs -o $OFF -cat $D /.singularity.d/runscript"

# Signature verification: the Debian SIF (60 MB partition) signed by singlet, verified by
# `singlet verify` and by the reference pkg/integrity verifier (`sifref verify`); the digest
# of the partition is the floor, so `sha256sum` of the file is timed beside them (MB/s below).
export HOME="$W/home"
mkdir -p "$HOME"
"$W/singlet" key newpair --name bench --email bench@example.invalid --bit-length 2048 >"$W/fp" 2>/dev/null
FP=$(cat "$W/fp")
"$W/singlet" key export --armor "$FP" "$W/bench.pub.asc"
cp "$D" "$W/signed.sif"
"$W/singlet" sign "$W/signed.sif" 2>/dev/null
SIZE=$(stat -c %s "$W/signed.sif")
$INTERLEAVE --runs "$RUNS" --title "verify debian.sif ($SIZE bytes, PGP, one group)" \
  "singlet verify=$W/singlet verify $W/signed.sif" \
  "sifref verify=$W/ref/sifref verify $W/bench.pub.asc $W/signed.sif" \
  "sha256sum=sha256sum $W/signed.sif"
