import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { DomainError } from "../../domain/errors.js";
import { parseScenario, plan } from "../../planner/index.js";
import { plansRoutes } from "./plans.js";

const scenario = {
  name: "api test",
  site: { powerMw: 10, pue: 1.1, electricityUsdPerMwh: 45 },
  mining: { asic: "S21", btcPriceUsd: 95_000, networkHashrateEhs: 850, feesBtcPerBlock: 0.05 },
  hosting: { itMw: 5, contractUsd: 90_000_000, years: 10, noiMargin: 0.85 },
  monteCarlo: { runs: 50, seed: 7 },
};

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(): Promise<FastifyInstance> {
  const a = Fastify();
  // Minimal stand-in for the API's problem mapper: validation DomainErrors become 400 problem+json.
  a.setErrorHandler(async (err, _req, reply) => {
    if (err instanceof DomainError && err.code === "validation") {
      return reply
        .status(400)
        .type("application/problem+json")
        .send({ status: 400, detail: err.message, errors: err.details.errors });
    }
    return reply.status(500).send({ detail: String(err) });
  });
  await plansRoutes(a);
  return a;
}

describe("POST /v1/plans", () => {
  it("returns the same JSON as the planner (what `plan --json` prints)", async () => {
    app = await build();
    const res = await app.inject({ method: "POST", url: "/v1/plans", payload: scenario });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const r = parseScenario(scenario);
    if (!r.ok) throw new Error("fixture invalid");
    expect(body).toEqual(JSON.parse(JSON.stringify(plan(r.scenario))));
    expect(body.mining.hashpriceUsdPerPhDay).toBeGreaterThan(0);
    expect(body.hosting.revenueUsdPerMwItYear).toBe(1_800_000);
  });

  it("takes seed and runs from the query", async () => {
    app = await build();
    const a = (
      await app.inject({ method: "POST", url: "/v1/plans?seed=3&runs=20", payload: scenario })
    ).json();
    const b = (
      await app.inject({ method: "POST", url: "/v1/plans?seed=4&runs=20", payload: scenario })
    ).json();
    expect(a.monteCarlo).toMatchObject({ seed: 3, runs: 20 });
    expect(a.monteCarlo.npvUsd.mining.p50).not.toBe(b.monteCarlo.npvUsd.mining.p50);
  });

  it("answers 400 with every field path and its fix", async () => {
    app = await build();
    const res = await app.inject({
      method: "POST",
      url: "/v1/plans",
      payload: {
        site: { powerMw: "x", electricityUsdPerMwh: 40 },
        hosting: { itMw: 5, contractUsd: 1e8, years: 10, noiMargin: 2 },
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toMatch(/problem\+json/);
    const errors = res.json().errors as { path: string; message: string }[];
    expect(errors.map((e) => e.path).sort()).toEqual(["body.hosting.noiMargin", "body.site.powerMw"]);
    expect(errors.find((e) => e.path === "body.hosting.noiMargin")!.message).toMatch(/<= 1/);
  });

  it("rejects a bad seed in the query", async () => {
    app = await build();
    const res = await app.inject({ method: "POST", url: "/v1/plans?seed=-1", payload: scenario });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].path).toBe("query.seed");
  });
});
