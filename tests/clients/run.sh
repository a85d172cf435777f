#!/usr/bin/env bash
# Drives the real clients with an OCI runtime binary and checks what they observe
# (docs/reference/clients.md §c): Podman rootful and rootless, containerd's ctr, and the CRI plugin
# driven by tests/clients/cri (what kubelet does). Everything is private to a temp dir and
# loopback: a docker-registry with busybox and pause images built from busybox-static and
# catatonit, Podman's containers.conf/storage.conf/registries.conf, a private containerd.
#
# Usage: tests/clients/run.sh RUNTIME NAME [CRI_CLIENT]      (as root)
#   RUNTIME: absolute path of the runtime (singlet-oci, /usr/sbin/runc …)
#   NAME:    the name the clients know it by; not "runc" or "crun" (those names are taken in
#            the generated configs), e.g. runc-ref for /usr/sbin/runc
# Prints one line per check and a summary; exits 1 if a check failed.
# Environment: SINGLET_CLIENTS_ONLY="podman rootless ctr cri" to run a subset;
#              SINGLET_TEST_USER (default singlet-test) for rootless Podman.
set -uo pipefail
RT=$1
NAME=$2
case "$NAME" in runc|crun) echo "run.sh: NAME must not be runc or crun (use e.g. runc-ref)" >&2; exit 2 ;; esac
CRI=${3:-}
ONLY=${SINGLET_CLIENTS_ONLY:-podman rootless ctr cri}
TUSER=${SINGLET_TEST_USER:-singlet-test}
HERE=$(cd "$(dirname "$0")" && pwd)
# Stray descriptors from the calling environment must not reach daemons (docs/reference/clients.md §d.8).
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
T=$(mktemp -d /tmp/singlet-clients.XXXXXX)
chmod 755 "$T"
PASS=0; FAIL=0; FAILED=()
ok()   { PASS=$((PASS+1)); echo "ok   $1"; }
bad()  { FAIL=$((FAIL+1)); FAILED+=("$1"); echo "FAIL $1${2:+: $2}"; }
check() { # NAME WANT GOT
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "want [$2] got [$3]"; fi
}
contains() { # NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) ok "$1" ;; *) bad "$1" "[$2] not in [$(echo "$3" | head -c 400)]" ;; esac
}

# CVE-2024-21626 through a client: a working directory that is one of the runtime's leaked
# descriptors. Podman makes the directory in the rootfs, /proc is mounted over it, and the
# runtime's chdir resolves /proc/self/fd/N; a container that lands in a host directory climbs to
# the host's root and writes a marker there.
workdir_escape() { # PODMAN-FUNCTION NAME
  local m="/tmp/singlet-clients-escape-$$" n
  for n in 3 4 5 6 7 8 9 10; do
    "$1" run --rm --workdir "/proc/self/fd/$n" localhost/busybox \
      sh -c "touch ../../../../../../../../..$m-$n" >/dev/null 2>&1
  done
  check "$2" "" "$(ls "$m"-* 2>/dev/null)"
  rm -f "$m"-*
}

PIDS=()
cleanup() {
  [ -n "${CTRD_PID:-}" ] && kill "$CTRD_PID" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  if [ -d "$T/podman" ]; then
    podman_root system reset -f >/dev/null 2>&1 || true
  fi
  grep -o " $T[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$T" 2>/dev/null || true
}
trap cleanup EXIT

# --- images -------------------------------------------------------------------------------
mkdir -p "$T/img/bb/bin" "$T/img/bb/sbin" "$T/img/bb/usr/bin" "$T/img/bb/usr/sbin" "$T/img/bb/etc" \
  "$T/img/bb/tmp" "$T/img/bb/root" "$T/img/pause/etc"
cp /bin/busybox "$T/img/bb/bin/"
chroot "$T/img/bb" /bin/busybox --install -s
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$T/img/bb/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$T/img/bb/etc/group"
chmod 1777 "$T/img/bb/tmp"
cp /usr/bin/catatonit "$T/img/pause/catatonit"
L=$T/oci
umoci init --layout "$L" >/dev/null
for img in bb pause; do
  umoci new --image "$L:$img"
  umoci unpack --image "$L:$img" "$T/b-$img" >/dev/null
  cp -a "$T/img/$img/." "$T/b-$img/rootfs/"
  umoci repack --image "$L:$img" "$T/b-$img" >/dev/null
  rm -rf "$T/b-$img"
done
umoci config --image "$L:bb" --config.cmd /bin/sh --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --architecture amd64 --os linux
umoci config --image "$L:pause" --config.entrypoint /catatonit --config.cmd -P --architecture amd64 --os linux
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat > "$T/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $T/registry
http:
  addr: $REG
log:
  level: error
EOF
setsid docker-registry serve "$T/registry.yml" </dev/null >"$T/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
chmod -R a+rX "$L"
for img in bb pause; do
  tag=$([ "$img" = bb ] && echo busybox || echo pause)
  setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$T" XDG_DATA_HOME="$T/skopeo-cache" \
    skopeo copy -q --dest-no-creds --dest-tls-verify=false "oci:$L:$img" "docker://$REG/$tag:latest"
done
ok "registry with busybox and pause at $REG"

# --- Podman rootful -----------------------------------------------------------------------
write_podman_conf() { # DIR RUNROOT GRAPHROOT
  mkdir -p "$1"
  cat > "$1/containers.conf" <<EOF
[containers]
default_capabilities = ["CHOWN","DAC_OVERRIDE","FOWNER","FSETID","KILL","NET_BIND_SERVICE","SETFCAP","SETGID","SETPCAP","SETUID","SYS_CHROOT"]
default_sysctls = ["net.ipv4.ping_group_range=0 0"]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
infra_image = "$REG/pause:latest"
runtime = "$NAME"
runtime_supports_json = ["crun", "runc", "$NAME"]
tmp_dir = "$1/tmp"
volume_path = "$1/volumes"
[engine.runtimes]
$NAME = ["$RT"]
[network]
network_config_dir = "$1/networks"
EOF
  cat > "$1/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$2"
graphroot = "$3"
rootless_storage_path = "$3"
EOF
  cat > "$1/registries.conf" <<EOF
unqualified-search-registries = ["$REG"]
short-name-mode = "permissive"
[[registry]]
location = "$REG"
insecure = true
EOF
}
podman_root() {
  CONTAINERS_CONF=$T/podman/containers.conf CONTAINERS_STORAGE_CONF=$T/podman/storage.conf \
    CONTAINERS_REGISTRIES_CONF=$T/podman/registries.conf podman "$@"
}

if [[ " $ONLY " == *" podman "* ]]; then
  write_podman_conf "$T/podman" "$T/podman/run" "$T/podman/graph"
  podman_root pull -q "$REG/busybox:latest" >/dev/null && podman_root tag "$REG/busybox:latest" localhost/busybox:latest
  rtname=$(podman_root info --format '{{.Host.OCIRuntime.Name}}' 2>&1)
  check "podman: runtime in use" "$NAME" "$rtname"
  check "podman run --rm echo" "hi" "$(podman_root run --rm localhost/busybox echo hi 2>&1)"
  podman_root run --rm localhost/busybox sh -c 'exit 3' >/dev/null 2>&1
  check "podman run exit status 3" 3 $?
  out=$(podman_root run --rm localhost/busybox /nonexistent 2>&1); rc=$?
  check "podman run missing executable: exit 127" 127 "$rc"
  contains "podman run missing executable: runtime message" "no such file or directory" "$(echo "$out" | tr 'A-Z' 'a-z')"
  out=$(podman_root run --rm localhost/busybox /etc/passwd 2>&1); rc=$?
  check "podman run non-executable: exit 126" 126 "$rc"
  workdir_escape podman_root "podman run --workdir /proc/self/fd/N: no write on the host's root"
  id=$(podman_root run -d localhost/busybox sleep 1000)
  check "podman exec" "from-exec" "$(podman_root exec "$id" echo from-exec 2>&1)"
  podman_root exec "$id" sh -c 'exit 7'; check "podman exec exit status" 7 $?
  check "podman exec as nobody" "65534" "$(podman_root exec --user 65534 "$id" id -u 2>&1)"
  podman_root pause "$id" >/dev/null
  check "podman pause" "paused" "$(podman_root inspect -f '{{.State.Status}}' "$id")"
  podman_root unpause "$id" >/dev/null
  check "podman unpause" "running" "$(podman_root inspect -f '{{.State.Status}}' "$id")"
  podman_root update --memory 64m "$id" >/dev/null 2>&1
  check "podman update --memory" "67108864" "$(podman_root exec "$id" cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1)"
  pid1=$(podman_root inspect -f '{{.State.Pid}}' "$id")
  podman_root restart -t 1 "$id" >/dev/null
  pid2=$(podman_root inspect -f '{{.State.Pid}}' "$id")
  if [ "$pid1" != "$pid2" ] && [ "$(podman_root inspect -f '{{.State.Status}}' "$id")" = running ]; then ok "podman restart"; else bad "podman restart" "$pid1 -> $pid2"; fi
  podman_root kill -s KILL "$id" >/dev/null
  check "podman kill -s KILL: exit 137" 137 "$(podman_root wait "$id" 2>&1)"
  if [ -d "/proc/$pid2" ]; then bad "podman kill: process gone" "$pid2 alive"; else ok "podman kill: process gone"; fi
  podman_root rm "$id" >/dev/null
  id=$(podman_root run -d localhost/busybox sleep 1000)
  pid=$(podman_root inspect -f '{{.State.Pid}}' "$id")
  podman_root stop -t 1 "$id" >/dev/null
  check "podman stop (sleep ignores TERM → KILL)" 137 "$(podman_root inspect -f '{{.State.ExitCode}}' "$id")"
  if [ -d "/proc/$pid" ]; then bad "podman stop: process gone"; else ok "podman stop: process gone"; fi
  podman_root rm "$id" >/dev/null
  # podman attaches to the pty after starting the container: output of a command that ends at
  # once can be lost (seen with runc as well), so the command waits a little, and one retry.
  for _ in 1 2 3; do
    out=$(script -qec "env CONTAINERS_CONF=$T/podman/containers.conf CONTAINERS_STORAGE_CONF=$T/podman/storage.conf CONTAINERS_REGISTRIES_CONF=$T/podman/registries.conf podman run -it --rm localhost/busybox sh -c 'sleep 0.3; tty'" /dev/null 2>&1 | tr -d '\r\0')
    case "$out" in *"/dev/pts/"*) break ;; esac
  done
  contains "podman run -it: a pty through the console socket" "/dev/pts/" "$out"
  podman_root pod create --name p1 >/dev/null 2>&1
  podman_root run -d --pod p1 --name p1a localhost/busybox sh -c 'echo shared > /dev/shm/x; sleep 1000' >/dev/null
  sleep 0.3
  check "podman pod: containers share IPC" "shared" "$(podman_root run --rm --pod p1 localhost/busybox cat /dev/shm/x 2>&1)"
  h1=$(podman_root exec p1a hostname); h2=$(podman_root run --rm --pod p1 localhost/busybox hostname)
  check "podman pod: containers share UTS" "$h1" "$h2"
  podman_root pod rm -f p1 >/dev/null 2>&1; check "podman pod rm -f" 0 $?
  out=$(podman_root run -d localhost/busybox sleep 100)
  podman_root container checkpoint "$out" >/dev/null 2>&1; rc=$?
  if [ "$NAME" != "runc" ] && [ "$rc" = 0 ]; then bad "podman checkpoint refused" "rc 0"; else ok "podman checkpoint: refused or done (rc $rc)"; fi
  podman_root rm -f -t 0 "$out" >/dev/null 2>&1
  left=$(podman_root ps -aq | wc -l)
  check "podman: nothing left" 0 "$left"
fi

# --- Podman rootless ----------------------------------------------------------------------
if [[ " $ONLY " == *" rootless "* ]] && id "$TUSER" >/dev/null 2>&1; then
  H=$T/home-$TUSER
  X=$T/xdg-$TUSER
  mkdir -p "$H" "$X"; chmod 700 "$X"; chown "$TUSER:" "$H" "$X"
  write_podman_conf "$H/conf" "$X/containers" "$H/storage"
  chown -R "$TUSER:" "$H"
  podman_user() {
    runuser -u "$TUSER" -- env -i HOME="$H" PATH=/usr/bin:/bin:/usr/sbin:/sbin XDG_RUNTIME_DIR="$X" \
      CONTAINERS_CONF="$H/conf/containers.conf" CONTAINERS_STORAGE_CONF="$H/conf/storage.conf" \
      CONTAINERS_REGISTRIES_CONF="$H/conf/registries.conf" podman "$@"
  }
  podman_user pull -q "$REG/busybox:latest" >/dev/null && podman_user tag "$REG/busybox:latest" localhost/busybox:latest
  check "rootless podman run --rm" "hi" "$(podman_user run --rm localhost/busybox echo hi 2>&1)"
  check "rootless podman --userns=keep-id" "$(id -u "$TUSER")" "$(podman_user run --rm --userns=keep-id localhost/busybox id -u 2>&1)"
  podman_user run --rm localhost/busybox sh -c 'exit 5' >/dev/null 2>&1; check "rootless podman exit status" 5 $?
  podman_user run --rm localhost/busybox /nonexistent >/dev/null 2>&1; check "rootless podman missing executable: 127" 127 $?
  workdir_escape podman_user "rootless podman run --workdir /proc/self/fd/N: no write on the host's root"
  id=$(podman_user run -d localhost/busybox sleep 1000)
  check "rootless podman exec" "x" "$(podman_user exec "$id" echo x 2>&1)"
  podman_user stop -t 1 "$id" >/dev/null
  check "rootless podman stop" 137 "$(podman_user inspect -f '{{.State.ExitCode}}' "$id")"
  podman_user rm "$id" >/dev/null; check "rootless podman rm" 0 $?
  if [ -d "$X/singlet" ] || [ -d "$X/runc" ] || [ -d "$X/crun" ]; then ok "rootless: state under XDG_RUNTIME_DIR"; else bad "rootless: state under XDG_RUNTIME_DIR" "$(ls "$X")"; fi
  podman_user system reset -f >/dev/null 2>&1
fi

# --- containerd: ctr and CRI --------------------------------------------------------------
if [[ " $ONLY " == *" ctr "* || " $ONLY " == *" cri "* ]]; then
  C=$T/containerd
  mkdir -p "$C/certs.d/$REG" "$C/cni" "$C/logs"
  cat > "$C/certs.d/$REG/hosts.toml" <<EOF
server = "http://$REG"
[host."http://$REG"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOF
  cat > "$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REG/pause:latest"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$NAME]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$NAME.options]
        BinaryName = "$RT"
        Root = "$C/rt-cri"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$C/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$C/certs.d"
EOF
  setsid containerd --config "$C/config.toml" </dev/null >"$C/containerd.log" 2>&1 &
  CTRD_PID=$!
  for _ in $(seq 100); do [ -S "$C/containerd.sock" ] && break; sleep 0.1; done
  export CONTAINERD_ADDRESS=$C/containerd.sock
  ctr_() { ctr "$@"; }
  runopts=(--runtime io.containerd.runc.v2 --runc-binary "$RT" --runc-root "$C/rt-ctr" --fifo-dir "$C/fifo")
  if [[ " $ONLY " == *" ctr "* ]]; then
    ctr_ images pull -q --plain-http "$REG/busybox:latest" >/dev/null 2>&1
    check "ctr run --rm" "hi" "$(ctr_ run --rm "${runopts[@]}" "$REG/busybox:latest" c1 echo hi 2>&1)"
    ctr_ run --rm "${runopts[@]}" "$REG/busybox:latest" c1b sh -c 'exit 4' >/dev/null 2>&1; check "ctr run exit status" 4 $?
    ctr_ run -d "${runopts[@]}" "$REG/busybox:latest" c2 sleep 1000 >/dev/null 2>&1
    check "ctr task exec" "x" "$(ctr_ task exec --exec-id e1 c2 echo x 2>&1)"
    ctr_ task exec --exec-id e2 c2 sh -c 'exit 6' >/dev/null 2>&1; check "ctr task exec exit status" 6 $?
    n=$(ctr_ task ps c2 2>/dev/null | tail -n +2 | wc -l)
    check "ctr task ps" 1 "$n"
    ctr_ task pause c2; check "ctr task pause" "PAUSED" "$(ctr_ task ls | awk '$1=="c2"{print $3}')"
    ctr_ task resume c2; check "ctr task resume" "RUNNING" "$(ctr_ task ls | awk '$1=="c2"{print $3}')"
    pid=$(ctr_ task ls | awk '$1=="c2"{print $2}')
    ctr_ task kill -s SIGKILL c2; sleep 0.5
    check "ctr task kill" "STOPPED" "$(ctr_ task ls | awk '$1=="c2"{print $3}')"
    if [ -d "/proc/$pid" ]; then bad "ctr kill: process gone"; else ok "ctr kill: process gone"; fi
    ctr_ task rm c2 >/dev/null; check "ctr task rm" 0 $?
    ctr_ c rm c2; check "ctr container rm" 0 $?
    ctr_ run -d "${runopts[@]}" "$REG/busybox:latest" c3 sleep 1000 >/dev/null 2>&1
    ctr_ task kill -a -s SIGKILL c3; sleep 0.3; ctr_ task rm -f c3 >/dev/null 2>&1; ctr_ c rm c3
    check "ctr kill --all + rm -f" 0 $?
    out=$(ctr_ run --rm "${runopts[@]}" "$REG/busybox:latest" c4 /nonexistent 2>&1); rc=$?
    [ "$rc" != 0 ] && ok "ctr run missing executable fails (rc $rc)" || bad "ctr run missing executable fails"
    contains "ctr: the runtime's message through log.json" "no such file or directory" "$(echo "$out" | tr 'A-Z' 'a-z')"
    ctr_ c rm c4 >/dev/null 2>&1
  fi
  if [[ " $ONLY " == *" cri "* ]] && [ -n "$CRI" ]; then
    ctr -n k8s.io images pull -q --plain-http "$REG/pause:latest" >/dev/null 2>&1
    out=$("$CRI" "$C/containerd.sock" "$NAME" "$REG/busybox:latest" "$C/logs" 2>&1)
    while read -r line; do
      case "$line" in
        "ok "*) ok "cri: ${line#ok }" ;;
        "FAIL "*) bad "cri: ${line#FAIL }" ;;
        pod_start_ms*|container_start_ms*) echo "     $line" ;;
      esac
    done <<< "$out"
    echo "$out" | grep -q '^ok RemovePodSandbox' || bad "cri: client finished" "$(echo "$out" | tail -3)"
  fi
  kill "$CTRD_PID"; wait "$CTRD_PID" 2>/dev/null; CTRD_PID=
fi

echo "== $NAME ($RT): $PASS passed, $FAIL failed"
for f in "${FAILED[@]}"; do echo "   failed: $f"; done
[ "$FAIL" = 0 ]
