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
