import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GangAssignment } from "../contract/index.js";
import type { WorkloadGang } from "./executor.js";

/**
 * The environment a rank of a multi-node job runs with (torch.distributed / torchrun names) and its
 * hostfile, written under the agent's state: one "address slots=GPUs" line per node, by node rank.
 */
export function gangWorkload(stateDir: string, leaseId: string, g: GangAssignment): WorkloadGang {
  const dir = join(stateDir, "gangs", leaseId);
  mkdirSync(dir, { recursive: true });
  const hostfile = join(dir, "hostfile");
  writeFileSync(hostfile, g.hosts.map((h) => `${h}\n`).join(""), { mode: 0o644 });
  return { env: gangEnv(g), hostfile };
}

/**
 * The environment of the ONE process the agent starts on each node of a gang (local, podman and
 * one-node-per-rank Slurm executors): torch.distributed's world is those processes, so WORLD_SIZE is
 * NNODES, RANK is NODE_RANK, LOCAL_RANK 0 and LOCAL_WORLD_SIZE 1, whatever the node's GPUs. To run
 * one process per GPU, the command is a launcher: torchrun reads the PET_* defaults (nodes, this
 * node's rank, a process per GPU, the master) and sets each child's own RANK, LOCAL_RANK and
 * WORLD_SIZE; ZUMBIDO_GPUS_PER_NODE and the hostfile's slots give the GPUs to other launchers.
 */
export function gangEnv(g: GangAssignment): Record<string, string> {
  return {
    MASTER_ADDR: g.masterAddr,
    MASTER_PORT: String(g.masterPort),
    WORLD_SIZE: String(g.nnodes),
    RANK: String(g.nodeRank),
    NODE_RANK: String(g.nodeRank),
    LOCAL_RANK: "0",
    LOCAL_WORLD_SIZE: "1",
    NNODES: String(g.nnodes),
    ZUMBIDO_GPUS_PER_NODE: String(g.localWorldSize),
    PET_NNODES: String(g.nnodes),
    PET_NODE_RANK: String(g.nodeRank),
    PET_NPROC_PER_NODE: String(g.localWorldSize),
    PET_MASTER_ADDR: g.masterAddr,
    PET_MASTER_PORT: String(g.masterPort),
    ZUMBIDO_HOSTS: g.hosts.map((h) => h.split(" ")[0]).join(","),
  };
}

/** Removes a rank's hostfile folder once its workload is forgotten. */
export function forgetGang(stateDir: string, leaseId: string): void {
  rmSync(join(stateDir, "gangs", leaseId), { recursive: true, force: true });
}
