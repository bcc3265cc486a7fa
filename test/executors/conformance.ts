import { afterAll, describe, expect, it } from "vitest";
import type { JobSpec } from "../../src/domain/index.js";
import type { Executor, LogChunk, WorkloadSpec, WorkloadStatus } from "../../src/agent/executor.js";

/** How one executor is driven by the shared conformance suite. */
export interface ConformanceOptions {
  /** Catalogue id of the GPU model to ask for, e.g. "H100". */
  gpuModel: string;
  /** GPU indices to ask for; engines that choose indices themselves only use the count. */
  gpuIndices: number[];
  /** The engine picks the indices (Slurm, Kubernetes): the workload must see exactly status.gpuIndices. */
  engineChoosesGpus: boolean;
  /** Signal that carries the checkpoint notice to the workload, as `trap` spells it. */
  noticeSignal: "TERM" | "USR1";
  /** Whether a workload that ended while the agent was down keeps its exit code (Slurm: yes; local: no). */
  exitKnownAfterRestart: boolean;
  /** Longest wait for one state change, in ms (default 20 s). */
  timeoutMs?: number;
  /** Turns a /bin/sh script into the job spec the engine runs (default: shell spec). */
  specOf?: (script: string) => JobSpec;
  /** Script that prints "ready", waits for the notice, prints "notice-received" and exits 0 (default: a trap on noticeSignal). */
  noticeScript?: string;
  /** The engine hides host GPU indices (Kubernetes): the workload sees 0..n-1 and status.gpuIndices may be undefined. */
  hostGpuIndicesHidden?: boolean;
  /**
   * The variable carrying the lease's host GPU indices in the workload (default CUDA_VISIBLE_DEVICES).
   * Container engines that renumber GPUs from 0 with the engine choosing them use ZUMBIDO_GPU_INDICES.
   */
  gpuVar?: string;
  /** When set, the suite is skipped and this reason is printed (never silently). */
  skipReason?: string;
}

/** Waits until fn returns a value other than undefined/false, polling every intervalMs; throws naming `what` on timeout. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    last = v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** True when the phase is final. */
export function isTerminal(s: WorkloadStatus | undefined): s is WorkloadStatus {
  return s !== undefined && TERMINAL.has(s.phase);
}

/** Collects log output of a lease across drains. */
class LogBook {
  readonly chunks: LogChunk[] = [];
  constructor(
    private readonly ex: () => Executor,
    private readonly leaseId: string,
  ) {}
  async pull(): Promise<string> {
    this.chunks.push(...(await this.ex().drainLogs(this.leaseId)));
    return this.text();
  }
  text(stream?: "stdout" | "stderr"): string {
    return this.chunks
      .filter((c) => stream === undefined || c.stream === stream)
      .map((c) => c.text)
      .join("");
  }
}

let seq = 0;

/**
 * The executor conformance suite: every engine runs it. makeExecutor(key) must return a NEW executor
 * instance over the state named by key; calling it twice with the same key is an "agent restart".
 */
export function executorConformance(
  name: string,
  makeExecutor: (key: string) => Executor | Promise<Executor>,
  opts: ConformanceOptions,
): void {
  const timeout = opts.timeoutMs ?? 20_000;
  const specOf = opts.specOf ?? ((script: string): JobSpec => ({ command: [script], shell: true }));
  const open: Executor[] = [];
  const make = async (key: string): Promise<Executor> => {
    const ex = await makeExecutor(key);
    open.push(ex);
    return ex;
  };
  const workload = (script: string, extra: Partial<JobSpec> = {}): WorkloadSpec => {
    seq += 1;
    const leaseId = `conf-${name}-${process.pid}-${Date.now().toString(36)}-${seq}`;
    return {
      leaseId,
      jobId: `job-${leaseId}`,
      gpuModel: opts.gpuModel,
      gpuIndices: [...opts.gpuIndices],
      spec: { ...specOf(script), ...extra },
    };
  };
  const ended = (ex: Executor, leaseId: string): Promise<WorkloadStatus> =>
    until(
      `${leaseId} to end`,
      async () => {
        const s = await ex.status(leaseId);
        return isTerminal(s) ? s : undefined;
      },
      timeout,
    );
  const expectedGpus = (s: WorkloadStatus): string =>
    opts.engineChoosesGpus ? (s.gpuIndices ?? []).join(",") : opts.gpuIndices.join(",");

  const suite = opts.skipReason ? describe.skip : describe;
  if (opts.skipReason) console.warn(`[executor conformance] ${name}: not run: ${opts.skipReason}`);

  suite(`executor conformance: ${name}${opts.skipReason ? ` — not run: ${opts.skipReason}` : ""}`, () => {
    afterAll(async () => {
      for (const ex of open) await ex.close();
    });

    it("runs the workload on exactly the GPUs of the lease and reports success", async () => {
      const ex = await make("gpus");
      const gpuVar = opts.gpuVar ?? "CUDA_VISIBLE_DEVICES";
      const w = workload(`echo "GPUS=[$${gpuVar}] LEASE=$ZUMBIDO_LEASE_ID"`, {
        env: { [gpuVar]: "99" },
      });
      const first = await ex.start(w);
      expect(first.leaseId).toBe(w.leaseId);
      const s = await ended(ex, w.leaseId);
      const logs = new LogBook(() => ex, w.leaseId);
      await until("the GPU line in the logs", async () => (await logs.pull()).includes("GPUS="), timeout);
      expect(s.phase).toBe("succeeded");
      expect(s.exitCode).toBe(0);
      if (!opts.hostGpuIndicesHidden) expect(s.gpuIndices?.length).toBe(opts.gpuIndices.length);
      if (!opts.engineChoosesGpus) expect(s.gpuIndices).toEqual(opts.gpuIndices);
      expect(logs.text("stdout")).toContain(`GPUS=[${expectedGpus(s)}] LEASE=${w.leaseId}`);
    });

    it("reports running while it runs, streams logs before the end, and cancels", async () => {
      const ex = await make("running");
      const w = workload(
        'trap "" TERM USR1; echo tick-start; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done',
      );
      await ex.start(w);
      await until("phase running", async () => (await ex.status(w.leaseId))?.phase === "running", timeout);
      const logs = new LogBook(() => ex, w.leaseId);
      await until(
        "tick-start in the logs while running",
        async () => (await logs.pull()).includes("tick 2"),
        timeout,
      );
      expect((await ex.status(w.leaseId))?.phase).toBe("running");
      // The workload ignores the notice: stop must kill it after the grace period.
      const s = await ex.stop(w.leaseId, 1);
      expect(s?.phase).toBe("cancelled");
      expect(isTerminal(await ex.status(w.leaseId))).toBe(true);
    });

    it("reports a non-zero exit code, stderr and timing", async () => {
      const ex = await make("exit");
      const w = workload("echo to-out; echo to-err 1>&2; exit 3");
      await ex.start(w);
      const s = await ended(ex, w.leaseId);
      expect(s.phase).toBe("failed");
      expect(s.exitCode).toBe(3);
      expect(typeof s.startedAt).toBe("number");
      expect(typeof s.endedAt).toBe("number");
      expect(s.endedAt!).toBeGreaterThanOrEqual(s.startedAt!);
      const logs = new LogBook(() => ex, w.leaseId);
      await until(
        "both streams",
        async () => (await logs.pull()).includes("to-err") && logs.text().includes("to-out"),
        timeout,
      );
      expect(logs.text("stdout")).toContain("to-out");
    });

    const noticeTitle = opts.noticeScript
      ? "delivers the checkpoint notice the way the engine documents"
      : `delivers the checkpoint notice as SIG${opts.noticeSignal}, which the workload can trap`;
    it(noticeTitle, async () => {
      const ex = await make("notice");
      const w = workload(
        opts.noticeScript ??
          `trap 'echo notice-received; exit 0' ${opts.noticeSignal}; echo ready; while :; do sleep 0.1; done`,
      );
      await ex.start(w);
      const logs = new LogBook(() => ex, w.leaseId);
      await until("the workload to be ready", async () => (await logs.pull()).includes("ready"), timeout);
      await ex.notify(w.leaseId);
      const s = await ended(ex, w.leaseId);
      await until(
        "notice-received in the logs",
        async () => (await logs.pull()).includes("notice-received"),
        timeout,
      );
      expect(s.phase).toBe("succeeded");
      expect(s.exitCode).toBe(0);
    });

    it("ends a command that does not exist in phase failed, without throwing", async () => {
      const ex = await make("badcmd");
      const w: WorkloadSpec = { ...workload("true"), spec: { command: ["zumbido-no-such-command-x9"] } };
      const first = await ex.start(w);
      expect(first.leaseId).toBe(w.leaseId);
      const s = await ended(ex, w.leaseId);
      expect(s.phase).toBe("failed");
      const logs = await new LogBook(() => ex, w.leaseId).pull();
      expect(`${s.reason ?? ""}\n${logs}`).toMatch(/not found/i);
    });

    it("tells nothing of a lease it never heard of", async () => {
      const ex = await make("unknown");
      expect(await ex.status("conf-never-started")).toBeUndefined();
      expect(await ex.drainLogs("conf-never-started")).toEqual([]);
    });

    it("recovers after an agent restart: live workloads keep running, ended ones are reported", async () => {
      const key = `restart-${Date.now().toString(36)}`;
      const ex1 = await make(key);
      const alive = workload("trap '' TERM USR1; echo alive; while :; do sleep 0.2; done");
      const dies = workload("sleep 1; exit 5");
      const a1 = await ex1.start(alive);
      await ex1.start(dies);
      await until(
        "the long workload to run",
        async () => (await ex1.status(alive.leaseId))?.phase === "running",
        timeout,
      );
      await ex1.close(); // the agent goes away; the workloads do not

      // Restart until the short one is seen ended (each probe is a fresh agent over the same state).
      await until(
        "the short workload to be seen ended after a restart",
        async () => {
          const probe = await make(key);
          const st = await probe.recover();
          await probe.close();
          return isTerminal(st.find((x) => x.leaseId === dies.leaseId));
        },
        timeout,
        250,
      );

      const ex2 = await make(key);
      const recovered = await ex2.recover();
      const a2 = recovered.find((x) => x.leaseId === alive.leaseId);
      const d2 = recovered.find((x) => x.leaseId === dies.leaseId);
      expect(a2?.phase).toBe("running");
      if (a1.externalId !== undefined) expect(a2?.externalId).toBe(a1.externalId);
      expect(d2?.phase).toBe("failed");
      if (opts.exitKnownAfterRestart) expect(d2?.exitCode).toBe(5);
      else {
        expect(d2?.exitCode ?? null).toBeNull();
        expect(d2?.reason).toMatch(/unknown/);
      }
      expect((await ex2.status(alive.leaseId))?.phase).toBe("running");
      const stopped = await ex2.stop(alive.leaseId, 1);
      expect(stopped?.phase).toBe("cancelled");
    });
  });
}
