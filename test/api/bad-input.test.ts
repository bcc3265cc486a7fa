// Bad input: a 4xx problem+json that says what to fix, and nothing written.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

describe("bad input is refused clearly and writes nothing", () => {
  let h: Harness;
  let w: World;
  let nodeKey = "";
  const counts = async () => ({
    jobs: (await h.store.jobs.listJobs({ limit: 10_000 })).length,
    sites: (await h.store.fleet.listSites()).length,
    usage: (await h.store.usage.totals()).records,
    nodes: (await h.store.fleet.listNodes()).length,
  });

  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
    nodeKey = (await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1")).nodeKey;
  });
  afterAll(async () => h.close());

  const job = { gpus: 2, gpuModels: ["H100"], command: ["python", "train.py"] };
  const cases: [
    string,
    () => Promise<{ status: number; json: any; headers: Record<string, unknown> }>,
    number,
    RegExp,
  ][] = [
    [
      "malformed JSON",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", '{"gpus": 2,'),
      400,
      /not valid JSON/,
    ],
    ["wrong type", () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, gpus: "two" }), 400, /gpus/],
    ["zero GPUs", () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, gpus: 0 }), 400, /at least 1/],
    [
      "negative GPUs",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, gpus: -4 }),
      400,
      /at least 1/,
    ],
    [
      "fractional GPUs",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, gpus: 1.5 }),
      400,
      /whole number/,
    ],
    [
      "unknown GPU model",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, gpuModels: ["H900"] }),
      400,
      /unknown GPU model "H900"/,
    ],
    [
      "unknown country in a job",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, countries: ["XX"] }),
      400,
      /unknown country code "XX"/,
    ],
    ["unknown field", () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, gpu: 2 }), 400, /gpu/],
    [
      "empty command",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, command: [] }),
      400,
      /command/,
    ],
    [
      "price in floats",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, maxPriceMinorPerGpuHour: 2.5 }),
      400,
      /cents/,
    ],
    [
      "oversized body",
      () => call(h.app, w.tenantKey, "POST", "/v1/jobs", { ...job, name: "x".repeat(2_000_000) }),
      413,
      /larger than/,
    ],
    [
      "unknown country for a site",
      () =>
        call(h.app, w.operatorKey, "POST", "/v1/sites", {
          name: "s",
          country: "XX",
          lat: 1,
          lon: 1,
          powerKw: 10,
          pue: 1.2,
          cooling: "air",
        }),
      400,
      /unknown country code/,
    ],
    [
      "PUE below 1",
      () =>
        call(h.app, w.operatorKey, "POST", "/v1/sites", {
          name: "s",
          country: "ES",
          lat: 1,
          lon: 1,
          powerKw: 10,
          pue: 0.9,
          cooling: "air",
        }),
      400,
      /PUE/,
    ],
    [
      "latitude out of range",
      () =>
        call(h.app, w.operatorKey, "POST", "/v1/sites", {
          name: "s",
          country: "ES",
          lat: 123,
          lon: 1,
          powerKw: 10,
          pue: 1.2,
          cooling: "air",
        }),
      400,
      /lat/,
    ],
    [
      "wrong enrolment token",
      () =>
        call(h.app, null, "POST", "/v1/agent/enrol", {
          token: "zet_wrong_token",
          name: "n",
          gpus: [],
          executor: "local",
        }),
      401,
      /unknown enrolment token/,
    ],
    [
      "usage with a negative count",
      () =>
        call(h.app, nodeKey, "POST", "/v1/agent/usage", {
          records: [
            {
              nodeId: "x",
              seq: 1,
              leaseId: "l",
              fromMs: 1,
              toMs: 2,
              gpuMs: -5,
              energyMilliWh: 0,
              energySource: "modelled",
            },
          ],
        }),
      400,
      /gpuMs/,
    ],
    ["no such route", () => call(h.app, w.tenantKey, "GET", "/v1/nope"), 404, /no route GET \/v1\/nope/],
    [
      "statement month malformed",
      () => call(h.app, w.tenantKey, "GET", "/v1/statements/2026-13"),
      400,
      /YYYY-MM/,
    ],
  ];

  for (const [name, run, status, detail] of cases) {
    it(`${name} -> ${status}`, async () => {
      const before = await counts();
      const r = await run();
      expect(r.status).toBe(status);
      expect(r.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect(r.json).toMatchObject({
        status,
        title: expect.any(String),
        type: expect.stringContaining("zumbido.dev/problems/"),
      });
      expect(`${r.json.detail} ${JSON.stringify(r.json.errors ?? [])}`).toMatch(detail);
      expect(await counts()).toEqual(before);
    });
  }

  it("an expired enrolment token is refused and creates no node", async () => {
    const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.fi}/enrolment-tokens`);
    h.clock.advance(25 * 3_600_000);
    const before = await counts();
    const r = await call(h.app, null, "POST", "/v1/agent/enrol", {
      token: tok.json.token,
      name: "late",
      gpus: [],
      executor: "local",
    });
    expect(r.status).toBe(401);
    expect(r.json.detail).toMatch(/expired/);
    expect(await counts()).toEqual(before);
  });

  it("a job that cannot fit waits with reasons in words", async () => {
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      ...job,
      gpus: 4,
      jurisdiction: "EU",
      maxPriceMinorPerGpuHour: 100,
    });
    expect(sub.status).toBe(201);
    await h.loop.tick();
    const j = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`);
    expect(j.json.state).toBe("pending");
    expect(j.json.reasons.join(" ")).toMatch(/price|EU/);
  });
});
