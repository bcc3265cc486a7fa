import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SlurmExecutor } from "../../src/agent/executors/slurm.js";
import type { WorkloadSpec } from "../../src/agent/executor.js";
import { executorConformance, isTerminal, until } from "./conformance.js";
import { slurmConfPath, slurmUnavailable } from "./slurm-env.js";

const conf = slurmConfPath();
const why = slurmUnavailable(conf);
const underCi = process.env.CI === "true";
const root = mkdtempSync(join(tmpdir(), "zumbido-slurm-exec-"));
const run = `t${process.pid}-${Date.now().toString(36)}`;
const make = (key: string): SlurmExecutor =>
  new SlurmExecutor({
    logDir: join(root, key),
    now: () => Date.now(),
    agentId: `${run}-${key}`,
    slurmConf: conf,
    pollIntervalMs: 100,
    baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    // Host mode (development only); slurm-podman.test.ts runs the container mode.
    container: "host",
    unsafeHostProcesses: true,
  });

if (why && underCi) {
  describe("Slurm executor", () => {
    it("needs a running Slurm under CI", () => {
      expect.fail(`Slurm is not available under CI: ${why}`);
    });
  });
} else {
  executorConformance("slurm", make, {
    gpuModel: "H100",
    gpuIndices: [0, 1],
    engineChoosesGpus: true,
    noticeSignal: "USR1",
    exitKnownAfterRestart: true,
    timeoutMs: 30_000,
    skipReason: why,
  });

  (why ? describe.skip : describe)(
    `Slurm executor: the issue's check (2 x h100)${why ? ` — not run: ${why}` : ""}`,
    () => {
      const ex = make("issue-check");
      afterAll(() => ex.close());
      const env = { ...process.env, ...(conf ? { SLURM_CONF: conf } : {}) };
      const lease = (n: number): WorkloadSpec => ({
        leaseId: `issue-${run}-${n}`,
        jobId: `job-${n}`,
        gpuModel: "H100",
        gpuIndices: [0, 0],
        spec: {
          shell: true,
          command: [
            `trap 'echo notice-USR1' USR1; echo "CVD=$CUDA_VISIBLE_DEVICES"; while :; do sleep 0.1; done`,
          ],
        },
      });

      it("a job asking for 2 h100 sees exactly the indices Slurm assigned; notice and cancel arrive", async () => {
        const a = lease(1);
        const b = lease(2);
        await ex.start(a);
        await ex.start(b);
        const logsOf = async (id: string, acc: { t: string }): Promise<string> => {
          acc.t += (await ex.drainLogs(id)).map((c) => c.text).join("");
          return acc.t;
        };
        const la = { t: "" };
        const lb = { t: "" };
        await until(
          "both jobs print their GPUs",
          async () =>
            (await logsOf(a.leaseId, la)).includes("CVD=") && (await logsOf(b.leaseId, lb)).includes("CVD="),
          30_000,
        );
        const sa = await ex.status(a.leaseId);
        const sb = await ex.status(b.leaseId);
        // What Slurm itself says, read here without the executor's parser.
        const idx = (jobId: string): number[] => {
          const out = execFileSync("scontrol", ["-d", "show", "job", jobId], { env, encoding: "utf8" });
          const m =
            /GRES=gpu:h100:2\(IDX:(\d+)-(\d+)\)/.exec(out) ?? /GRES=gpu:h100:2\(IDX:(\d+),(\d+)\)/.exec(out);
          expect(m, out).not.toBeNull();
          return [Number(m![1]), Number(m![2])];
        };
        const ia = idx(sa!.externalId!);
        const ib = idx(sb!.externalId!);
        expect(sa?.gpuIndices).toEqual(ia);
        expect(sb?.gpuIndices).toEqual(ib);
        expect(/CVD=(\S+)/.exec(la.t)?.[1]).toBe(ia.join(","));
        expect(/CVD=(\S+)/.exec(lb.t)?.[1]).toBe(ib.join(","));
        expect(ia.filter((i) => ib.includes(i))).toEqual([]); // two jobs never share a GPU

        await ex.notify(a.leaseId);
        await until(
          "the notice in job a's log",
          async () => (await logsOf(a.leaseId, la)).includes("notice-USR1"),
          30_000,
        );
        expect((await ex.status(a.leaseId))?.phase).toBe("running"); // the notice alone does not end it

        const stopped = await ex.stop(a.leaseId, 1);
        expect(stopped?.phase).toBe("cancelled");
        const state = execFileSync("scontrol", ["show", "job", sa!.externalId!], { env, encoding: "utf8" });
        expect(state).toMatch(/JobState=(CANCELLED|FAILED)/);
        const sb2 = await ex.stop(b.leaseId, 1);
        expect(isTerminal(sb2)).toBe(true);
      });

      it("a job that asks for more GPUs than the node has is refused with Slurm's words, not an exception", async () => {
        const s = await ex.start({ ...lease(3), gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
        expect(s.phase).toBe("failed");
        expect(s.reason).toMatch(/^sbatch refused the job: /);
      });
    },
  );
}
