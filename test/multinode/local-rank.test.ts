// The rendezvous environment the agent gives the ONE process it starts per node (gangEnv), checked
// with real torch.distributed processes (gloo, Debian's python3-torch) for 2 nodes x 2 GPUs:
// - run directly, the two node processes form a world of 2 (before, WORLD_SIZE counted GPUs, 4,
//   and the two processes waited for two more that never came);
// - run through `torchrun script` (no rendezvous arguments) (no arguments: it reads the PET_* defaults), each node
//   starts one process per GPU with its own RANK and LOCAL_RANK: a world of 4.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { gangEnv, gangWorkload } from "../../src/agent/gang.js";
import type { GangAssignment } from "../../src/contract/index.js";

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures/allreduce.py");
const state = mkdtempSync(join(tmpdir(), "zumbido-local-rank-"));
afterAll(() => rmSync(state, { recursive: true, force: true }));

const rankOf = (nodeRank: number, port: number): GangAssignment => ({
  nodeRank,
  nnodes: 2,
  masterAddr: "127.0.0.1",
  masterPort: port,
  worldSize: 4,
  rank: nodeRank * 2,
  localWorldSize: 2,
  hosts: ["127.0.0.1 slots=2", "127.0.0.2 slots=2"],
  go: true,
});

/** Runs argv as both nodes' processes (each with its rank's env) and returns their joined output. */
async function runNodes(argv: string[], port: number): Promise<string> {
  const outs = await Promise.all(
    [0, 1].map(
      (r) =>
        new Promise<string>((done, fail) => {
          const w = gangWorkload(state, `lease-${port}-${r}`, rankOf(r, port));
          const env = {
            PATH: "/usr/bin:/bin",
            ...w.env,
            ZUMBIDO_HOSTFILE: w.hostfile,
            GLOO_SOCKET_IFNAME: "lo",
            OMP_NUM_THREADS: "1",
          };
          const p = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
          let out = "";
          p.stdout.on("data", (b: Buffer) => (out += b.toString()));
          p.stderr.on("data", (b: Buffer) => (out += b.toString()));
          const t = setTimeout(() => p.kill("SIGKILL"), 110_000);
          p.on("close", (code) => {
            clearTimeout(t);
            if (code === 0) done(out);
            else fail(new Error(`node ${r} exited with ${code}:\n${out}`));
          });
        }),
    ),
  );
  return outs.join("\n");
}

describe("a rank's environment: one process per node, torchrun for one per GPU", () => {
  it("describes the processes the agent starts (world = nodes), with torchrun's defaults and the GPUs", () => {
    expect(gangEnv(rankOf(1, 29555))).toEqual({
      MASTER_ADDR: "127.0.0.1",
      MASTER_PORT: "29555",
      WORLD_SIZE: "2",
      RANK: "1",
      NODE_RANK: "1",
      LOCAL_RANK: "0",
      LOCAL_WORLD_SIZE: "1",
      NNODES: "2",
      ZUMBIDO_GPUS_PER_NODE: "2",
      PET_NNODES: "2",
      PET_NODE_RANK: "1",
      PET_NPROC_PER_NODE: "2",
      PET_MASTER_ADDR: "127.0.0.1",
      PET_MASTER_PORT: "29555",
      ZUMBIDO_HOSTS: "127.0.0.1,127.0.0.2",
    });
  });

  it("2 nodes x 2 GPUs, the command run directly: the two node processes all-reduce as a world of 2", async () => {
    const out = await runNodes(["/usr/bin/python3", SCRIPT], 29561);
    expect(out).toContain("rank 0 of 2: allreduce=11");
    expect(out).toContain("rank 1 of 2: allreduce=11");
    expect(out).toContain("hostfile 127.0.0.1 slots=2 | 127.0.0.2 slots=2");
  });

  it("2 nodes x 2 GPUs through `torchrun script` (no rendezvous arguments): 4 processes with their own RANK and LOCAL_RANK", async () => {
    // `-r 1 -t 1` only because Debian's torch 1.13 under Python 3.11+ cannot parse its own default "0"
    // for these two (Std.from_str returns None); nnodes, node rank, processes and master come from PET_*.
    const out = await runNodes(["/usr/bin/torchrun", "-r", "1", "-t", "1", SCRIPT], 29563);
    for (const r of [0, 1, 2, 3]) expect(out).toContain(`rank ${r} of 4: allreduce=1111`);
    for (const [rank, node, local] of [
      [0, 0, 0],
      [1, 0, 1],
      [2, 1, 0],
      [3, 1, 1],
    ])
      expect(out).toContain(
        `WORLD_SIZE=4 RANK=${rank} NODE_RANK=${node} NNODES=2 LOCAL_WORLD_SIZE=2 LOCAL_RANK=${local}`,
      );
  });
});
