#!/usr/bin/env bash
# Instances as an unprivileged user, on a busybox SIF whose startscript runs httpd on
# loopback: (1) `instance start` until the service answers, and until the command returns
# (it watches the instance 100 ms for an early failure, as Apptainer); (2) joining:
# `exec instance://web true` against a fresh `exec IMAGE true` of the same image (target:
# joining costs no more than a fresh exec). Usage: bench/instance.sh [RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${1:-30}
mkdir -p "$W/u/sb/www" "$W/u/sb/.singularity.d/env"
busybox_rootfs "$W/u/sb"
echo hello > "$W/u/sb/www/index.html"
cat > "$W/u/sb/.singularity.d/startscript" <<'SS'
#!/bin/sh
exec httpd -f -p "127.0.0.1:$PORT" -h /www
SS
chmod 755 "$W/u/sb/.singularity.d/startscript"
mksquashfs "$W/u/sb" "$W/u/img.sqfs" -quiet -noappend -all-root >/dev/null
"$W/singlet" sif new "$W/u/web.sif"
"$W/singlet" sif add --datatype 4 --parttype 2 --partfs 1 --partarch 2 "$W/u/web.sif" "$W/u/img.sqfs"
chmod 644 "$W/u/web.sif"
cat > "$W/u/ready.py" <<'PY'
# ready.py PORT CMD...: starts CMD and exits as soon as http://127.0.0.1:PORT/ answers.
import socket, subprocess, sys, time
port = int(sys.argv[1])
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        if b" 200 " in s.recv(64):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.0005)
sys.exit(1)
PY
chown -R "$BUSER:" "$W/u"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/u/bench.sh" <<EOS
set -e
export SINGLET_CACHEDIR=$W/u/cache SINGLET_INSTANCEDIR=$W/u/inst PORT=$PORT
cd $W/u
S=$W/singlet
\$S exec web.sif true
python3 $BENCH/interleave.py --runs $RUNS --title "unprivileged: instance start (busybox httpd)" \
  --setup "\$S instance stop --all -F >/dev/null 2>&1 || true; sleep 0.05" \
  "start until the service answers=python3 $W/u/ready.py $PORT \$S instance start web.sif w{i}" \
  "instance start command=\$S instance start web.sif x{i}"
\$S instance stop --all -F >/dev/null 2>&1 || true
sleep 0.2
\$S instance start web.sif web 2>/dev/null
python3 $BENCH/interleave.py --runs $RUNS --title "unprivileged: joining an instance vs a fresh exec" \
  "exec instance://web true=\$S exec instance://web true" \
  "exec web.sif true=\$S exec web.sif true"
\$S instance stop web >/dev/null 2>&1
EOS
as_user "sh $W/u/bench.sh"

# (3) What an instance keeps resident: PSS (smaps_rollup, KiB) of its monitor and init, as root
# and unprivileged, beside Podman's pair for a detached container with an init (conmon +
# catatonit, `podman run -d --init` with crun) when Podman and the test image are there.
# (4) N_INSTANCES (second argument, default 100) instances started one after another by the
# unprivileged user: time per start and their total PSS.
N_INSTANCES=${2:-100}
# how much of link/resident.order the static binary under test has (a stale file costs resident
# code, not correctness: regenerate it with bench/resident-order.sh)
if ! readelf -lW "$W/singlet" | grep -q INTERP; then
  have=$(nm --defined-only "$W/singlet" 2>/dev/null | awk '{print $3}' | sort -u | comm -12 - <(sort -u "$REPO/link/resident.order") | wc -l)
  echo "link/resident.order: $have of $(wc -l < "$REPO/link/resident.order") resident functions found in the binary"
fi
pss() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup"; }
pair_pss() { # PID of an init: "monitor+init" PSS
  local mon; mon=$(ps -o ppid= -p "$1" | tr -d ' ')
  echo "$(( $(pss "$mon") + $(pss "$1") )) (monitor $(pss "$mon"), init $(pss "$1"))"
}
cat > "$W/u/pss.sh" <<EOS
export SINGLET_CACHEDIR=\$1/cache SINGLET_INSTANCEDIR=\$1/inst PORT=$PORT
cd $W/u
$W/singlet -q instance start web.sif pss >/dev/null
sleep 2  # the monitor gives back its set-up code after 1 s (RELEASE_AFTER_MS)
$W/singlet instance list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["pid"])' > \$1/pid
EOS
mkdir -p "$W/r"
sh "$W/u/pss.sh" "$W/r"
echo; echo "resident instance, root: monitor+init PSS $(pair_pss "$(cat "$W/r/pid")") KiB"
SINGLET_INSTANCEDIR=$W/r/inst "$W/singlet" -q instance stop pss >/dev/null 2>&1 || true
as_user "sh $W/u/pss.sh $W/u"
echo "resident instance, unprivileged: monitor+init PSS $(pair_pss "$(cat "$W/u/pid")") KiB"
as_user "SINGLET_INSTANCEDIR=$W/u/inst $W/singlet -q instance stop pss >/dev/null 2>&1" || true
if command -v podman >/dev/null && ! podman image exists docker.io/test/busybox:latest 2>/dev/null; then
  # The image tests/clients/run.sh would leave behind, made here from busybox-static alone.
  busybox_rootfs "$W/pbb"
  tar -C "$W/pbb" -c . | podman import -q - docker.io/test/busybox:latest >/dev/null || true
fi
if command -v podman >/dev/null && podman image exists docker.io/test/busybox:latest 2>/dev/null; then
  C=$(podman run -d --init --runtime crun --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
      --network none docker.io/test/busybox:latest sleep 1000 | tail -1)
  sleep 2
  CM=$(pgrep -f "conmon.*${C:0:12}" | head -1); IN=$(podman inspect -f '{{.State.Pid}}' "$C")
  echo "podman run -d --init (crun), root: conmon+catatonit PSS $(( $(pss "$CM") + $(pss "$IN") )) (conmon $(pss "$CM"), catatonit $(pss "$IN")) KiB"
  podman rm -f -t 0 "$C" >/dev/null 2>&1
else
  echo "(podman missing, or it could not import docker.io/test/busybox)"
fi
cat > "$W/u/many.sh" <<EOS
export SINGLET_CACHEDIR=$W/u/cache SINGLET_INSTANCEDIR=$W/u/many
cd $W/u
start=\$(date +%s%N)
for i in \$(seq $N_INSTANCES); do PORT=\$((30000 + i)) $W/singlet -q instance start web.sif m\$i >/dev/null || exit 1; done
end=\$(date +%s%N)
echo "\$(( (end - start) / $N_INSTANCES / 1000 ))" > $W/u/many-us
sleep 2
$W/singlet instance list --json | python3 -c 'import json,sys; print(" ".join(str(i["pid"]) for i in json.load(sys.stdin)["instances"]))' > $W/u/many-pids
EOS
as_user "sh $W/u/many.sh"
total=0
for p in $(cat "$W/u/many-pids"); do
  mon=$(ps -o ppid= -p "$p" | tr -d ' ')
  total=$(( total + $(pss "$p") + $(pss "$mon") ))
done
echo "$N_INSTANCES unprivileged instances (each also runs its httpd; only the monitor and init counted): $(cat "$W/u/many-us") us per start, monitor+init PSS total $total KiB ($(( total / N_INSTANCES )) KiB each)"
as_user "SINGLET_INSTANCEDIR=$W/u/many $W/singlet -q instance stop --all -F >/dev/null 2>&1" || true
