#!/bin/bash
# Starts a SECOND, two-node Slurm on this one host for the multi-node tests (one sbatch allocation
# across two Slurm nodes): its own slurmctld (port 6837) and two slurmd (Debian's build has
# MULTIPLE_SLURMD: `scontrol show config` says so), nodes zn0 (NodeAddr 127.0.0.1, port 6838) and
# zn1 (NodeAddr 127.0.0.2, port 6839), each with 2 fake gpu:h100. It leaves the single-node Slurm of
# scripts/ci/setup-slurm.sh alone (other ports, other folder). Needs munged (setup-slurm.sh starts
# it) and the Slurm packages. Idempotent. Run as root.
# The tests find it through SLURM_CONF=$ZUMBIDO_SLURM_MN_DIR/etc/slurm.conf (default /tmp/zumbido-slurm-mn).
# Stop it with: scripts/ci/setup-slurm-multinode.sh stop
set -euo pipefail
S=${ZUMBIDO_SLURM_MN_DIR:-/tmp/zumbido-slurm-mn}
GPUS=2
export SLURM_CONF=$S/etc/slurm.conf
say() { echo "setup-slurm-multinode: $*"; }
die() { echo "setup-slurm-multinode: FAILED: $*" >&2; exit 1; }
alive() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
  for f in "$S/run/slurmd-zn0.pid" "$S/run/slurmd-zn1.pid" "$S/run/slurmctld.pid"; do
    p=$(cat "$f" 2>/dev/null) || continue
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p"
    rm -f "$f"
    say "stopped $p ($f)"
  done
  exit 0
fi

up() { [ "$(timeout 5 sinfo -h -N -o '%T' 2>/dev/null | grep -cE '^(idle|mixed|allocated)')" = 2 ]; }
if alive "$S/run/slurmctld.pid" && alive "$S/run/slurmd-zn0.pid" && alive "$S/run/slurmd-zn1.pid" && up; then
  say "already up ($S): $(timeout 5 sinfo -h -N -o '%N %T %G' | paste -sd' ')"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root; the two-node Slurm is not up"
command -v slurmd >/dev/null || die "Slurm is not installed; run scripts/ci/setup-slurm.sh first"
munge -n 2>/dev/null | unmunge 2>/dev/null | grep -q 'STATUS: *Success' || die "munged is not running; run scripts/ci/setup-slurm.sh first"

mkdir -p "$S/etc" "$S/state" "$S/spool" "$S/log" "$S/run" "$S/dev"
for n in 0 1; do
  for i in $(seq 0 $((GPUS - 1))); do
    [ -e "$S/dev/zn$n-nvidia$i" ] || mknod "$S/dev/zn$n-nvidia$i" c 195 $((n * GPUS + i))
  done
done
cat >"$S/etc/slurm.conf" <<CONF
ClusterName=zumbidomn
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6837
SlurmdPort=6838
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool/%n
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd-%n.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
GresTypes=gpu
ReturnToService=2
MinJobAge=3600
KillWait=5
SlurmdParameters=config_overrides
NodeName=zn0 NodeHostname=localhost NodeAddr=127.0.0.1 Port=6838 CPUs=4 RealMemory=4096 Gres=gpu:h100:$GPUS State=UNKNOWN
NodeName=zn1 NodeHostname=localhost NodeAddr=127.0.0.2 Port=6839 CPUs=4 RealMemory=4096 Gres=gpu:h100:$GPUS State=UNKNOWN
PartitionName=mn Nodes=zn0,zn1 Default=YES MaxTime=INFINITE State=UP
CONF
{
  echo "NodeName=zn0 Name=gpu Type=h100 File=$S/dev/zn0-nvidia[0-$((GPUS - 1))]"
  echo "NodeName=zn1 Name=gpu Type=h100 File=$S/dev/zn1-nvidia[0-$((GPUS - 1))]"
} >"$S/etc/gres.conf"
say "wrote $S/etc/slurm.conf (nodes zn0, zn1 on this host, $GPUS x gpu:h100 each)"

if alive "$S/run/slurmctld.pid"; then say "slurmctld already running"; else
  /usr/sbin/slurmctld -i || die "slurmctld did not start; see $S/log/slurmctld.log"
  say "started slurmctld"
fi
for n in zn0 zn1; do
  mkdir -p "$S/spool/$n"
  if alive "$S/run/slurmd-$n.pid"; then say "slurmd $n already running"; else
    /usr/sbin/slurmd -N "$n" || die "slurmd $n did not start; see $S/log/slurmd-$n.log"
    say "started slurmd $n"
  fi
done
for _ in $(seq 1 60); do
  up && break
  alive "$S/run/slurmctld.pid" || { tail -5 "$S/log/slurmctld.log" >&2; die "slurmctld died"; }
  sleep 0.5
done
up || { tail -5 "$S/log/slurmd-zn1.log" >&2; die "nodes not ready: $(timeout 5 sinfo -h -N -o '%N %T' | paste -sd' ')"; }
say "up: $(timeout 5 sinfo -h -N -o '%N %T %G' | paste -sd' ')"
