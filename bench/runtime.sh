#!/usr/bin/env bash
# singlet-oci against crun and runc on the same busybox bundle, interleaved in one run:
#   `run` of /bin/true as root and as an unprivileged user, create+start+delete as root,
#   and the peak RSS of each runtime during `run`. Prints medians and ratios.
# Usage (as root): bench/runtime.sh [RUNS]   (default 30)
source "$(dirname "$0")/common.sh"
RUNS=${1:-30}

mk_bundle() { # DIR rootless(0|1) [owner]
  busybox_rootfs "$1/rootfs"
  (cd "$1" && "$W/singlet-oci" spec $([ "$2" = 1 ] && echo --rootless))
  python3 - "$1/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["ociVersion"] = "1.0.2"          # crun 1.8 rejects newer versions
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"))
PY
}

echo "# singlet-oci vs crun vs runc: run /bin/true ($RUNS runs each, interleaved)"
echo "host: $(uname -r), $(nproc) cpus; crun $(crun --version | head -1 | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}')"
mk_bundle "$W/root-bundle" 0
cd "$W/root-bundle"
$INTERLEAVE --runs "$RUNS" --title "root: run" \
  "singlet-oci=$W/singlet-oci --root $W/st-s run s{i}" \
  "crun=crun --root $W/st-c run c{i}" \
  "runc=runc --root $W/st-r run r{i}"
$INTERLEAVE --runs "$RUNS" --title "root: create + start + delete" \
  "singlet-oci=$W/singlet-oci --root $W/st-s create x{i} >/dev/null && $W/singlet-oci --root $W/st-s start x{i} && $W/singlet-oci --root $W/st-s delete -f x{i}" \
  "crun=crun --root $W/st-c create x{i} && crun --root $W/st-c start x{i} && crun --root $W/st-c delete -f x{i}" \
  "runc=runc --root $W/st-r create x{i} && runc --root $W/st-r start x{i} && runc --root $W/st-r delete -f x{i}"

echo
echo "## peak RSS during run (KiB, max of 5)"
for rt in "$W/singlet-oci" crun runc; do
  m=0
  for i in 1 2 3 4 5; do
    r=$(/usr/bin/time -f %M "$rt" --root "$W/st-m" run "m$i" 2>&1 >/dev/null | tail -1)
    [ "$r" -gt "$m" ] && m=$r
  done
  echo "$(basename "$rt"): $m"
done

mkdir -p "$W/user"
chown "$BUSER:" "$W/user"
as_user "mkdir -p \$W/user/b" >/dev/null
mk_bundle "$W/user/b" 1
# the rootless config maps container root to the bench user
python3 - "$W/user/b/config.json" "$(id -u "$BUSER")" "$(id -g "$BUSER")" <<'PY'
import json, sys
p, uid, gid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = json.load(open(p))
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
json.dump(c, open(p, "w"))
PY
chown -R "$BUSER:" "$W/user"
cat > "$W/user/bench.sh" <<EOS
cd $W/user/b
python3 $BENCH/interleave.py --runs $RUNS --title "unprivileged ($BUSER): run" \
  "singlet-oci=$W/singlet-oci --root $W/user/st-s run s{i}" \
  "crun=crun --root $W/user/st-c run c{i}" \
  "runc=runc --root $W/user/st-r run r{i}"
EOS
chmod 755 "$W/user/bench.sh"
as_user "sh $W/user/bench.sh"
