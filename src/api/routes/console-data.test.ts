import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, simGpus, type World } from "../../../test/helpers/fixtures.js";
import { call, startHarness, type Harness } from "../../../test/helpers/harness.js";
import { STORES } from "../../../test/helpers/stores.js";
import { stepFor, utilisationSeries, type BusyInterval } from "../../control/index.js";
import { consoleDataRoutes } from "./console-data.js";

const SITE = { pue: 1.2, nodeOverheadW: 500 };

describe("utilisationSeries", () => {
  it("measures peak, mean and power per bucket", () => {
    // Node n1: 4 GPUs of 700 W from 0 to 30 s, and 2 more from 15 s to 60 s; buckets of 60 s.
    const ivs: BusyInterval[] = [
      { nodeId: "n1", gpus: 4, from: 0, to: 30_000 },
      { nodeId: "n1", gpus: 2, from: 15_000, to: 60_000 },
    ];
    const pts = utilisationSeries(ivs, new Map([["n1", 700]]), SITE, 0, 120_000, 60_000);
    expect(pts.map((p) => p.at)).toEqual([0, 60_000]);
    expect(pts[0]!.busyPeak).toBe(6);
    // (4 × 30 + 2 × 45) / 60 = 3.5 GPUs on average.
    expect(pts[0]!.busyAvg).toBe(3.5);
    // (3.5 GPUs × 700 W + 500 W overhead for the whole minute) × 1.2 = 3.54 kW.
    expect(pts[0]!.powerKw).toBe(3.54);
    expect(pts[1]).toEqual({ at: 60_000, busyPeak: 0, busyAvg: 0, powerKw: 0 });
  });

  it("counts back-to-back leases as never overlapping (half-open intervals)", () => {
    const ivs: BusyInterval[] = [
      { nodeId: "n1", gpus: 8, from: 0, to: 10_000 },
      { nodeId: "n1", gpus: 8, from: 10_000, to: 20_000 },
    ];
    expect(utilisationSeries(ivs, new Map(), SITE, 0, 60_000, 60_000)[0]!.busyPeak).toBe(8);
  });

  it("never reports a mean above the peak, and the means add up to the busy GPU-time", () => {
    const iv = fc.record({
      nodeId: fc.constantFrom("a", "b", "c"),
      gpus: fc.integer({ min: 1, max: 8 }),
      from: fc.integer({ min: 0, max: 600_000 }),
      len: fc.integer({ min: 1, max: 600_000 }),
    });
    fc.assert(
      fc.property(fc.array(iv, { maxLength: 30 }), fc.integer({ min: 1, max: 20 }), (raw, steps) => {
        const ivs = raw.map((r) => ({ nodeId: r.nodeId, gpus: r.gpus, from: r.from, to: r.from + r.len }));
        const step = 60_000;
        const end = steps * step;
        const pts = utilisationSeries(ivs, new Map([["a", 700]]), SITE, 0, end, step);
        expect(pts).toHaveLength(steps);
        for (const p of pts) expect(p.busyAvg).toBeLessThanOrEqual(p.busyPeak + 1e-9);
        const busyMs = ivs.reduce(
          (a, i) => a + i.gpus * Math.max(0, Math.min(i.to, end) - Math.max(i.from, 0)),
          0,
        );
        const sumMs = pts.reduce((a, p) => a + p.busyAvg * step, 0);
        expect(Math.abs(sumMs - busyMs)).toBeLessThan(steps * step * 0.001 + 1);
      }),
    );
  });

  it("picks about 120 buckets per window: 10-second steps for short windows, whole minutes for long", () => {
    expect(stepFor(15 * 60_000)).toBe(10_000);
    expect(stepFor(3_600_000)).toBe(30_000);
    expect(stepFor(24 * 3_600_000)).toBe(12 * 60_000);
  });
});

describe("console data routes (in-process, SQLite)", () => {
  let h: Harness;
  let w: World;
  let jobId: string;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!, [consoleDataRoutes]);
    w = await buildWorld(h.app, h.adminKey);
    const es = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 2,
      gpuModels: ["H100"],
      jurisdiction: "EU",
      command: ["python", "train.py"],
    });
    jobId = sub.json.id;
    await h.loop.tick();
    const hb = await call(h.app, es.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    const leaseId = hb.json.assignments[0].leaseId as string;
    const t0 = h.clock.now();
    await call(h.app, es.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [{ leaseId, phase: "running", startedAt: t0 }],
    });
    // 30 minutes on 2 GPUs at 240 cents per GPU-hour = 240 cents.
    h.clock.advance(1_800_000);
    await call(h.app, es.nodeKey, "POST", "/v1/agent/usage", {
      records: [
        {
          nodeId: es.nodeId,
          seq: 1,
          leaseId,
          fromMs: t0,
          toMs: t0 + 1_800_000,
          gpuMs: 3_600_000,
          energyMilliWh: 700_000,
          energySource: "modelled",
        },
      ],
    });
  });
  afterAll(async () => h.close());

  it("summarises the operator's own sites: busy GPUs, power draw against contract, revenue this month", async () => {
    const r = await call(h.app, w.operatorKey, "GET", "/v1/operator/summary");
    expect(r.status).toBe(200);
    expect(r.json.month).toBe("2026-11");
    type SiteSummary = {
      id: string;
      gpusTotal: number;
      gpusBusy: number;
      powerDrawKw: number;
      contractedKw: number;
      revenue: unknown;
      nodes: { gpus: { busy: boolean; jobId: string | null }[] }[];
    };
    const es = (r.json.sites as SiteSummary[]).find((x) => x.id === w.sites.es)!;
    expect(es.gpusTotal).toBe(8);
    expect(es.gpusBusy).toBe(2);
    const busy = es.nodes[0]!.gpus.filter((g) => g.busy);
    expect(busy).toHaveLength(2);
    expect(busy[0]!.jobId).toBe(jobId);
    // (2 × 700 W + 500 W) × PUE 1.2 = 2.28 kW against 500 kW contracted.
    expect(es.powerDrawKw).toBe(2.28);
    expect(es.contractedKw).toBe(500);
    // 3600 GPU-seconds at 240 = 240 cents; the default fee is 1000 bps (10%).
    expect(es.revenue).toEqual({ grossMinor: 240, feeMinor: 24, netMinor: 216, gpuSeconds: 3600 });
    expect(r.json.totals.gpusBusy).toBe(2);
    expect(r.json.sites).toHaveLength(3);
  });

  it("shows another operator none of these sites, and refuses tenants", async () => {
    const other = await call(h.app, w.otherOperatorKey, "GET", "/v1/operator/summary");
    expect(other.status).toBe(200);
    expect(other.json.sites).toEqual([]);
    const tenant = await call(h.app, w.tenantKey, "GET", "/v1/operator/summary");
    expect(tenant.status).toBe(403);
    expect(tenant.headers["content-type"]).toMatch(/problem\+json/);
  });

  it("draws a site's utilisation from its leases", async () => {
    const r = await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}/utilisation?hours=1`);
    expect(r.status).toBe(200);
    expect(r.json.stepMs).toBe(30_000);
    expect(r.json.totalGpus).toBe(8);
    const pts = r.json.points as { at: number; busyPeak: number; busyAvg: number }[];
    expect(pts.length).toBeGreaterThanOrEqual(120);
    expect(Math.max(...pts.map((p) => p.busyPeak))).toBe(2);
    // The last 30 minutes are busy, the first 30 idle.
    expect(pts.filter((p) => p.busyAvg === 2).length).toBeGreaterThanOrEqual(59);
    expect(pts[0]!.busyPeak).toBe(0);
  });

  it("hides other operators' sites and checks hours", async () => {
    expect((await call(h.app, w.otherOperatorKey, "GET", `/v1/sites/${w.sites.es}/utilisation`)).status).toBe(
      404,
    );
    expect((await call(h.app, w.tenantKey, "GET", `/v1/sites/${w.sites.es}/utilisation`)).status).toBe(403);
    const bad = await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}/utilisation?hours=0`);
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].path).toBe("querystring.hours");
    const short = await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}/utilisation?minutes=15`);
    expect(short.json.stepMs).toBe(10_000);
    expect(short.json.points.length).toBeGreaterThanOrEqual(90);
    expect(
      (await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}/utilisation?minutes=2`)).status,
    ).toBe(400);
  });
});
