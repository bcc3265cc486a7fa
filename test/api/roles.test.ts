// Every route against every role: what each key may do, and that refusals write nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

type Who = "none" | "admin" | "operator" | "otherOperator" | "tenant" | "otherTenant" | "node" | "otherNode";
const ALL: Who[] = [
  "none",
  "admin",
  "operator",
  "otherOperator",
  "tenant",
  "otherTenant",
  "node",
  "otherNode",
];

describe("authorisation matrix (every route, every role)", () => {
  let h: Harness;
  let w: World;
  const keys = {} as Record<Who, string | null>;
  let jobId = "";
  let leaseId = "";
  let nodeId = "";
  let otherNodeId = "";

  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
    const n = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    const other = await call(h.app, w.otherOperatorKey, "POST", "/v1/sites", {
      name: "Other",
      country: "FR",
      lat: 45,
      lon: 2,
      powerKw: 100,
      pue: 1.3,
      cooling: "air",
    });
    const n2 = await enrolNode(h.app, w.otherOperatorKey, other.json.id, "fr-1");
    nodeId = n.nodeId;
    otherNodeId = n2.nodeId;
    Object.assign(keys, {
      none: null,
      admin: h.adminKey,
      operator: w.operatorKey,
      otherOperator: w.otherOperatorKey,
      tenant: w.tenantKey,
      otherTenant: w.otherTenantKey,
      node: n.nodeKey,
      otherNode: n2.nodeKey,
    });
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 1,
      gpuModels: ["H100"],
      countries: ["ES"],
      command: ["sleep", "1"],
    });
    jobId = sub.json.id;
    await h.loop.tick();
    const hb = await call(h.app, n.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    leaseId = hb.json.assignments[0].leaseId;
  });
  afterAll(async () => h.close());

  const hb = () => ({ gpus: simGpus("H100", 8), health: { healthy: true, reasons: [] }, workloads: [] });
  const usage = (nid: () => string, seq: number) => () => ({
    records: [
      {
        nodeId: nid(),
        seq,
        leaseId,
        fromMs: 1,
        toMs: 2,
        gpuMs: 1,
        energyMilliWh: 0,
        energySource: "modelled",
      },
    ],
  });

  // [name, method, path, body, roles that succeed, roles that are allowed but must name the account (400)]
  const routes: [
    string,
    "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    () => string,
    (() => unknown) | undefined,
    Who[],
    Who[]?,
  ][] = [
    [
      "me",
      "GET",
      () => "/v1/me",
      undefined,
      ["admin", "operator", "otherOperator", "tenant", "otherTenant", "node", "otherNode"],
    ],
    ["list operators", "GET", () => "/v1/operators", undefined, ["admin"]],
    ["create operator", "POST", () => "/v1/operators", () => ({ name: "x" }), ["admin"]],
    ["list tenants", "GET", () => "/v1/tenants", undefined, ["admin"]],
    ["create tenant", "POST", () => "/v1/tenants", () => ({ name: "x", country: "ES" }), ["admin"]],
    ["set fee", "PUT", () => "/v1/settings/fee", () => ({ feeBps: 1000 }), ["admin"]],
    [
      "create site",
      "POST",
      () => "/v1/sites",
      () => ({ name: "s", country: "ES", lat: 1, lon: 1, powerKw: 10, pue: 1.2, cooling: "air" }),
      ["operator", "otherOperator"],
      ["admin"],
    ],
    [
      "read site",
      "GET",
      () => `/v1/sites/${w.sites.es}`,
      undefined,
      ["admin", "operator", "tenant", "otherTenant", "node", "otherNode"],
    ],
    ["patch site", "PATCH", () => `/v1/sites/${w.sites.es}`, () => ({ pue: 1.25 }), ["admin", "operator"]],
    [
      "set price",
      "PUT",
      () => `/v1/sites/${w.sites.es}/prices/H100`,
      () => ({ onDemandMinorPerGpuHour: 240, interruptibleMinorPerGpuHour: 120 }),
      ["admin", "operator"],
    ],
    [
      "enrolment token",
      "POST",
      () => `/v1/sites/${w.sites.es}/enrolment-tokens`,
      () => ({}),
      ["admin", "operator"],
    ],
    ["list nodes", "GET", () => "/v1/nodes", undefined, ["admin", "operator", "otherOperator"]],
    ["read node", "GET", () => `/v1/nodes/${nodeId}`, undefined, ["admin", "operator", "node"]],
    [
      "drain node",
      "POST",
      () => `/v1/nodes/${nodeId}/drain`,
      () => ({ drain: false }),
      ["admin", "operator"],
    ],
    [
      "submit job",
      "POST",
      () => "/v1/jobs",
      () => ({
        gpus: 1,
        gpuModels: ["H100"],
        jurisdiction: "EU",
        maxPriceMinorPerGpuHour: 1,
        command: ["true"],
      }),
      ["tenant", "otherTenant"],
    ],
    ["list jobs", "GET", () => "/v1/jobs", undefined, ["admin", "tenant", "otherTenant"]],
    ["read job", "GET", () => `/v1/jobs/${jobId}`, undefined, ["admin", "tenant", "operator"]],
    ["job events", "GET", () => `/v1/jobs/${jobId}/events`, undefined, ["admin", "tenant", "operator"]],
    ["job logs", "GET", () => `/v1/jobs/${jobId}/logs`, undefined, ["admin", "tenant", "operator"]],
    ["statement", "GET", () => "/v1/statements/2026-11", undefined, ["tenant", "otherTenant"], ["admin"]],
    ["balance", "GET", () => "/v1/balance", undefined, ["tenant", "otherTenant"], ["admin"]],
    ["heartbeat", "POST", () => "/v1/agent/heartbeat", hb, ["node", "otherNode"]],
    ["usage for own lease", "POST", () => "/v1/agent/usage", usage(() => nodeId, 1), ["node"]],
    ["usage claiming another node", "POST", () => "/v1/agent/usage", usage(() => otherNodeId, 2), []],
    [
      "logs for own lease",
      "POST",
      () => "/v1/agent/logs",
      () => ({ chunks: [{ leaseId, stream: "stdout", text: "x" }] }),
      ["node"],
    ],
  ];

  for (const [name, method, path, body, allowed, mustName = []] of routes) {
    it(`${name}: ${method} allowed for [${allowed.join(", ") || "nobody"}]`, async () => {
      const results: Record<string, number> = {};
      for (const who of ALL) {
        const r = await call(h.app, keys[who], method, path(), body?.());
        results[who] = r.status;
        if (r.status >= 400) {
          expect(r.headers["content-type"]).toMatch(/application\/problem\+json/);
          expect(typeof r.json.detail).toBe("string");
        }
      }
      for (const who of mustName) expect({ who, status: results[who] }).toEqual({ who, status: 400 });
      for (const who of ALL.filter((x) => !mustName.includes(x))) {
        const ok = results[who]! < 400;
        expect({ who, ok, status: results[who] }).toEqual({
          who,
          ok: allowed.includes(who),
          status: results[who],
        });
        if (!ok) expect([401, 403, 404]).toContain(results[who]);
      }
      if (!allowed.includes("none")) expect(results.none).toBe(401);
    });
  }

  it("a tenant cannot cancel another tenant's job, and the job is untouched", async () => {
    const r = await call(h.app, w.otherTenantKey, "POST", `/v1/jobs/${jobId}/cancel`);
    expect(r.status).toBe(404);
    expect((await h.store.jobs.getJob(jobId))?.state).not.toBe("cancelled");
  });

  it("an operator cannot change another operator's site or prices; nothing is written", async () => {
    const before = await h.store.fleet.listPrices(w.sites.es);
    const r = await call(h.app, w.otherOperatorKey, "PUT", `/v1/sites/${w.sites.es}/prices/H100`, {
      onDemandMinorPerGpuHour: 1,
      interruptibleMinorPerGpuHour: 1,
    });
    expect(r.status).toBe(403);
    expect(r.json.detail).toMatch(/another operator/);
    expect(await h.store.fleet.listPrices(w.sites.es)).toEqual(before);
    const p = await call(h.app, w.otherOperatorKey, "PATCH", `/v1/sites/${w.sites.es}`, { pue: 2 });
    expect(p.status).toBe(403);
    expect((await h.store.fleet.getSite(w.sites.es))?.pue).not.toBe(2);
  });

  it("a node cannot report usage for a lease it does not hold; the whole batch is refused", async () => {
    const before = await h.store.usage.totals();
    const r = await call(h.app, keys.otherNode, "POST", "/v1/agent/usage", {
      records: [
        {
          nodeId: otherNodeId,
          seq: 10,
          leaseId,
          fromMs: 1,
          toMs: 2,
          gpuMs: 5,
          energyMilliWh: 0,
          energySource: "modelled",
        },
      ],
    });
    expect(r.status).toBe(403);
    expect(r.json.detail).toMatch(/does not hold/);
    expect(await h.store.usage.totals()).toEqual(before);
  });

  it("a revoked or expired key is refused with how to fix it", async () => {
    const k = await call(h.app, h.adminKey, "POST", "/v1/keys", {
      role: "tenant",
      ownerId: w.tenantId,
      name: "short",
      expiresAt: h.clock.now() + 1000,
    });
    expect(k.status).toBe(201);
    expect((await call(h.app, k.json.key, "GET", "/v1/me")).status).toBe(200);
    h.clock.advance(2000);
    const exp = await call(h.app, k.json.key, "GET", "/v1/me");
    expect(exp.status).toBe(401);
    expect(exp.json.detail).toMatch(/expired/);
    const k2 = await call(h.app, h.adminKey, "POST", "/v1/keys", {
      role: "tenant",
      ownerId: w.tenantId,
      name: "revoke-me",
    });
    expect((await call(h.app, h.adminKey, "DELETE", `/v1/keys/${k2.json.record.id}`)).status).toBe(204);
    const rev = await call(h.app, k2.json.key, "GET", "/v1/me");
    expect(rev.status).toBe(401);
    expect(rev.json.detail).toMatch(/revoked/);
    const wrong = await call(h.app, "zk_tenant_nope", "GET", "/v1/me");
    expect(wrong.json.detail).toMatch(/unknown API key/);
  });
});
