import { shQuote } from "./slurm-parse.js";
import type { WorkloadSpec } from "../executor.js";

/** The shape of a multi-node job run as one Slurm allocation. */
export interface SlurmGangShape {
  /** Nodes of the allocation. */
  nnodes: number;
  /** GPUs on each node. */
  gpusPerNode: number;
  /**
   * Processes (Slurm tasks) per node, default 1: the command (e.g. torchrun) drives the node's GPUs.
   * With one task per GPU, Slurm's task ids give each process its own RANK and LOCAL_RANK.
   */
  tasksPerNode?: number;
  /** Rendezvous port on the first node; default 29500 + (Slurm job id mod 2000), unique per job. */
  masterPort?: number;
  /** gres type of the GPU model, e.g. "h100" (absent: untyped gpu gres). */
  gresType?: string;
  /** Where the hostfile goes (a folder shared by the nodes, e.g. the job's working folder). */
  hostfile: string;
  /** Where the batch script notes the first node's GPU indices (for a job that ends between polls). */
  gpuNote?: string;
  /** Where failing ranks note "rank node code" (shared by the nodes; default: the hostfile's path + ".exits"). */
  rankExits?: string;
  /** What each srun task runs instead of the spec's command (container mode: the rank's own podman script). */
  rankArgv?: string[];
}

export const RESERVED = new Set([
  "MASTER_ADDR",
  "MASTER_PORT",
  "WORLD_SIZE",
  "RANK",
  "NODE_RANK",
  "LOCAL_RANK",
  "LOCAL_WORLD_SIZE",
  "NNODES",
  "ZUMBIDO_HOSTS",
  "ZUMBIDO_HOSTFILE",
  "ZUMBIDO_GPUS_PER_NODE",
  "CUDA_VISIBLE_DEVICES",
  "NVIDIA_VISIBLE_DEVICES",
  "ZUMBIDO_LEASE_ID",
  "ZUMBIDO_JOB_ID",
  "ZUMBIDO_GPU_MODEL",
]);

/**
 * The batch script of a multi-node job as ONE sbatch allocation: `#SBATCH --nodes`, the tasks per
 * node, then `srun` starts every rank at once (the allocation is the start barrier) with the
 * torch.distributed environment of the processes it starts: MASTER_ADDR = the first node's NodeAddr
 * (its name when Slurm has none), MASTER_PORT, WORLD_SIZE = all tasks, RANK = SLURM_PROCID,
 * LOCAL_RANK = SLURM_LOCALID, LOCAL_WORLD_SIZE = tasks per node, NODE_RANK = SLURM_NODEID, NNODES,
 * the hostfile, and torchrun's PET_* defaults so a bare `torchrun train.py` starts one process per
 * GPU. `--kill-on-bad-exit=1` stops every rank when one fails (the gang lifecycle); the job then
 * ends with the first failing rank's exit code and says which rank it was on stderr. Pure.
 */
export function multiNodeBatchScript(w: WorkloadSpec, g: SlurmGangShape): string {
  if (!Number.isInteger(g.nnodes) || g.nnodes < 2)
    throw new Error(`nnodes must be at least 2, got ${g.nnodes}`);
  if (!Number.isInteger(g.gpusPerNode) || g.gpusPerNode < 1)
    throw new Error(`gpusPerNode must be at least 1, got ${g.gpusPerNode}`);
  const tasks = g.tasksPerNode ?? 1;
  if (!Number.isInteger(tasks) || tasks < 1) throw new Error(`tasksPerNode must be at least 1, got ${tasks}`);
  if (w.spec.command.length === 0) throw new Error("spec.command is empty: give [program, ...args]");
  const gres = g.gresType ? `gpu:${g.gresType}:${g.gpusPerNode}` : `gpu:${g.gpusPerNode}`;
  const lines = [
    "#!/bin/bash",
    `# zumbido multi-node job ${w.jobId.replace(/\n/g, " ")} (lease ${w.leaseId.replace(/\n/g, " ")})`,
    `#SBATCH --nodes=${g.nnodes}`,
    `#SBATCH --ntasks-per-node=${tasks}`,
    `#SBATCH --gres=${gres}`,
    "set -eu",
  ];
  for (const [k, v] of Object.entries(w.spec.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new Error(`spec.env: "${k}" is not a valid environment variable name; use letters, digits and _`);
    if (!RESERVED.has(k) && !k.startsWith("PET_")) lines.push(`export ${k}=${shQuote(v)}`);
  }
  const port = g.masterPort ?? "$((29500 + SLURM_JOB_ID % 2000))";
  if (g.gpuNote)
    lines.push(`printf '%s\\n' "\${SLURM_JOB_GPUS:-\${CUDA_VISIBLE_DEVICES:-}}" > ${shQuote(g.gpuNote)}`);
  lines.push(
    `export ZUMBIDO_LEASE_ID=${shQuote(w.leaseId)} ZUMBIDO_JOB_ID=${shQuote(w.jobId)} ZUMBIDO_GPU_MODEL=${shQuote(w.gpuModel)} CUDA_DEVICE_ORDER=PCI_BUS_ID`,
    'hosts=$(scontrol show hostnames "$SLURM_JOB_NODELIST")',
    // Each node's NodeAddr (where Slurm reaches it; set it to the cluster-network address), else its name.
    'addrs=$(for h in $hosts; do a=$(scontrol -o show node "$h" | tr " " "\\n" | sed -n "s/^NodeAddr=//p"); echo "${a:-$h}"; done)',
    'export MASTER_ADDR=$(printf "%s\\n" "$addrs" | head -n 1)',
    `export MASTER_PORT=${port}`,
    `export NNODES=${g.nnodes} LOCAL_WORLD_SIZE=${tasks} WORLD_SIZE=${g.nnodes * tasks} ZUMBIDO_GPUS_PER_NODE=${g.gpusPerNode}`,
    `export PET_NNODES=${g.nnodes} PET_NPROC_PER_NODE=${g.gpusPerNode} PET_MASTER_ADDR="$MASTER_ADDR" PET_MASTER_PORT="$MASTER_PORT"`,
    `export ZUMBIDO_HOSTFILE=${shQuote(g.hostfile)}`,
    `printf "%s slots=${g.gpusPerNode}\\n" $addrs > "$ZUMBIDO_HOSTFILE"`,
    'export ZUMBIDO_HOSTS=$(printf "%s\\n" "$addrs" | paste -sd, -)',
  );
  const argv = g.rankArgv ?? (w.spec.shell ? ["/bin/sh", "-c", w.spec.command.join(" ")] : w.spec.command);
  // Each task learns its ranks from srun; a rank that fails notes itself (the first note names the
  // culprit). The notice and stop signals reach the workload itself: the wrapper only outlives them.
  const rank =
    'trap : USR1 TERM; export NODE_RANK=$SLURM_NODEID PET_NODE_RANK=$SLURM_NODEID RANK=$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID; "$@"; rc=$?; [ "$rc" = 0 ] || echo "$RANK $SLURMD_NODENAME $rc" >> "$ZUMBIDO_RANK_EXITS"; exit "$rc"';
  lines.push(
    `export ZUMBIDO_RANK_EXITS=${shQuote(g.rankExits ?? `${g.hostfile}.exits`)}`,
    ': > "$ZUMBIDO_RANK_EXITS"',
    // `scancel --full` signals this script too: it outlives the notice and waits for srun.
    "trap : USR1 TERM",
    "rc=0",
    `srun --nodes=${g.nnodes} --ntasks-per-node=${tasks} --kill-on-bad-exit=1 --export=ALL /bin/bash -c ${shQuote(rank)} rank ${argv.map(shQuote).join(" ")} || rc=$?`,
    // The allocation ends with the first failing rank's code (srun reports the highest, often a killed rank's 143).
    'first=$(head -n 1 "$ZUMBIDO_RANK_EXITS")',
    'if [ -n "$first" ]; then set -- $first; echo "zumbido: rank $1 (node $2) exited with code $3; srun stopped the other ranks" >&2; exit "$3"; fi',
    'exit "$rc"',
  );
  return lines.join("\n") + "\n";
}
