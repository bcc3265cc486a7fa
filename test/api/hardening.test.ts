// Rate limits, strings the stores cannot keep, and security headers (in-process, real stores).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extraRoutePlugins } from "../../src/api/plugins.js";
import { CONSOLE_CSP } from "../../src/api/guards.js";
import { DEFAULT_API_SETTINGS } from "../../src/api/settings.js";
import { buildWorld, enrolNode, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const SCENARIO = {
  name: "rate",
  site: { powerMw: 10, pue: 1.1, electricityUsdPerMwh: 45 },
  mining: { asic: "S21", btcPriceUsd: 95_000, networkHashrateEhs: 850, feesBtcPerBlock: 0.05 },
  monteCarlo: { runs: 20, seed: 7 },
};

describe("rate limits (token buckets on the injected clock)", () => {
  let h: Harness;
  let w: World;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!, extraRoutePlugins(), {
      ...DEFAULT_API_SETTINGS,
      rate: {
        enabled: true,
        key: { perMinute: 60, burst: 5 },
        address: { perMinute: 6000, burst: 1000 },
        anonymous: { perMinute: 60, burst: 3 },
        expensive: { perMinute: 6, burst: 2 },
      },
    });
    w = await buildWorld(h.app, h.adminKey);
  });
  afterAll(async () => h?.close());

  it("a key gets its burst, then 429 with Retry-After, then tokens back as time passes", async () => {
    // Before: 22,173 requests in 5 s on one key drew no 429.
    h.clock.advance(60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(h.app, w.tenantKey, "GET", "/v1/me")).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const r = await call(h.app, w.tenantKey, "GET", "/v1/me");
    expect(r.status).toBe(429);
    expect(r.headers["retry-after"]).toBe("1");
    expect(r.json.detail).toMatch(/too many requests with this key; retry after 1 s/);
    // Another key is not affected.
    expect((await call(h.app, w.otherTenantKey, "GET", "/v1/me")).status).toBe(200);
    h.clock.advance(1000);
    expect((await call(h.app, w.tenantKey, "GET", "/v1/me")).status).toBe(200);
  });

  it("bad keys count against the source address; good keys from it still work", async () => {
    h.clock.advance(60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(h.app, "zk_wrong_guess", "GET", "/v1/me")).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect((await call(h.app, null, "GET", "/v1/jobs")).status).toBe(429);
    expect((await call(h.app, w.operatorKey, "GET", "/v1/me")).status).toBe(200);
  });

  it("expensive routes (the planner) have a smaller bucket", async () => {
    h.clock.advance(60_000);
    const s: number[] = [];
    for (let i = 0; i < 3; i++)
      s.push((await call(h.app, w.operatorKey, "POST", "/v1/plans", SCENARIO)).status);
    expect(s).toEqual([200, 200, 429]);
    expect((await call(h.app, w.operatorKey, "GET", "/v1/me")).status).toBe(200);
  });
});

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(
    `NUL bytes and lone surrogates get 400 and write nothing (${factory.name})`,
    () => {
      let h: Harness;
      let w: World;
      beforeAll(async () => {
        h = await startHarness(factory, extraRoutePlugins());
        w = await buildWorld(h.app, h.adminKey);
      });
      afterAll(async () => h?.close());

      it.each([
        ["NUL", '"Acme\\u0000AI"'],
        ["lone high surrogate", '"Acme\\ud800"'],
        ["lone low surrogate", '"\\udc00Acme"'],
      ])("POST /v1/tenants with a %s in the name", async (_what, json) => {
        // Before: PostgreSQL answered 500 (invalid byte sequence for encoding "UTF8": 0x00).
        const before = (await call(h.app, h.adminKey, "GET", "/v1/tenants")).json.length;
        const r = await call(h.app, h.adminKey, "POST", "/v1/tenants", `{"name": ${json}, "country": "ES"}`);
        expect(r.status).toBe(400);
        expect(r.json.errors[0].path).toBe("body.name");
        expect((await call(h.app, h.adminKey, "GET", "/v1/tenants")).json.length).toBe(before);
      });

      it("in env keys, job names, query strings and path ids too", async () => {
        const sub = (extra: object): Promise<{ status: number }> =>
          call(h.app, w.tenantKey, "POST", "/v1/jobs", {
            gpus: 1,
            gpuModels: ["H100"],
            command: ["true"],
            ...extra,
          });
        expect((await sub({ name: "a\u0000" })).status).toBe(400);
        expect((await sub({ env: { "A\u0000": "x" } })).status).toBe(400);
        expect((await sub({ command: ["echo", "\ud83d"] })).status).toBe(400);
        expect((await call(h.app, w.tenantKey, "GET", "/v1/jobs")).json).toEqual([]);
        expect((await call(h.app, w.tenantKey, "GET", "/v1/jobs/job%00x")).status).toBe(400);
        expect((await call(h.app, w.tenantKey, "GET", "/v1/balance?tenantId=%00")).status).toBe(400);
        // A well-formed emoji (a surrogate pair) is fine.
        expect((await sub({ name: "run 🚀" })).status).toBe(201);
      });
    },
  );
}

describe("security headers", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!, extraRoutePlugins());
  });
  afterAll(async () => h?.close());

  it("API answers: nosniff, no framing, no content policy; the console: a CSP its own assets satisfy", async () => {
    const api = await h.app.inject({ method: "GET", url: "/v1/gpu-models" });
    expect(api.headers["x-content-type-options"]).toBe("nosniff");
    expect(api.headers["content-security-policy"]).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(api.headers["x-frame-options"]).toBe("DENY");
    expect(api.headers["strict-transport-security"]).toBeUndefined();
    const page = await h.app.inject({ method: "GET", url: "/" });
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toMatch(/frame-ancestors 'none'/);
    expect(CONSOLE_CSP).toMatch(/script-src 'self'(;|$)/);
    const err = await h.app.inject({ method: "GET", url: "/v1/me" });
    expect(err.statusCode).toBe(401);
    expect(err.headers["x-content-type-options"]).toBe("nosniff");
  });
});

describe("operators never see tenants' env values", () => {
  let h: Harness;
  afterAll(async () => h?.close());

  it("GET /v1/jobs/:id as the operator whose node runs the job shows env names only", async () => {
    // Before: operator B read {'env': {'HF_TOKEN': 'hf_tenant_secret_123'}} here.
    h = await startHarness(STORES[0]!, extraRoutePlugins());
    const w = await buildWorld(h.app, h.adminKey);
    const n = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 1,
      gpuModels: ["H100"],
      countries: ["ES"],
      command: ["python", "train.py"],
      env: { HF_TOKEN: "hf_tenant_secret_123", EPOCHS: "3" },
    });
    await h.loop.tick();
    const hb = await call(h.app, n.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    expect(hb.json.assignments[0].spec.env.HF_TOKEN).toBe("hf_tenant_secret_123"); // the node needs it
    const asOperator = await call(h.app, w.operatorKey, "GET", `/v1/jobs/${sub.json.id}`);
    expect(asOperator.status).toBe(200);
    expect(JSON.stringify(asOperator.json)).not.toContain("hf_tenant_secret_123");
    expect(asOperator.json.spec.envNames).toEqual(["EPOCHS", "HF_TOKEN"]);
    const asTenant = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`);
    expect(asTenant.json.spec.env.EPOCHS).toBe("3");
  });
});
