// The multi-node sbatch script, validated without a multi-node Slurm (this machine has one node):
// bash parses it, and it runs with stand-ins for `scontrol show hostnames` and `srun` that start one
// rank per node with SLURM_NODEID set, as srun does, so the rendezvous each rank sees is checked.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { multiNodeBatchScript } from "../../src/agent/executors/slurm-gang.js";
import type { WorkloadSpec } from "../../src/agent/executor.js";

const dir = mkdtempSync(join(tmpdir(), "zumbido-slurm-gang-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const w: WorkloadSpec = {
  leaseId: "lease_1",
  jobId: "job_1",
  gpuModel: "H100",
  gpuIndices: [0, 1, 2, 3],
  spec: {
    command: [
      "/bin/sh",
      "-c",
      'echo "rank $RANK node $NODE_RANK of $NNODES world $WORLD_SIZE master $MASTER_ADDR:$MASTER_PORT lws $LOCAL_WORLD_SIZE hosts $ZUMBIDO_HOSTS lr $LR"',
    ],
    env: { LR: "it's 0.1", MASTER_ADDR: "tenant-cannot-set-this" },
  },
};

describe("Slurm multi-node batch script", () => {
  const script = multiNodeBatchScript(w, {
    nnodes: 2,
    gpusPerNode: 4,
    masterPort: 29512,
    gresType: "h100",
    hostfile: join(dir, "hostfile"),
  });

  it("asks for one allocation of 2 nodes, one task and 4 GPUs each, and kills every rank when one fails", () => {
    expect(script).toContain("#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n#SBATCH --gres=gpu:h100:4\n");
    expect(script).toMatch(/^srun --nodes=2 --ntasks-per-node=1 --kill-on-bad-exit=1 /m);
    expect(script).not.toContain("tenant-cannot-set-this");
    execFileSync("bash", ["-n"], { input: script, env: { PATH: "/usr/bin:/bin" } });
  });

  it("each rank sees the same rendezvous and its own rank (run with stand-in scontrol and srun)", () => {
    const bin = join(dir, "bin");
    execFileSync("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "scontrol"), '#!/bin/sh\nprintf "gpu-a\\ngpu-b\\n"\n');
    // srun: run the step once per node, in order, with SLURM_NODEID as Slurm sets it.
    writeFileSync(
      join(bin, "srun"),
      '#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nfor i in 0 1; do SLURM_NODEID=$i "$@" || exit $?; done\n',
    );
    for (const f of ["scontrol", "srun"]) chmodSync(join(bin, f), 0o755);
    const out = execFileSync("bash", ["-c", script], {
      env: { PATH: `${bin}:/usr/bin:/bin`, SLURM_JOB_NODELIST: "gpu-[a-b]" },
    }).toString();
    expect(out.trim().split("\n")).toEqual([
      "rank 0 node 0 of 2 world 8 master gpu-a:29512 lws 4 hosts gpu-a,gpu-b lr it's 0.1",
      "rank 4 node 1 of 2 world 8 master gpu-a:29512 lws 4 hosts gpu-a,gpu-b lr it's 0.1",
    ]);
    expect(readFileSync(join(dir, "hostfile"), "utf8")).toBe("gpu-a slots=4\ngpu-b slots=4\n");
  });

  it("refuses a one-node shape and an empty command", () => {
    expect(() =>
      multiNodeBatchScript(w, { nnodes: 1, gpusPerNode: 4, masterPort: 1, hostfile: "/h" }),
    ).toThrow(/at least 2/);
    expect(() =>
      multiNodeBatchScript(
        { ...w, spec: { command: [] } },
        { nnodes: 2, gpusPerNode: 1, masterPort: 1, hostfile: "/h" },
      ),
    ).toThrow(/command is empty/);
  });
});
