// Energy and carbon per job, the EU indicators, curtailment and data locations, through the API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { billingRoutes } from "../../src/api/routes/billing.js";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const HOUR = 3_600_000;

describe("energy, carbon, curtailment and sovereignty", () => {
  let h: Harness;
  let w: World;
  let node: { nodeKey: string; nodeId: string };
  const t0 = Date.UTC(2026, 10, 2, 8, 0, 0);

  const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);
  let seq = 0;
  /** Submits, places, starts a job on the ES node; returns its ids. */
  const runJob = async (body: Record<string, unknown>) => {
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpuModels: ["H100"],
      countries: ["ES"],
      command: ["train"],
      ...body,
    });
    expect(sub.status).toBe(201);
    await hb();
    await h.loop.tick();
    const a = (await hb()).assignments.find((x) => x.jobId === sub.json.id)!;
    await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [{ leaseId: a.leaseId, phase: "running", startedAt: h.clock.now() }],
    });
    return { jobId: sub.json.id as string, leaseId: a.leaseId };
  };

  beforeAll(async () => {
    h = await startHarness(STORES[0]!, [billingRoutes]);
    h.clock.set(t0);
    w = await buildWorld(h.app, h.adminKey);
    node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
  });
  afterAll(async () => h.close());

  it("imports an hourly carbon series as CSV and reports it", async () => {
    const rows = [
      "timestamp,value",
      ...Array.from(
        { length: 24 },
        (_, i) => `2026-11-02T${String(i).padStart(2, "0")}:00:00Z,${i === 8 ? 200 : 100}`,
      ),
    ];
    const res = await h.app.inject({
      method: "PUT",
      url: `/v1/sites/${w.sites.es}/energy/carbon`,
      headers: { authorization: `Bearer ${w.operatorKey}`, "content-type": "text/csv" },
      payload: rows.join("\n"),
    });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ hours: 24, kind: "carbon" });
    const bad = await h.app.inject({
      method: "PUT",
      url: `/v1/sites/${w.sites.es}/energy/carbon`,
      headers: { authorization: `Bearer ${w.operatorKey}`, "content-type": "text/csv" },
      payload: "timestamp,value\nyesterday,abc",
    });
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).detail).toMatch(/could not be read/);
    // The marketplace shows the series' value for this hour (08:00 -> 200 g/kWh) and the jurisdictions.
    const cap = await call(h.app, w.tenantKey, "GET", "/v1/capacity");
    expect(cap.json.find((r: { siteId: string }) => r.siteId === w.sites.es)).toMatchObject({
      carbonGPerKwh: 200,
      jurisdictions: ["EU", "EEA"],
    });
    expect(cap.json.find((r: { siteId: string }) => r.siteId === w.sites.py).jurisdictions).toEqual([]);
    const other = await h.app.inject({
      method: "PUT",
      url: `/v1/sites/${w.sites.es}/energy/carbon`,
      headers: { authorization: `Bearer ${w.otherOperatorKey}`, "content-type": "text/csv" },
      payload: rows.join("\n"),
    });
    expect(other.statusCode).toBe(403);
  });

  it("gives a job its facility energy and location- and market-based CO2e (hand-computed)", async () => {
    const { jobId, leaseId } = await runJob({ gpus: 2 });
    // One hour on 2 of the node's 8 GPUs, 1 kWh of GPU energy.
    h.clock.set(t0 + HOUR);
    await call(h.app, node.nodeKey, "POST", "/v1/agent/usage", {
      records: [
        {
          nodeId: node.nodeId,
          seq: ++seq,
          leaseId,
          fromMs: t0,
          toMs: t0 + HOUR,
          gpuMs: 2 * HOUR,
          energyMilliWh: 1_000_000,
          energySource: "measured",
        },
      ],
    });
    await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [{ leaseId, phase: "succeeded", exitCode: 0, endedAt: t0 + HOUR }],
    });
    const e = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${jobId}/energy`);
    expect(e.status).toBe(200);
    // IT = 1 kWh + 500 W x (2/8) x 1 h = 1.125 kWh; facility = x 1.2 PUE = 1.35 kWh; 200 g/kWh in that hour.
    expect(e.json.facilityKwh).toBeCloseTo(1.35, 6);
    expect(e.json.locationKgCo2e).toBeCloseTo(0.27, 6);
    expect(e.json.marketKgCo2e).toBeCloseTo(0.27, 6);
    // A PPA covering the whole month halves nothing unless it covers consumption: 0.675 of 1.35 kWh covered -> half.
    const ppa = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/contracts`, {
      kind: "ppa",
      periodStart: Date.UTC(2026, 10, 1),
      periodEnd: Date.UTC(2026, 11, 1),
      kwh: 0.675,
    });
    expect(ppa.status).toBe(201);
    const e2 = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${jobId}/energy`);
    expect(e2.json.locationKgCo2e).toBeCloseTo(0.27, 6);
    expect(e2.json.marketKgCo2e).toBeCloseTo(0.135, 6);
    expect((await call(h.app, w.otherTenantKey, "GET", `/v1/jobs/${jobId}/energy`)).status).toBe(404);
    const loc = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${jobId}/locations`);
    expect(loc.json.code).toEqual([expect.objectContaining({ siteId: w.sites.es, country: "ES" })]);
    expect(loc.json.logs[0].where).toMatch(/control plane/);
    // The invoice carries the job's energy and emissions too.
    const inv = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
    expect(inv.status).toBe(200);
    expect(inv.json.energy).toEqual([
      { jobId, siteId: w.sites.es, facilityKwh: 1.35, locationKgCo2e: 0.27, marketKgCo2e: 0.135 },
    ]);
    const html = await h.app.inject({
      method: "GET",
      url: "/v1/invoices/2026-11?format=html",
      headers: { authorization: `Bearer ${w.tenantKey}` },
    });
    expect(html.body).toContain("Energy and emissions");
    const sum = await call(h.app, w.tenantKey, "GET", "/v1/energy/summary?month=2026-11&by=tenant");
    expect(sum.status).toBe(200);
    expect(sum.json[0].facilityKwh).toBeCloseTo(1.35, 6);
  });

  it("computes the EU indicators from meter readings and refuses impossible ones", async () => {
    const ok = await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/meter-readings/2026-11`, {
      eDcKwh: 1300,
      eItKwh: 1000,
      eResTotKwh: 650,
      eReuseKwh: 130,
      wInM3: 1.8,
      installedItKw: 400,
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      pue: 1.3,
      ref: 0.5,
      erf: 0.1,
      wueLPerKwh: 1.8,
      reportingRequired: false,
    });
    expect(ok.json.notices.join(" ")).toMatch(/500 kW/);
    const bad = await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/meter-readings/2026-11`, {
      eDcKwh: 900,
      eItKwh: 1000,
      installedItKw: 400,
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/PUE|E_IT|eItKwh/);
    const csv = await h.app.inject({
      method: "GET",
      url: "/v1/indicators?month=2026-11&format=csv",
      headers: { authorization: `Bearer ${w.operatorKey}` },
    });
    expect(csv.headers["content-type"]).toMatch(/text\/csv/);
    expect(csv.body.split("\n")[1]).toContain(w.sites.es);
    // The refused reading did not replace the good one.
    const json = await call(h.app, w.operatorKey, "GET", "/v1/indicators?month=2026-11");
    expect(json.json.sites.find((s: { siteId: string }) => s.siteId === w.sites.es).PUE).toBe(1.3);
  });

  it("meets a curtailment cap by stopping interruptible work first, with notice, and reports it", async () => {
    h.clock.set(t0 + 2 * HOUR);
    const od = await runJob({ gpus: 4 });
    const spot = await runJob({ gpus: 4, class: "interruptible" });
    // Each 4-GPU lease draws (4 x 700 W + 0.5 x 500 W) x 1.2 = 3.66 kW; the site draws 7.32 kW.
    const start = h.clock.now() + 60_000;
    const c = await call(h.app, w.operatorKey, "POST", "/v1/curtailments", {
      siteId: w.sites.es,
      start,
      end: start + HOUR,
      maxKw: 4,
      noticeS: 120,
    });
    expect(c.status).toBe(201);
    const report = await h.loop.tick();
    expect(report.curtailmentNotices).toBe(1);
    const stops = (await hb()).stops;
    expect(stops.map((s) => s.leaseId)).toEqual([spot.leaseId]);
    expect(stops[0]!.reason).toMatch(/curtailment/);
    expect(stops[0]!.graceS).toBe(60);
    await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [{ leaseId: spot.leaseId, phase: "cancelled", endedAt: h.clock.now() + 5000 }],
    });
    h.clock.advance(10_000);
    await h.loop.tick();
    const ev = await call(h.app, w.operatorKey, "GET", `/v1/curtailments/${c.json.id}`);
    expect(ev.json.kwBefore).toBeCloseTo(7.32, 3);
    expect(ev.json.state).toBe("met");
    expect(ev.json.metAtMs).toBeLessThanOrEqual(start);
    expect(ev.json.stopped.map((x: { leaseId: string }) => x.leaseId)).toEqual([spot.leaseId]);
    // The preempted job is requeued, and waits: the cap leaves no room for it at this site.
    const sj = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${spot.jobId}`);
    expect(sj.json.state).toBe("preempted");
    expect((await call(h.app, w.tenantKey, "GET", `/v1/jobs/${od.jobId}`)).json.state).toBe("running");
    await h.loop.tick();
    expect((await call(h.app, w.tenantKey, "GET", `/v1/jobs/${spot.jobId}`)).json.state).toBe("preempted");
  });
});
