import { shQuote } from "./slurm-parse.js";
import type { WorkloadSpec } from "../executor.js";

/** The shape of a multi-node job run as one Slurm allocation. */
export interface SlurmGangShape {
  /** Nodes of the allocation (one rank per node). */
  nnodes: number;
  /** GPUs on each node. */
  gpusPerNode: number;
  /** Rendezvous port on the first node of the allocation. */
  masterPort: number;
  /** gres type of the GPU model, e.g. "h100" (absent: untyped gpu gres). */
  gresType?: string;
  /** Where the hostfile goes (a folder shared by the nodes, e.g. the job's working folder). */
  hostfile: string;
}

const RESERVED = new Set([
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
  "CUDA_VISIBLE_DEVICES",
  "NVIDIA_VISIBLE_DEVICES",
  "ZUMBIDO_LEASE_ID",
  "ZUMBIDO_JOB_ID",
  "ZUMBIDO_GPU_MODEL",
]);

/**
 * The batch script of a multi-node job as ONE sbatch allocation: `#SBATCH --nodes`, one task per
 * node, then `srun` starts every rank at once (the allocation is the start barrier) with the same
 * rendezvous environment as the agent gives a rank (MASTER_ADDR = the allocation's first node,
 * MASTER_PORT, WORLD_SIZE, RANK, NODE_RANK = SLURM_NODEID, LOCAL_WORLD_SIZE, NNODES, hostfile);
 * `--kill-on-bad-exit=1` stops every rank when one fails (the gang lifecycle). Pure.
 */
export function multiNodeBatchScript(w: WorkloadSpec, g: SlurmGangShape): string {
  if (!Number.isInteger(g.nnodes) || g.nnodes < 2)
    throw new Error(`nnodes must be at least 2, got ${g.nnodes}`);
  if (!Number.isInteger(g.gpusPerNode) || g.gpusPerNode < 1)
    throw new Error(`gpusPerNode must be at least 1, got ${g.gpusPerNode}`);
  if (w.spec.command.length === 0) throw new Error("spec.command is empty: give [program, ...args]");
  const gres = g.gresType ? `gpu:${g.gresType}:${g.gpusPerNode}` : `gpu:${g.gpusPerNode}`;
  const lines = [
    "#!/bin/bash",
    `# zumbido multi-node job ${w.jobId.replace(/\n/g, " ")} (lease ${w.leaseId.replace(/\n/g, " ")})`,
    `#SBATCH --nodes=${g.nnodes}`,
    "#SBATCH --ntasks-per-node=1",
    `#SBATCH --gres=${gres}`,
    "set -eu",
  ];
  for (const [k, v] of Object.entries(w.spec.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new Error(`spec.env: "${k}" is not a valid environment variable name; use letters, digits and _`);
    if (!RESERVED.has(k)) lines.push(`export ${k}=${shQuote(v)}`);
  }
  lines.push(
    `export ZUMBIDO_LEASE_ID=${shQuote(w.leaseId)} ZUMBIDO_JOB_ID=${shQuote(w.jobId)} ZUMBIDO_GPU_MODEL=${shQuote(w.gpuModel)} CUDA_DEVICE_ORDER=PCI_BUS_ID`,
    'hosts=$(scontrol show hostnames "$SLURM_JOB_NODELIST")',
    'export MASTER_ADDR=$(printf "%s\\n" "$hosts" | head -n 1)',
    `export MASTER_PORT=${g.masterPort}`,
    `export NNODES=${g.nnodes} LOCAL_WORLD_SIZE=${g.gpusPerNode} WORLD_SIZE=${g.nnodes * g.gpusPerNode}`,
    `export ZUMBIDO_HOSTFILE=${shQuote(g.hostfile)}`,
    `printf "%s slots=${g.gpusPerNode}\\n" $hosts > "$ZUMBIDO_HOSTFILE"`,
    'export ZUMBIDO_HOSTS=$(printf "%s\\n" "$hosts" | paste -sd, -)',
  );
  const argv = w.spec.shell ? ["/bin/sh", "-c", w.spec.command.join(" ")] : w.spec.command;
  // Each rank learns its node rank from srun; RANK is its first process's global rank.
  const rank =
    'export NODE_RANK=$SLURM_NODEID LOCAL_RANK=0 RANK=$((SLURM_NODEID * LOCAL_WORLD_SIZE)); exec "$@"';
  lines.push(
    `srun --nodes=${g.nnodes} --ntasks-per-node=1 --kill-on-bad-exit=1 --export=ALL /bin/bash -c ${shQuote(rank)} rank ${argv.map(shQuote).join(" ")}`,
  );
  return lines.join("\n") + "\n";
}
