#!/usr/bin/env bash
# Through the real clients: `podman run --rm busybox true` with singlet-oci, crun and runc
# interleaved (RUNS each, default 20), then CRI pod start latency (RunPodSandbox through
# containerd's CRI plugin and the runc shim) with singlet-oci and runc, CRI_RUNS each (default 10,
# each a fresh private containerd). Prints medians and ratios. Usage: bench/clients.sh [RUNS] [CRI_RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${1:-20}
CRI_RUNS=${2:-10}
T=$W/podman
mkdir -p "$T/bb/bin" "$T/bb/etc"
cp /bin/busybox "$T/bb/bin/"; ln -s busybox "$T/bb/bin/true"; ln -s busybox "$T/bb/bin/sh"
L=$T/oci
umoci init --layout "$L" >/dev/null
umoci new --image "$L:bb"; umoci unpack --image "$L:bb" "$T/b" >/dev/null
cp -a "$T/bb/." "$T/b/rootfs/"; umoci repack --image "$L:bb" "$T/b" >/dev/null
umoci config --image "$L:bb" --config.cmd /bin/sh --architecture amd64 --os linux
skopeo copy -q "oci:$L:bb" "oci-archive:$T/bb.tar:localhost/busybox:latest"
cat > "$T/containers.conf" <<C
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["crun", "runc", "b-singlet", "b-crun", "b-runc"]
tmp_dir = "$T/tmp"
[engine.runtimes]
b-singlet = ["$W/singlet-oci"]
b-crun = ["/usr/bin/crun"]
b-runc = ["/usr/sbin/runc"]
C
cat > "$T/storage.conf" <<C
[storage]
driver = "overlay"
runroot = "$T/run"
graphroot = "$T/graph"
C
export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf
trap 'podman system reset -f >/dev/null 2>&1; grep -o " $W[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done; rm -rf "$W"' EXIT
podman load -q -i "$T/bb.tar" >/dev/null
$INTERLEAVE --runs "$RUNS" --title "podman run --rm busybox true (root)" \
  "singlet-oci=podman --runtime b-singlet run --rm localhost/busybox:latest true" \
  "crun=podman --runtime b-crun run --rm localhost/busybox:latest true" \
  "runc=podman --runtime b-runc run --rm localhost/busybox:latest true"

echo
echo "## CRI: RunPodSandbox latency (hostNetwork pod, pause container), ms"
(cd "$REPO" && cargo build -q --release -p singlet-cri-test)
CRI=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/singlet-cri-test
: > "$W/cri-singlet.txt"; : > "$W/cri-runc.txt"
for i in $(seq "$CRI_RUNS"); do
  SINGLET_CLIENTS_ONLY=cri bash "$REPO/tests/clients/run.sh" "$W/singlet-oci" singlet-oci "$CRI" 2>/dev/null | awk '/pod_start_ms/ {print $2}' >> "$W/cri-singlet.txt"
  SINGLET_CLIENTS_ONLY=cri bash "$REPO/tests/clients/run.sh" /usr/sbin/runc runc-ref "$CRI" 2>/dev/null | awk '/pod_start_ms/ {print $2}' >> "$W/cri-runc.txt"
done
python3 - "$W/cri-singlet.txt" "$W/cri-runc.txt" <<'PY'
import statistics, sys
s = [float(x) for x in open(sys.argv[1]).read().split()]
r = [float(x) for x in open(sys.argv[2]).read().split()]
print(f"{'runtime':<14}{'runs':>6}{'median ms':>12}")
print(f"{'singlet-oci':<14}{len(s):>6}{statistics.median(s):>12.1f}")
print(f"{'runc':<14}{len(r):>6}{statistics.median(r):>12.1f}")
print(f"ratio singlet-oci/runc: {statistics.median(s)/statistics.median(r):.2f}")
PY
