// Issue 12: a hand-driven rogue node, over HTTP, on SQLite and PostgreSQL. Each case of the issue
// is reproduced: inflated GPU-ms, 50 overlapping copies, a changed replay, a start backdated 30 days,
// and (with the real Agent) an agent clock 10 minutes fast on a cancelled 60 s, 4-GPU job.
// Every case billed money it should not (or lost money) before the fix.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../src/agent/agent.js";
import { ModelledEnergyMeter } from "../../src/agent/energy-model.js";
import type { Executor, WorkloadSpec, WorkloadStatus } from "../../src/agent/executor.js";
import { simulatedGpuSource } from "../../src/agent/gpu-source.js";
import { billingRoutes } from "../../src/api/routes/billing.js";
import { buildWorld, enrolNode, heartbeat, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const DAY = 86_400_000;

/** An executor whose workloads run on the agent's (skewed) clock and end when stopped. */
class ClockExecutor implements Executor {
  readonly kind = "local" as const;
  readonly runtime = { executor: "local" as const, images: false, isolated: false };
  private readonly w = new Map<string, WorkloadStatus>();
  constructor(private readonly now: () => number) {}
  start(s: WorkloadSpec): Promise<WorkloadStatus> {
    const st: WorkloadStatus = {
      leaseId: s.leaseId,
      phase: "running",
      gpuIndices: s.gpuIndices,
      startedAt: this.now(),
    };
    this.w.set(s.leaseId, st);
    return Promise.resolve({ ...st });
  }
  status(leaseId: string): Promise<WorkloadStatus | undefined> {
    const st = this.w.get(leaseId);
    return Promise.resolve(st ? { ...st } : undefined);
  }
  notify(): Promise<void> {
    return Promise.resolve();
  }
  stop(leaseId: string): Promise<WorkloadStatus | undefined> {
    const st = this.w.get(leaseId);
    if (st && st.phase === "running")
      Object.assign(st, { phase: "cancelled", endedAt: this.now(), signal: "SIGTERM" });
    return Promise.resolve(st ? { ...st } : undefined);
  }
  drainLogs(): Promise<[]> {
    return Promise.resolve([]);
  }
  recover(): Promise<WorkloadStatus[]> {
    return Promise.resolve([]);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

for (const factory of STORES) {
  const available = await factory.available();
  if (!available && process.env.CI === "true")
    throw new Error(`${factory.name} is not reachable; CI needs it`);
  describe.skipIf(!available)(`rogue node over HTTP: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    let rogue: { nodeKey: string; nodeId: string };
    const dirs: string[] = [];

    /** The tenant submits a job of `gpus` H100; the rogue node takes the lease and says it runs (at `startedAt`). */
    const lease = async (gpus: number, startedAt?: number) => {
      const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["python", "train.py"],
        gpus,
      });
      expect(sub.status).toBe(201);
      await heartbeat(h.app, rogue.nodeKey);
      await h.loop.tick();
      const a = (await heartbeat(h.app, rogue.nodeKey)).assignments.find((x) => x.jobId === sub.json.id)!;
      expect(a).toBeDefined();
      await call(h.app, rogue.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: a.leaseId, phase: "running", startedAt: startedAt ?? h.clock.now() }],
      });
      return { jobId: sub.json.id as string, leaseId: a.leaseId };
    };
    let seq = 0;
    const record = (leaseId: string, fromMs: number, toMs: number, gpuMs: number, s = ++seq) => ({
      nodeId: rogue.nodeId,
      seq: s,
      leaseId,
      fromMs,
      toMs,
      gpuMs,
      energyMilliWh: 0,
      energySource: "modelled" as const,
    });
    const post = async (records: unknown[]) => {
      const r = await call(h.app, rogue.nodeKey, "POST", "/v1/agent/usage", { records });
      expect(r.status).toBe(200);
      return r.json as {
        accepted: number;
        duplicates: number;
        clipped: number;
        conflicts: { seq: number }[];
      };
    };
    const end = async (leaseId: string, endedAt?: number) =>
      call(h.app, rogue.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId, phase: "succeeded", exitCode: 0, endedAt: endedAt ?? h.clock.now() }],
      });
    /** GPU-seconds on the tenant's invoice for one lease (0 when it has no line). */
    const billed = async (leaseId: string): Promise<number> => {
      const inv = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
      expect(inv.status).toBe(200);
      return (inv.json.lines as { leaseId: string; gpuSeconds: number }[])
        .filter((l) => l.leaseId === leaseId)
        .reduce((s, l) => s + l.gpuSeconds, 0);
    };
    const anomalies = async (key: string, leaseId: string) => {
      const r = await call(h.app, key, "GET", `/v1/anomalies?nodeId=${rogue.nodeId}&limit=1000`);
      expect(r.status).toBe(200);
      return (r.json as { leaseId: string; kind: string; claim: unknown; accepted: unknown }[]).filter(
        (a) => a.leaseId === leaseId,
      );
    };

    beforeAll(async () => {
      h = await startHarness(factory, [billingRoutes]);
      w = await buildWorld(h.app, h.adminKey);
      rogue = await enrolNode(h.app, w.operatorKey, w.sites.es, "rogue", simGpus("H100", 8));
    });
    afterAll(async () => {
      await h?.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it("bills a ~3 s, 1-GPU lease at most 3 GPU-s although the node claims 10^12 GPU-ms over 1 s", async () => {
      const t = h.clock.now();
      const { leaseId } = await lease(1);
      h.clock.advance(3000);
      const r = await post([record(leaseId, t + 1000, t + 2000, 1e12)]);
      expect(r).toMatchObject({ accepted: 1, clipped: 1, conflicts: [] });
      await end(leaseId);
      expect(await billed(leaseId)).toBe(1);
      const a = await anomalies(w.operatorKey, leaseId);
      expect(a).toHaveLength(1);
      expect(a[0]).toMatchObject({
        kind: "usage-clipped",
        claim: { gpuMs: 1e12 },
        accepted: { gpuMs: 1000 },
      });
      // The admin sees it too; another operator does not.
      expect((await anomalies(h.adminKey, leaseId)).length).toBe(1);
      expect((await anomalies(w.otherOperatorKey, leaseId)).length).toBe(0);
      expect((await call(h.app, w.tenantKey, "GET", "/v1/anomalies")).status).toBe(403);
    });

    it("bills 50 overlapping copies of one interval (distinct seqs) once", async () => {
      const t = h.clock.now();
      const { leaseId } = await lease(1);
      h.clock.advance(3000);
      const r = await post(Array.from({ length: 50 }, () => record(leaseId, t + 1000, t + 2000, 1000)));
      expect(r).toMatchObject({ accepted: 50, clipped: 49 });
      await end(leaseId);
      expect(await billed(leaseId)).toBe(1);
      expect((await anomalies(w.operatorKey, leaseId)).length).toBe(49);
    });

    it("refuses a seq replayed with other content (a conflict, recorded), and keeps identical replays idempotent", async () => {
      const t = h.clock.now();
      const { leaseId } = await lease(1);
      h.clock.advance(3000);
      const first = record(leaseId, t, t + 1000, 1000);
      expect(await post([first])).toMatchObject({ accepted: 1, duplicates: 0, clipped: 0, conflicts: [] });
      expect(await post([first])).toMatchObject({ accepted: 0, duplicates: 1, conflicts: [] });
      const changed = { ...first, gpuMs: 5, fromMs: t + 2000, toMs: t + 2005 };
      const r = await post([changed]);
      expect(r.accepted).toBe(0);
      expect(r.duplicates).toBe(0);
      expect(r.conflicts.map((c) => c.seq)).toEqual([first.seq]);
      await end(leaseId);
      expect(await billed(leaseId)).toBe(1);
      const a = await anomalies(w.operatorKey, leaseId);
      expect(a.map((x) => x.kind)).toEqual(["seq-conflict"]);
    });

    it("bills a lease whose node backdates its start by 30 days for the ~5 s it held, not 720 GPU-h", async () => {
      const t = h.clock.now();
      const { leaseId } = await lease(1, t - 30 * DAY);
      h.clock.advance(5000);
      // 720 one-hour records, honest by the node's clock, which is 30 days slow.
      const recs = Array.from({ length: 720 }, (_, i) =>
        record(leaseId, t - 30 * DAY + i * 3_600_000, t - 30 * DAY + (i + 1) * 3_600_000, 3_600_000),
      );
      await post(recs);
      await end(leaseId, t - 30 * DAY + 720 * 3_600_000);
      const s = await billed(leaseId);
      expect(s).toBeLessThanOrEqual(5);
      const kinds = new Set((await anomalies(w.operatorKey, leaseId)).map((x) => x.kind));
      expect(kinds.has("time-clamped")).toBe(true);
    });

    it("bills a cancelled 60 s, 4-GPU job 240 GPU-s when the agent's clock is 10 minutes fast (real agent)", async () => {
      const dir = mkdtempSync(join(tmpdir(), "zumbido-skew-"));
      dirs.push(dir);
      const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
      const agentClock = { now: () => h.clock.now() + 10 * 60_000 };
      const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/enrolment-tokens`);
      const agent = new Agent({
        server: url,
        token: tok.json.token as string,
        name: "fast-clock",
        stateDir: join(dir, "agent"),
        executor: new ClockExecutor(agentClock.now),
        gpus: simulatedGpuSource("H100x4"),
        meter: new ModelledEnergyMeter(),
        clock: agentClock,
        meterMs: 5000,
      });
      try {
        await agent.init();
        await agent.tick();
        expect(agent.clockOffsetMs()).toBe(-10 * 60_000);
        const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
          gpuModels: ["H100"],
          countries: ["ES"],
          command: ["train"],
          gpus: 4,
        });
        expect(sub.status).toBe(201);
        // Drain the hand-driven node so that the real agent's node gets the lease.
        await call(h.app, w.operatorKey, "POST", `/v1/nodes/${rogue.nodeId}/drain`);
        await h.loop.tick();
        await agent.tick(); // receives the assignment and starts it
        const job = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`);
        const leaseId = job.json.leases[0].id as string;
        for (let i = 0; i < 12; i++) {
          h.clock.advance(5000);
          await agent.tick();
        }
        expect((await call(h.app, w.tenantKey, "POST", `/v1/jobs/${sub.json.id}/cancel`)).status).toBe(200);
        h.clock.advance(1000);
        await agent.tick(); // gets the stop; the workload ends
        h.clock.advance(1000);
        await agent.tick(); // meters to the end, ships it, reports cancelled
        h.clock.advance(1000);
        await agent.tick();
        const after = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`);
        expect(after.json.state).toBe("cancelled");
        expect(await billed(leaseId)).toBe(240);
        expect(await anomalies(w.operatorKey, leaseId)).toEqual([]);
      } finally {
        await agent.stop();
      }
    });
  });
}
