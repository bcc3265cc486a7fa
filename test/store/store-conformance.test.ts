// One conformance suite for every store implementation (SQLite file and real PostgreSQL).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job, UsageRecord } from "../../src/domain/index.js";
import type { Store } from "../../src/store/index.js";
import { STORES } from "../helpers/stores.js";

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`store conformance: ${factory.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await factory.open());
      await store.accounts.createOperator({ id: "op1", name: "Hall One", createdAt: 1 });
      await store.accounts.createTenant({
        id: "t1",
        name: "Lab",
        country: "ES",
        vatId: null,
        creditLimitMinor: 0,
        createdAt: 1,
      });
      await store.fleet.createSite({
        id: "s1",
        operatorId: "op1",
        name: "Asturias",
        country: "ES",
        lat: 43.36,
        lon: -5.84,
        powerKw: 2000,
        pue: 1.2,
        cooling: "air",
        nodeOverheadW: 800,
        carbonGPerKwh: 120,
        createdAt: 1,
      });
    });
    afterAll(async () => cleanup?.());

    it("stores keys hashed and finds them by secret only", async () => {
      const { key, record } = await store.accounts.createKey({
        id: "k1",
        role: "tenant",
        ownerId: "t1",
        name: "ci",
        now: 5,
      });
      expect(key.startsWith("zk_tenant_")).toBe(true);
      expect(record.prefix.length).toBeLessThan(key.length);
      expect((await store.accounts.findKeyBySecret(key))?.id).toBe("k1");
      expect(await store.accounts.findKeyBySecret(`${key}x`)).toBeUndefined();
      expect(await store.accounts.revokeKey("k1", 6)).toBe(true);
      expect(await store.accounts.revokeKey("k1", 7)).toBe(false);
      expect((await store.accounts.findKeyBySecret(key))?.revokedAt).toBe(6);
    });

    it("upserts prices and keeps integers exact", async () => {
      await store.fleet.setPrice(
        { siteId: "s1", gpuModel: "H100", onDemandMinorPerGpuHour: 250, interruptibleMinorPerGpuHour: 120 },
        10,
      );
      await store.fleet.setPrice(
        { siteId: "s1", gpuModel: "H100", onDemandMinorPerGpuHour: 240, interruptibleMinorPerGpuHour: 110 },
        11,
      );
      const prices = await store.fleet.listPrices("s1");
      expect(prices).toEqual([
        { siteId: "s1", gpuModel: "H100", onDemandMinorPerGpuHour: 240, interruptibleMinorPerGpuHour: 110 },
      ]);
    });

    it("trades a one-time enrolment token for a node exactly once", async () => {
      await store.fleet.createEnrolmentToken("s1", "tok-1", 10, 10_000);
      await store.fleet.createEnrolmentToken("s1", "tok-old", 10, 20);
      const node = {
        id: "n1",
        name: "gpu-01",
        state: "ready" as const,
        executor: "local" as const,
        gpus: [0, 1, 2, 3].map((i) => ({
          index: i,
          uuid: `GPU-${i}`,
          model: "H100",
          name: "H100",
          memoryMb: 81559,
          powerLimitW: 700,
          healthy: true,
        })),
      };
      expect(await store.fleet.consumeEnrolmentToken("tok-1", node, 100)).toEqual({ ok: true, siteId: "s1" });
      const again = await store.fleet.consumeEnrolmentToken("tok-1", { ...node, id: "n2" }, 101);
      expect(again.ok).toBe(false);
      const expired = await store.fleet.consumeEnrolmentToken("tok-old", { ...node, id: "n3" }, 101);
      expect(expired).toMatchObject({ ok: false, reason: expect.stringContaining("expired") });
      expect((await store.fleet.listNodes()).map((n) => n.id)).toEqual(["n1"]);
      expect((await store.fleet.getNode("n1"))?.gpus).toHaveLength(4);
    });

    it("commits a placement atomically and refuses a GPU held twice", async () => {
      const job = (id: string): Job => ({
        id,
        tenantId: "t1",
        name: id,
        request: { gpuModels: ["H100"], gpus: 2, class: "on-demand" },
        spec: { command: ["true"] },
        state: "pending",
        reasons: [],
        submittedAt: 200,
      });
      await store.jobs.createJob(job("j1"));
      await store.jobs.createJob(job("j2"));
      const lease = (id: string, jobId: string, gpus: number[]) => ({
        id,
        jobId,
        tenantId: "t1",
        siteId: "s1",
        operatorId: "op1",
        nodeId: "n1",
        country: "ES",
        gpuModel: "H100",
        gpuIndices: gpus,
        class: "on-demand" as const,
        priceMinorPerGpuHour: 240,
        currency: "EUR",
        createdAt: 210,
      });
      expect(await store.jobs.commitPlacement("j1", [lease("l1", "j1", [0, 1])], 210, "placed")).toBe(true);
      expect(await store.jobs.commitPlacement("j2", [lease("l2", "j2", [1, 2])], 211, "placed")).toBe(false);
      expect((await store.jobs.getJob("j2"))?.state).toBe("pending");
      expect(await store.jobs.getLease("l2")).toBeUndefined();
      expect(await store.jobs.commitPlacement("j1", [lease("l3", "j1", [2, 3])], 212, "again")).toBe(false);
      expect(await store.jobs.markLeaseRunning("l1", 300)).toBe(true);
      expect((await store.jobs.getJob("j1"))?.state).toBe("running");
      expect(await store.jobs.requestLeaseStop("l1", "cancelled by tenant", 400, 430)).toBe(true);
      const ended = await store.jobs.endLease("l1", 420);
      expect(ended?.state).toBe("stopping");
      expect(await store.jobs.endLease("l1", 421)).toBeUndefined();
      expect((await store.jobs.events("j1")).map((e) => e.state)).toEqual([
        "pending",
        "scheduled",
        "running",
      ]);
    });

    it("knows each job's attained GPU-seconds and the service of recently finished jobs (the queue policy's inputs)", async () => {
      const job = (id: string, gpus: number): Job => ({
        id,
        tenantId: "t1",
        name: id,
        request: { gpuModels: ["H100"], gpus, class: "interruptible" },
        spec: { command: ["true"] },
        state: "pending",
        reasons: [],
        submittedAt: 1_000,
      });
      const lease = (id: string, jobId: string, gpus: number[], at: number) => ({
        id,
        jobId,
        tenantId: "t1",
        siteId: "s1",
        operatorId: "op1",
        nodeId: "n1",
        country: "ES",
        gpuModel: "H100",
        gpuIndices: gpus,
        class: "interruptible" as const,
        priceMinorPerGpuHour: 120,
        currency: "EUR",
        createdAt: at,
      });
      await store.jobs.createJob(job("q1", 2));
      await store.jobs.createJob(job("q2", 1));
      // q1: a first stint of 10 s on 2 GPUs, preempted and requeued, then running again since 30 s.
      expect(
        await store.jobs.commitPlacement("q1", [lease("q1a", "q1", [4, 5], 1_000)], 1_000, "placed"),
      ).toBe(true);
      await store.jobs.markLeaseRunning("q1a", 2_000);
      await store.jobs.endLease("q1a", 12_000);
      await store.jobs.transitionJob("q1", ["scheduled", "running"], "preempted", 12_000, "preempted");
      expect(
        await store.jobs.commitPlacement("q1", [lease("q1b", "q1", [4, 5], 20_000)], 20_000, "again"),
      ).toBe(true);
      await store.jobs.markLeaseRunning("q1b", 30_000);
      const held = await store.jobs.attainedGpuS(["q1", "q2"], 40_000);
      expect(held.get("q1")).toBe(2 * 10 + 2 * 10);
      expect(held.has("q2")).toBe(false);
      // q1 ends at 50 s: 2 x 10 + 2 x 20 GPU-seconds in all.
      await store.jobs.endLease("q1b", 50_000);
      await store.jobs.transitionJob("q1", ["running"], "succeeded", 50_000, "done", { endedAt: 50_000 });
      const done = await store.jobs.finishedService();
      expect(done.at(-1)).toEqual({ tenantId: "t1", gpus: 2, serviceGpuS: 60 });
    });

    it("ingests usage idempotently on (node, seq)", async () => {
      const rec = (seq: number): UsageRecord => ({
        nodeId: "n1",
        seq,
        leaseId: "l1",
        fromMs: 300 + seq * 10,
        toMs: 310 + seq * 10,
        gpuMs: 20,
        energyMilliWh: 7,
        energySource: "modelled",
      });
      const batch = Array.from({ length: 1200 }, (_, i) => rec(i + 1));
      expect(await store.usage.insertBatch(batch, 1)).toEqual({ accepted: 1200, duplicates: 0 });
      expect(await store.usage.insertBatch([rec(5), rec(1201), rec(1200)], 2)).toEqual({
        accepted: 1,
        duplicates: 2,
      });
      expect(await store.usage.totals()).toEqual({
        records: 1201,
        gpuMs: 1201 * 20,
        energyMilliWh: 1201 * 7,
      });
      expect(await store.usage.maxSeq("n1")).toBe(1201);
      expect((await store.usage.forLeases(["l1"])).length).toBe(1201);
    });

    it("caps logs per job and says so", async () => {
      await store.jobs.appendLogs("j1", [{ leaseId: "l1", stream: "stdout", text: "a".repeat(60) }], 1, 100);
      await store.jobs.appendLogs("j1", [{ leaseId: "l1", stream: "stdout", text: "b".repeat(60) }], 2, 100);
      await store.jobs.appendLogs("j1", [{ leaseId: "l1", stream: "stdout", text: "c" }], 3, 100);
      const logs = await store.jobs.logs("j1");
      expect(logs).toHaveLength(2);
      expect(logs[1]!.text).toContain("log truncated");
      expect((await store.jobs.logs("j1", logs[0]!.id)).length).toBe(1);
    });

    it("marks silent nodes offline", async () => {
      expect(await store.fleet.markStaleNodesOffline(50)).toEqual([]);
      expect(await store.fleet.markStaleNodesOffline(10_000)).toEqual(["n1"]);
      expect((await store.fleet.getNode("n1"))?.state).toBe("offline");
    });
  });
}
