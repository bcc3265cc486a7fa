#!/bin/bash
# Starts a single-node Slurm (Debian 12's Slurm 22.05) for the executor tests: munged, slurmctld and
# slurmd on node "localhost" with 8 fake GPUs of type h100 (character devices, so GRES counts them).
# Idempotent: what already runs is left alone. Installs the Debian packages when missing.
# Run as root; no systemd, no cgroups. Prints each step; exits non-zero if Slurm does not come up.
# Env: ZUMBIDO_SLURM_DIR (default /tmp/zumbido-slurm), CPUS (default 8), GPUS (default 8).
# The tests find it through SLURM_CONF=$ZUMBIDO_SLURM_DIR/etc/slurm.conf (or that default path).
# Stop it with scripts/ci/teardown-slurm.sh.
set -euo pipefail
S=${ZUMBIDO_SLURM_DIR:-/tmp/zumbido-slurm}
CPUS=${CPUS:-8}
GPUS=${GPUS:-8}
export SLURM_CONF=$S/etc/slurm.conf
say() { echo "setup-slurm: $*"; }
die() { echo "setup-slurm: FAILED: $*" >&2; exit 1; }
alive() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

if alive "$S/run/slurmctld.pid" && alive "$S/run/slurmd.pid" && [ "$(timeout 5 sinfo -h -o %T 2>/dev/null | head -1)" != "" ]; then
  say "already up ($S): $(timeout 5 sinfo -h -o '%P %T %G %N')"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root (starts munged and slurmd as root); Slurm is not up"

# 1. Packages (about 20 s the first time).
PKGS="slurmctld slurmd slurm-client munge"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq || die "apt-get update failed"
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null || die "apt-get install$missing failed"
else
  say "packages present: $PKGS"
fi

mkdir -p "$S/etc" "$S/state" "$S/spool" "$S/log" "$S/run" "$S/dev"

# 2. munge (Debian's postinst writes /etc/munge/munge.key; create one if it did not).
install -d -o munge -g munge -m 0755 /run/munge
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if alive /run/munge/munged.pid; then
  say "munged already running"
else
  runuser -u munge -- /usr/sbin/munged || die "munged did not start"
  say "started munged"
fi
munge -n | unmunge | grep -q 'STATUS: *Success' || die "munge round trip failed"

# 3. Fake GPU device files: Slurm 22.05 drops GPUs without files and the node goes INVAL.
for i in $(seq 0 $((GPUS - 1))); do [ -e "$S/dev/nvidia$i" ] || mknod "$S/dev/nvidia$i" c 195 "$i"; done

# 4. Configuration. DefMemPerCPU lets jobs share the node; KillWait=5 keeps cancels short;
# MinJobAge keeps ended jobs visible to squeue/scontrol (the executor's recovery reads them).
OVR=""
[ "$CPUS" -gt "$(nproc)" ] && OVR="SlurmdParameters=config_overrides"
cat >"$S/etc/slurm.conf" <<CONF
ClusterName=zumbido
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
GresTypes=gpu
ReturnToService=2
MinJobAge=3600
KillWait=5
$OVR
NodeName=localhost CPUs=$CPUS RealMemory=$((CPUS * 1024)) Gres=gpu:h100:$GPUS State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=localhost Name=gpu Type=h100 File=$S/dev/nvidia[0-$((GPUS - 1))]" >"$S/etc/gres.conf"
say "wrote $S/etc/slurm.conf and gres.conf ($CPUS CPUs, $GPUS x gpu:h100)"

# 5. Daemons.
if alive "$S/run/slurmctld.pid"; then say "slurmctld already running"; else
  /usr/sbin/slurmctld -i || die "slurmctld did not start; see $S/log/slurmctld.log"
  say "started slurmctld"
fi
if alive "$S/run/slurmd.pid"; then say "slurmd already running"; else
  /usr/sbin/slurmd -N localhost || die "slurmd did not start; see $S/log/slurmd.log" # hostname is not the node name
  say "started slurmd"
fi

# 6. Wait for the node (sinfo can block for minutes with the controller down: always under timeout).
state=""
for _ in $(seq 1 60); do
  alive "$S/run/slurmctld.pid" || { tail -5 "$S/log/slurmctld.log" >&2; die "slurmctld died"; }
  state=$(timeout 5 sinfo -h -o %T 2>/dev/null | head -1 || true)
  case "$state" in idle | mixed | allocated) break ;; esac
  sleep 0.5
done
case "$state" in
  idle | mixed | allocated) ;;
  *) tail -5 "$S/log/slurmd.log" >&2; die "node not ready (state '${state:-none}')" ;;
esac
say "up: $(timeout 5 sinfo -h -o '%P %a %T %c CPUs %G %N')"
say "use: export SLURM_CONF=$SLURM_CONF"
