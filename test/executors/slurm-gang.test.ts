// The multi-node sbatch script, validated without Slurm: bash parses it, and it runs with stand-ins
// for `scontrol` and `srun` that start one rank per node with SLURM_NODEID/PROCID/LOCALID set, as srun
// does. The real two-node allocation runs in test/multinode/slurm-allocation.test.ts.
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
      'echo "rank $RANK local $LOCAL_RANK node $NODE_RANK of $NNODES world $WORLD_SIZE master $MASTER_ADDR:$MASTER_PORT lws $LOCAL_WORLD_SIZE gpus $ZUMBIDO_GPUS_PER_NODE torchrun $PET_NNODES/$PET_NODE_RANK/$PET_NPROC_PER_NODE hosts $ZUMBIDO_HOSTS lr $LR"',
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
    expect(script).not.toContain("$((29500"); // the port was given
    expect(script).not.toContain("tenant-cannot-set-this");
    execFileSync("bash", ["-n"], { input: script, env: { PATH: "/usr/bin:/bin" } });
  });

  it("each rank sees the same rendezvous and its own rank (run with stand-in scontrol and srun)", () => {
    const bin = join(dir, "bin");
    execFileSync("mkdir", ["-p", bin]);
    // `show hostnames` lists the nodes; `-o show node X` gives gpu-a a NodeAddr and gpu-b none.
    writeFileSync(
      join(bin, "scontrol"),
      '#!/bin/sh\ncase "$*" in *hostnames*) printf "gpu-a\\ngpu-b\\n";; *gpu-a*) echo "NodeName=gpu-a NodeAddr=10.0.0.1 State=IDLE";; *) echo "NodeName=$4 State=IDLE";; esac\n',
    );
    // srun: run the step once per node, in order, with SLURM_NODEID as Slurm sets it.
    writeFileSync(
      join(bin, "srun"),
      '#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nfor i in 0 1; do SLURM_NODEID=$i SLURM_PROCID=$i SLURM_LOCALID=0 SLURMD_NODENAME=n$i "$@" || exit $?; done\n',
    );
    for (const f of ["scontrol", "srun"]) chmodSync(join(bin, f), 0o755);
    const out = execFileSync("bash", ["-c", script], {
      env: { PATH: `${bin}:/usr/bin:/bin`, SLURM_JOB_NODELIST: "gpu-[a-b]" },
    }).toString();
    expect(out.trim().split("\n")).toEqual([
      "rank 0 local 0 node 0 of 2 world 2 master 10.0.0.1:29512 lws 1 gpus 4 torchrun 2/0/4 hosts 10.0.0.1,gpu-b lr it's 0.1",
      "rank 1 local 0 node 1 of 2 world 2 master 10.0.0.1:29512 lws 1 gpus 4 torchrun 2/1/4 hosts 10.0.0.1,gpu-b lr it's 0.1",
    ]);
    expect(readFileSync(join(dir, "hostfile"), "utf8")).toBe("10.0.0.1 slots=4\ngpu-b slots=4\n");
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
