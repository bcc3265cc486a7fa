// The Slurm executor's container mode on the real single-node Slurm and real podman: the tenant's
// image runs inside the allocation, isolated as by the podman executor, on the GPUs Slurm chose.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCdiGpus } from "../../src/agent/executors/cdi.js";
import { podmanEnv } from "../../src/agent/executors/podman-args.js";
import { SlurmExecutor } from "../../src/agent/executors/slurm.js";
import type { WorkloadSpec, WorkloadStatus } from "../../src/agent/executor.js";
import { executorConformance, isTerminal, until } from "./conformance.js";
import { PODMAN_ENV, podmanUnavailable, removeContainersNamed, TEST_IMAGE } from "./podman-env.js";
import { slurmConfPath, slurmUnavailable } from "./slurm-env.js";

const conf = slurmConfPath();
const cdi = readCdiGpus();
const why =
  slurmUnavailable(conf) ??
  podmanUnavailable() ??
  ([0, 1, 2, 3, 4, 5, 6, 7].every((i) => cdi.names.includes(String(i)))
    ? undefined
    : `the CDI spec names GPUs ${cdi.names.join(",") || "none"}, not the Slurm node's 0-7; run scripts/ci/setup-containers.sh (ZB_FAKE_GPUS=8)`);
const underCi = process.env.CI === "true";
const root = mkdtempSync(join(tmpdir(), "zumbido-slurm-podman-"));
const run = `t${process.pid}-${Date.now().toString(36)}`;
const slurmEnv = { ...process.env, ...(conf ? { SLURM_CONF: conf } : {}) };
const make = (key: string): SlurmExecutor =>
  new SlurmExecutor({
    logDir: join(root, key),
    now: () => Date.now(),
    agentId: `${run}-${key}`,
    slurmConf: conf,
    pollIntervalMs: 100,
    baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    container: "podman",
    podman: {
      defaultImage: TEST_IMAGE,
      podmanEnv: podmanEnv({}),
      memoryBytes: 256 * 1024 * 1024,
      cpus: 1,
      pidsLimit: 256,
    },
  });

/** Containers labelled with this lease, as podman itself lists them. */
const containersOf = (leaseId: string): string[] =>
  spawnSync("podman", ["ps", "-a", "-q", "--filter", `label=zumbido.lease=${leaseId}`], {
    env: PODMAN_ENV,
    encoding: "utf8",
  })
    .stdout.split("\n")
    .filter(Boolean);

if (why && underCi) {
  describe("Slurm executor with podman", () => {
    it("needs Slurm, podman and a CDI spec for the Slurm node's GPUs under CI", () => {
      expect.fail(`not available under CI: ${why}`);
    });
  });
} else {
  afterAll(() => {
    if (!why) removeContainersNamed(`conf-slurm-podman-${process.pid}-`);
  });
  executorConformance("slurm-podman", make, {
    gpuModel: "H100",
    gpuIndices: [0, 1],
    engineChoosesGpus: true,
    gpuVar: "ZUMBIDO_GPU_INDICES",
    noticeSignal: "USR1",
    exitKnownAfterRestart: true,
    timeoutMs: 45_000,
    skipReason: why,
  });

  (why ? describe.skip : describe)(
    `Slurm executor with podman: isolation inside the allocation${why ? ` — not run: ${why}` : ""}`,
    () => {
      const ex = make("iso");
      afterAll(async () => {
        await ex.close();
        if (!why) removeContainersNamed(`iso-${run}-`);
      });
      let n = 0;
      const lease = (script: string, gpus = 1): WorkloadSpec => ({
        leaseId: `iso-${run}-${++n}`,
        jobId: `job-${n}`,
        gpuModel: "H100",
        gpuIndices: Array.from({ length: gpus }, () => 0),
        spec: { command: [script], shell: true, gracePeriodS: 2 },
      });
      const logs = async (id: string, acc: { t: string }): Promise<string> => {
        acc.t += (await ex.drainLogs(id)).map((c) => c.text).join("");
        return acc.t;
      };
      const ended = (id: string): Promise<WorkloadStatus> =>
        until(
          `${id} to end`,
          async () => {
            const s = await ex.status(id);
            return isTerminal(s) ? s : undefined;
          },
          45_000,
        );

      it("runs the image as a non-root user, read-only root, only the GPU Slurm allocated; the exit code comes back", async () => {
        const w = lease(
          [
            'echo "UID=$(id -u)"',
            "if touch /probe 2>/dev/null; then echo ROOT=writable; else echo ROOT=readonly; fi",
            'echo "DEVS=$(ls /dev | grep "^nvidia[0-9]" | tr "\\n" " ")"',
            'echo "CVD=$CUDA_VISIBLE_DEVICES IDX=$ZUMBIDO_GPU_INDICES"',
            'echo "CAPS=$(grep CapEff /proc/self/status)"',
            "exit 7",
          ].join("; "),
        );
        await ex.start(w);
        const s = await ended(w.leaseId);
        const acc = { t: "" };
        const out = await until(
          "the probe's output",
          async () => {
            const t = await logs(w.leaseId, acc);
            return t.includes("CAPS=") ? t : undefined;
          },
          15_000,
        );
        expect(s.phase, `${s.reason}\n${out}`).toBe("failed");
        expect(s.exitCode).toBe(7);
        expect(s.reason).toBe("exited with code 7");
        // What Slurm itself says of the job: its exit code and the GPU it allocated.
        const job = execFileSync("scontrol", ["show", "job", s.externalId!], {
          env: slurmEnv,
          encoding: "utf8",
        });
        expect(job).toMatch(/ExitCode=7:0/);
        const idx = s.gpuIndices!;
        expect(idx).toHaveLength(1);
        expect(out).toContain("UID=1000");
        expect(out).toContain("ROOT=readonly");
        expect(out).toContain(`DEVS=nvidia${idx[0]} `);
        expect(out).toContain(`CVD=0 IDX=${idx[0]}`);
        expect(out).toMatch(/CAPS=CapEff:\s+0+\n/);
        expect(containersOf(w.leaseId)).toEqual([]); // removed once its exit was noted
      });

      it("the agent's stop: SIGTERM to the container, then the job ends cancelled and the container is gone", async () => {
        const w = lease("trap 'echo got-TERM; exit 143' TERM; echo up; while :; do sleep 0.2; done");
        await ex.start(w);
        const acc = { t: "" };
        await until("the workload to run", async () => (await logs(w.leaseId, acc)).includes("up"), 45_000);
        expect(containersOf(w.leaseId)).toHaveLength(1);
        const s = await ex.stop(w.leaseId, 5);
        expect(s?.phase).toBe("cancelled");
        await until(
          "got-TERM in the log",
          async () => (await logs(w.leaseId, acc)).includes("got-TERM"),
          10_000,
        );
        await until("the container to be gone", async () => containersOf(w.leaseId).length === 0, 15_000);
      });

      it("an operator's scancel stops the container with the job, even one that ignores SIGTERM", async () => {
        const w = lease("trap '' TERM USR1; echo up; while :; do sleep 0.2; done");
        await ex.start(w);
        const acc = { t: "" };
        await until("the workload to run", async () => (await logs(w.leaseId, acc)).includes("up"), 45_000);
        const id = (await ex.status(w.leaseId))!.externalId!;
        execFileSync("scancel", [id], { env: slurmEnv });
        const s = await ended(w.leaseId);
        expect(s.phase).not.toBe("running");
        // Slurm SIGKILLs the batch script after KillWait (5 s here); its watchdog then removes the container.
        await until("the container to be gone", async () => containersOf(w.leaseId).length === 0, 20_000);
      });

      it("a workload over its memory limit ends as out of memory", async () => {
        const w = lease("exec dd if=/dev/zero of=/dev/null bs=400M count=1");
        await ex.start(w);
        const s = await ended(w.leaseId);
        expect(s.phase).toBe("failed");
        expect(s.exitCode).toBe(137);
        expect(s.reason).toMatch(/out of memory \(OOM killed\)/);
      });

      it("a missing image fails with podman's words, and nothing is billed", async () => {
        const w = { ...lease("true"), image: "localhost/zumbido/no-such-image:1" };
        await ex.start(w);
        const s = await ended(w.leaseId);
        expect(s.phase).toBe("failed");
        expect(s.reason).toMatch(/^could not pull image localhost\/zumbido\/no-such-image:1: /);
        expect(s.startedAt).toBeUndefined();
      });
    },
  );

  describe("Slurm executor without container support", () => {
    it("refuses tenant jobs unless started unsafe, and image jobs always", async () => {
      const safe = new SlurmExecutor({
        logDir: join(root, "host-safe"),
        now: () => Date.now(),
        container: "host",
      });
      expect(safe.runtime).toEqual({ executor: "slurm", images: false, isolated: false });
      const a = await safe.start({ ...baseLease("r1") });
      expect(a.phase).toBe("failed");
      expect(a.reason).toMatch(/--slurm-container podman/);
      const unsafe = new SlurmExecutor({
        logDir: join(root, "host-unsafe"),
        now: () => Date.now(),
        container: "host",
        unsafeHostProcesses: true,
      });
      const b = await unsafe.start({ ...baseLease("r2"), image: "ubuntu:22.04" });
      expect(b.phase).toBe("failed");
      expect(b.reason).toMatch(/cannot run container images.*ubuntu:22\.04/);
      expect(make("rt").runtime).toEqual({ executor: "slurm", images: true, isolated: true });
    });
  });
}

function baseLease(id: string): WorkloadSpec {
  return {
    leaseId: `${id}-${run}`,
    jobId: "j",
    gpuModel: "H100",
    gpuIndices: [0],
    spec: { command: ["true"] },
  };
}
