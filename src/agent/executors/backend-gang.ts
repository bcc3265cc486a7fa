/** How a lease on a node that fronts a Slurm partition or a Kubernetes cluster spans its compute nodes. */
export interface BackendSplit {
  /** Compute nodes (Slurm nodes, Kubernetes nodes) of the one allocation. */
  nnodes: number;
  /** GPUs on each of them. */
  gpusPerNode: number;
}

/**
 * An agent that fronts a Slurm partition or a Kubernetes cluster is one Zumbido node whose GPUs are
 * the cluster's. A lease of more GPUs than one compute node holds (`perNode`) runs as ONE multi-node
 * allocation: the fewest nodes that hold it, the GPUs spread evenly. Undefined: it fits one node (or
 * the operator gave no per-node size). Throws, saying what to ask for, when the GPUs cannot be
 * spread evenly (torch.distributed wants the same number of processes on every node).
 */
export function splitOverNodes(gpus: number, perNode: number | undefined): BackendSplit | undefined {
  if (perNode === undefined || gpus <= perNode) return undefined;
  if (!Number.isInteger(perNode) || perNode < 1)
    throw new Error(`GPUs per compute node must be a whole number of at least 1, got ${perNode}`);
  const nnodes = Math.ceil(gpus / perNode);
  if (gpus % nnodes !== 0)
    throw new Error(
      `a lease of ${gpus} GPUs does not spread evenly over ${nnodes} compute nodes of at most ${perNode} GPUs; ask for a multiple of ${nnodes} GPUs (e.g. ${nnodes * Math.ceil(gpus / nnodes)}), or at most ${perNode}`,
    );
  return { nnodes, gpusPerNode: gpus / nnodes };
}
