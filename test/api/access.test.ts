// Walks /openapi.json: no route answers without its declared role, however its path is spelled
// (percent-encoding, double slashes, dot segments, case, `;`). Real sockets, so paths go as-is.
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extraRoutePlugins } from "../../src/api/plugins.js";
import { buildApi } from "../../src/api/server.js";
import type { Role } from "../../src/domain/index.js";
import { buildWorld, enrolNode } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

interface Op {
  method: string;
  path: string;
  access: "public" | Role[];
}

const ROLES: Role[] = ["admin", "operator", "tenant", "node"];

/** Sends one request with the path exactly as given (no normalisation by a client library). */
function raw(base: string, method: string, path: string, key: string | null): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const body = ["POST", "PUT", "PATCH"].includes(method) ? "{}" : undefined;
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body ? { "content-type": "application/json", "content-length": body.length } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const hex = (c: string): string => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/** The ways one path can be spelled that a router or proxy might read as the same route. */
function spellings(path: string): string[] {
  const segs = path.split("/").slice(1); // ["v1", "sites", "x", ...]
  const last = segs.length - 1;
  const out = [
    path.replace(/^\/v1/, "/%76%31"),
    path.replace(/^\/v1/, "/%761"),
    path.replace(/^\/v1/, "/%56%31"),
    `/${segs.map((s) => s.split("").map(hex).join("")).join("/")}`,
    `/${segs.slice(0, last).join("/")}/${hex(segs[last]![0]!)}${segs[last]!.slice(1)}`,
    `/${path}`,
    path.replace(/^\/v1\//, "/v1//"),
    `${path}/`,
    `/.${path}`,
    path.replace(/^\/v1\//, "/v1/./"),
    path.replace(/^\/v1\//, "/v1/zz/../"),
    path.replace(/^\/v1\//, "/v1/%2e/"),
    path.replace(/^\/v1\//, "/zz/%2e%2e/v1/"),
    path.replace(/^\/v1\//, "/v1%2f"),
    path.toUpperCase(),
    path.replace(/^\/v1/, "/V1"),
    `${path};x=1`,
    path.replace(/^\/v1/, "/v1;"),
  ];
  return [...new Set(out)].filter((p) => p !== path);
}

describe("access is decided on the route the router matched", () => {
  let h: Harness;
  let base = "";
  const ops: Op[] = [];
  const keyOf = {} as Record<Role, string>;

  beforeAll(async () => {
    h = await startHarness(STORES[0]!, extraRoutePlugins());
    const w = await buildWorld(h.app, h.adminKey);
    const n = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    Object.assign(keyOf, {
      admin: h.adminKey,
      operator: w.operatorKey,
      tenant: w.tenantKey,
      node: n.nodeKey,
    });
    const doc = (await call(h.app, null, "GET", "/openapi.json")).json as {
      paths: Record<string, Record<string, { "x-zumbido-access"?: Op["access"] }>>;
    };
    for (const [p, methods] of Object.entries(doc.paths))
      for (const [m, o] of Object.entries(methods)) {
        if (m === "head") continue;
        const path = p.replace(/\{month\}/g, "2026-11").replace(/\{[^}]+\}/g, "x");
        ops.push({ method: m.toUpperCase(), path, access: o["x-zumbido-access"] as Op["access"] });
      }
    await h.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => h?.close());

  it("every operation in /openapi.json states who may call it", () => {
    expect(ops.length).toBeGreaterThan(50);
    const undeclared = ops.filter(
      (o) => o.access !== "public" && !(Array.isArray(o.access) && o.access.length > 0),
    );
    expect(undeclared.map((o) => `${o.method} ${o.path}`)).toEqual([]);
    expect(ops.find((o) => o.path === "/v1/plans")?.access).toEqual(["operator", "admin"]);
    expect(ops.find((o) => o.path === "/v1/gpu-models")?.access).toBe("public");
  });

  it("no route is reachable without its declared role, however the path is spelled", async () => {
    const reached: string[] = [];
    let calls = 0;
    for (const op of ops) {
      if (op.access === "public") continue;
      const none = await raw(base, op.method, op.path, null);
      calls++;
      if (none !== 401) reached.push(`${op.method} ${op.path} with no key -> ${none} (want 401)`);
      const wrong = ROLES.filter((r) => !(op.access as Role[]).includes(r));
      for (const r of wrong) {
        const s = await raw(base, op.method, op.path, keyOf[r]);
        calls++;
        if (s !== 403) reached.push(`${op.method} ${op.path} as ${r} -> ${s} (want 403)`);
      }
      for (const variant of spellings(op.path)) {
        for (const key of [null, ...wrong.map((r) => keyOf[r])]) {
          const s = await raw(base, op.method, variant, key);
          calls++;
          if (s < 400)
            reached.push(`${op.method} ${variant} ${key ? "with a wrong-role key" : "with no key"} -> ${s}`);
        }
      }
    }
    expect(reached).toEqual([]);
    expect(calls).toBeGreaterThan(1000);
  });

  it("the reported bypasses are closed: POST /%76%31/plans and GET /%761/settings/fee need a key", async () => {
    // Before the fix both answered 200 with no key (the hook tested the raw URL for "/v1/").
    expect(await raw(base, "POST", "/%76%31/plans", null)).toBe(401);
    expect(await raw(base, "GET", "/%761/settings/fee", null)).toBe(401);
    expect(await raw(base, "GET", "/v1/settings/fee", null)).toBe(401);
  });

  it("public routes answer without a key", async () => {
    expect(await raw(base, "GET", "/v1/gpu-models", null)).toBe(200);
    expect(await raw(base, "GET", "/healthz", null)).toBe(200);
    expect(await raw(base, "GET", "/openapi.json", null)).toBe(200);
    expect(await raw(base, "POST", "/v1/agent/enrol", null)).toBe(400);
  });

  it("POST /v1/plans is for operators and admins, with Monte-Carlo runs capped per request", async () => {
    const scenario = {
      name: "cap",
      site: { powerMw: 10, pue: 1.1, electricityUsdPerMwh: 45 },
      mining: { asic: "S21", btcPriceUsd: 95_000, networkHashrateEhs: 850, feesBtcPerBlock: 0.05 },
      monteCarlo: { runs: 50, seed: 7 },
    };
    expect((await call(h.app, null, "POST", "/v1/plans", scenario)).status).toBe(401);
    expect((await call(h.app, keyOf.tenant, "POST", "/v1/plans", scenario)).status).toBe(403);
    expect((await call(h.app, keyOf.operator, "POST", "/v1/plans", scenario)).status).toBe(200);
    const tooMany = await call(h.app, keyOf.operator, "POST", "/v1/plans?runs=20000", scenario);
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.detail).toMatch(/from 1 to 2000/);
    const inBody = await call(h.app, keyOf.admin, "POST", "/v1/plans", {
      ...scenario,
      monteCarlo: { runs: 20_000, seed: 7 },
    });
    expect(inBody.status).toBe(400);
    expect(inBody.json.errors[0].path).toBe("body.monteCarlo.runs");
  });
});

describe("a route that declares no access", () => {
  it("fails registration, naming the route and the fix", async () => {
    const h = await startHarness(STORES[0]!);
    try {
      await expect(
        buildApi(h.services, {
          plugins: [
            async (app) => {
              app.get("/v1/forgotten", async () => ({ ok: true }));
            },
          ],
        }),
      ).rejects.toThrow(/route GET \/v1\/forgotten does not declare who may call it/);
    } finally {
      await h.close();
    }
  });
});
