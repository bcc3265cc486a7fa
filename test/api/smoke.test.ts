import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, simGpus } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

describe("a job's life through the API (in-process, SQLite)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
  });
  afterAll(async () => h.close());

  it("places an EU job on an EU site although a cheaper non-EU offer exists, runs, meters and bills it", async () => {
    const w = await buildWorld(h.app, h.adminKey);
    const es = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    const py = await enrolNode(h.app, w.operatorKey, w.sites.py, "py-1");
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 2,
      gpuModels: ["H100"],
      jurisdiction: "EU",
      maxPriceMinorPerGpuHour: 250,
      command: ["python", "train.py"],
    });
    expect(sub.status).toBe(201);
    const report = await h.loop.tick();
    expect(report.placed).toBe(1);
    const job = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`);
    expect(job.json.state).toBe("scheduled");
    expect(job.json.leases[0].siteId).toBe(w.sites.es);
    expect(job.json.leases[0].priceMinorPerGpuHour).toBe(240);
    // The PY node gets nothing; the ES node gets the assignment.
    const hbPy = await call(h.app, py.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    expect(hbPy.json.assignments).toEqual([]);
    const hb = await call(h.app, es.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    expect(hb.status).toBe(200);
    const a = hb.json.assignments[0];
    expect(a.gpuIndices).toHaveLength(2);
    const t0 = h.clock.now();
    await call(h.app, es.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [{ leaseId: a.leaseId, phase: "running", startedAt: t0 }],
    });
    // 90 s on 2 GPUs, metered in two records (sent once they have passed); one sent twice.
    h.clock.set(t0 + 90_000);
    const recs = [
      {
        nodeId: es.nodeId,
        seq: 1,
        leaseId: a.leaseId,
        fromMs: t0,
        toMs: t0 + 60_000,
        gpuMs: 120_000,
        energyMilliWh: 23_333_000 / 1000,
        energySource: "modelled",
      },
      {
        nodeId: es.nodeId,
        seq: 2,
        leaseId: a.leaseId,
        fromMs: t0 + 60_000,
        toMs: t0 + 90_000,
        gpuMs: 60_000,
        energyMilliWh: 11_666,
        energySource: "modelled",
      },
    ];
    recs[0]!.energyMilliWh = 23_333;
    expect((await call(h.app, es.nodeKey, "POST", "/v1/agent/usage", { records: recs })).json).toEqual({
      accepted: 2,
      duplicates: 0,
      clipped: 0,
      conflicts: [],
    });
    expect((await call(h.app, es.nodeKey, "POST", "/v1/agent/usage", { records: [recs[1]] })).json).toEqual({
      accepted: 0,
      duplicates: 1,
      clipped: 0,
      conflicts: [],
    });
    await call(h.app, es.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [
        { leaseId: a.leaseId, phase: "succeeded", exitCode: 0, startedAt: t0, endedAt: t0 + 90_000 },
      ],
    });
    const done = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`);
    expect(done.json.state).toBe("succeeded");
    expect(done.json.usage.gpuSeconds).toBe(180);
    // 180 GPU-s at 240 cents/GPU-h = 12 cents exactly.
    expect(done.json.usage.costMinor).toBe(12);
    expect(done.json.usage.energyWh).toBeCloseTo(34.999, 3);
    expect(done.json.placements).toEqual([
      {
        siteId: w.sites.es,
        siteName: "Asturias",
        country: "ES",
        nodeId: es.nodeId,
        from: t0,
        to: t0 + 90_000,
      },
    ]);
  });
});
