#!/bin/bash
# Stops what scripts/ci/setup-slurm.sh started, by pid file only; SIGKILL after 10 s (slurmd stuck in
# registration retries ignores SIGTERM). Leaves packages and $ZUMBIDO_SLURM_DIR in place (KEEP=0 removes the folder).
S=${ZUMBIDO_SLURM_DIR:-/tmp/zumbido-slurm}
for f in "$S/run/slurmd.pid" "$S/run/slurmctld.pid" /run/munge/munged.pid; do
  p=$(cat "$f" 2>/dev/null) || continue
  [ -n "$p" ] || continue
  kill "$p" 2>/dev/null || { rm -f "$f"; continue; }
  for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$p" 2>/dev/null && kill -9 "$p"
  echo "teardown-slurm: stopped $p ($f)"
  rm -f "$f"
done
[ "${KEEP:-1}" = 0 ] && rm -rf "$S" && echo "teardown-slurm: removed $S"
exit 0
