// Admission and spend limits: no job starts that its tenant cannot pay for its first hour, and a
// tenant whose money runs out has its jobs stopped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { billingRoutes } from "../../src/api/routes/billing.js";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

describe("spend limits and admission", () => {
  let h: Harness;
  let w: World;
  let node: { nodeKey: string; nodeId: string };
  const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);

  beforeAll(async () => {
    h = await startHarness(STORES[0]!, [billingRoutes]);
    w = await buildWorld(h.app, h.adminKey);
    node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
  });
  afterAll(async () => h.close());

  it("keeps a job pending when its tenant cannot pay for the first hour", async () => {
    const poor = await call(h.app, h.adminKey, "POST", "/v1/tenants", {
      name: "Poor Lab",
      country: "ES",
      creditLimitMinor: 100,
    });
    const sub = await call(h.app, poor.json.key, "POST", "/v1/jobs", {
      gpus: 8,
      gpuModels: ["H100"],
      countries: ["ES"],
      command: ["train"],
    });
    await hb();
    await h.loop.tick();
    const j = await call(h.app, poor.json.key, "GET", `/v1/jobs/${sub.json.id}`);
    expect(j.json.state).toBe("pending");
    expect(j.json.reasons[0]).toMatch(/insufficient funds.*top up/);
    // A top-up lets it start.
    const top = await call(h.app, h.adminKey, "POST", `/v1/tenants/${poor.json.tenant.id}/topups`, {
      amountMinor: 5000,
    });
    expect(top.status).toBeLessThan(300);
    h.clock.advance(11_000);
    await hb();
    await h.loop.tick();
    expect((await call(h.app, poor.json.key, "GET", `/v1/jobs/${sub.json.id}`)).json.state).toBe("scheduled");
  });

  it("stops a tenant's running job once its money is spent", async () => {
    // 24.00 EUR of credit; 8 H100 at 2.40 + 21% Spanish VAT = 23.23 EUR for the first hour: admitted.
    const t = await call(h.app, h.adminKey, "POST", "/v1/tenants", {
      name: "Tight Lab",
      country: "ES",
      creditLimitMinor: 2400,
    });
    const key = t.json.key as string;
    // Free the node first: the previous test's job holds all 8 GPUs.
    for (const j of (await call(h.app, h.adminKey, "GET", "/v1/jobs")).json)
      if (j.state !== "cancelled") await call(h.app, h.adminKey, "POST", `/v1/jobs/${j.id}/cancel`);
    for (const s of (await hb()).stops)
      await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: s.leaseId, phase: "cancelled", endedAt: h.clock.now() }],
      });
    const sub = await call(h.app, key, "POST", "/v1/jobs", {
      gpus: 8,
      gpuModels: ["H100"],
      countries: ["ES"],
      command: ["train"],
    });
    h.clock.advance(11_000);
    await hb();
    await h.loop.tick();
    const a = (await hb()).assignments.find((x) => x.jobId === sub.json.id);
    expect(a).toBeDefined();
    const t0 = h.clock.now();
    await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [{ leaseId: a!.leaseId, phase: "running", startedAt: t0 }],
    });
    // 65 minutes on 8 GPUs: 25.17 EUR with VAT, more than the credit line.
    h.clock.set(t0 + 65 * 60_000);
    await call(h.app, node.nodeKey, "POST", "/v1/agent/usage", {
      records: [
        {
          nodeId: node.nodeId,
          seq: 1,
          leaseId: a!.leaseId,
          fromMs: t0,
          toMs: t0 + 65 * 60_000,
          gpuMs: 8 * 65 * 60_000,
          energyMilliWh: 1000,
          energySource: "modelled",
        },
      ],
    });
    await hb();
    await h.loop.tick();
    const stop = (await hb()).stops.find((s) => s.leaseId === a!.leaseId);
    expect(stop?.reason).toMatch(/^spend limit/);
    const bal = await call(h.app, key, "GET", "/v1/balance");
    expect(bal.json.availableMinor).toBeLessThan(0);
    expect(bal.json.decision).toBe("stop");
  });
});
