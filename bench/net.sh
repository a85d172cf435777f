#!/usr/bin/env bash
# What `--net` costs at start-up: `singlet exec busybox.sif true` with the host's network,
# with `--net --network none` (a network namespace, lo up) and with `--net` (slirp4netns
# attached between create and start), as root. Usage: bench/net.sh [RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${1:-20}
I="$TESTDATA/reference/busybox.sif"
export SINGLET_CACHEDIR="$W/cache"
"$W/singlet" exec --unsquash "$I" true
echo "# exec with and without a network namespace ($RUNS runs each, interleaved, root)"
$INTERLEAVE --runs "$RUNS" --title "exec busybox.sif true" \
  "--net (slirp4netns)=$W/singlet exec --unsquash --net $I true" \
  "--net --network none=$W/singlet exec --unsquash --net --network none $I true" \
  "host network=$W/singlet exec --unsquash $I true"
