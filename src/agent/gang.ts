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

/** MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, NODE_RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, NNODES, ZUMBIDO_HOSTS. */
export function gangEnv(g: GangAssignment): Record<string, string> {
  return {
    MASTER_ADDR: g.masterAddr,
    MASTER_PORT: String(g.masterPort),
    WORLD_SIZE: String(g.worldSize),
    RANK: String(g.rank),
    NODE_RANK: String(g.nodeRank),
    LOCAL_RANK: "0",
    LOCAL_WORLD_SIZE: String(g.localWorldSize),
    NNODES: String(g.nnodes),
    ZUMBIDO_HOSTS: g.hosts.map((h) => h.split(" ")[0]).join(","),
  };
}

/** Removes a rank's hostfile folder once its workload is forgotten. */
export function forgetGang(stateDir: string, leaseId: string): void {
  rmSync(join(stateDir, "gangs", leaseId), { recursive: true, force: true });
}
