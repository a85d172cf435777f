#!/usr/bin/env bash
# A single-node Slurm cluster from Debian's packages (slurmctld, slurmd, munge), for the tests:
#   tests/slurm/cluster.sh start DIR   start munged, slurmctld and slurmd with everything
#                                      (configuration, keys, state, logs, sockets) under DIR;
#                                      prints SLURM_CONF=DIR/slurm.conf when the node is idle
#   tests/slurm/cluster.sh stop DIR    stop the three daemons (and any job step they left)
# Nothing outside DIR is written: munged gets its own key and socket (slurm.conf points at it),
# the daemons listen on free ports of this host, and the node is this host with 4 CPUs
# (SlurmdParameters=config_overrides lets a 2-core VM run 4 tasks). Run as root; jobs run as
# any user.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: cluster.sh start|stop DIR}")

stop() {
  # Jobs first, so that no job step outlives its daemons.
  if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ]; then
    export SLURM_CONF=$dir/slurm.conf
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
    fi
  fi
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then
      kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
    fi
  done
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then
      for _ in $(seq 50); do kill -0 "$(cat "$dir/$p.pid")" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null || true
      rm -f "$dir/$p.pid"
    fi
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "cluster.sh: unknown command $cmd" >&2; exit 2; }
for p in munged slurmctld slurmd srun; do
  command -v "$p" >/dev/null || { echo "cluster.sh: $p not installed (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 1; }
done

mkdir -p "$dir"/{munge,state,spool,log}
chmod 755 "$dir"
# munged refuses keys, sockets and logs that others could change: its own directory, owned by
# the munge user.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$dir/munge"
chmod 700 "$dir/munge"; chmod 600 "$dir/munge/munge.key"
# The socket must be reachable by every user: its directory is 0755.
chmod 755 "$dir/munge"
setpriv --reuid=munge --regid=munge --clear-groups \
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
  --seed-file="$dir/munge/munged.seed" --force
for _ in $(seq 50); do [ -S "$dir/munge/munge.sock" ] && break; sleep 0.1; done
cp "$dir/munge/munged.pid" "$dir/munged.pid"

host=$(hostname -s)
ctl_port=$(free_port); d_port=$(free_port)
cat > "$dir/slurm.conf" <<CONF
ClusterName=singlet$(printf %s "$dir" | sha256sum | cut -c1-8)
SlurmctldHost=$host
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
KillWait=5
SlurmdParameters=config_overrides
InactiveLimit=0
MinJobAge=30
NodeName=$host CPUs=4 RealMemory=1024 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
chmod 644 "$dir/slurm.conf"
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  state=$(sinfo -h -N -o %t 2>/dev/null || true)
  [ "$state" = idle ] && { echo "SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.2
done
echo "cluster.sh: the node did not become idle (state: ${state:-none}); logs in $dir/log" >&2
tail -5 "$dir/log/"*.log >&2 || true
stop
exit 1
