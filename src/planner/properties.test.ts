import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { configNpv, context, searchSplit } from "./evaluate.js";
import { plan } from "./plan.js";
import { parseScenario } from "./schema.js";
import type { Scenario, ScenarioInput } from "./schema.js";

function scenario(raw: ScenarioInput): Scenario {
  const r = parseScenario(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.scenario;
}

const base = (o: {
  btc: number;
  elec: number;
  gpuPrice: number;
  contract: number;
  pue: number;
  horizon: number;
}): ScenarioInput => ({
  horizonYears: o.horizon,
  site: { powerMw: 10, pue: o.pue, electricityUsdPerMwh: o.elec },
  mining: { asic: "S21", btcPriceUsd: o.btc, networkHashrateEhs: 900, feesBtcPerBlock: 0.05 },
  hosting: { itMw: 4, contractUsd: o.contract, years: 10, noiMargin: 0.85 },
  gpuCloud: { gpu: "H100", priceUsdPerGpuHour: o.gpuPrice },
  monteCarlo: { runs: 20 },
});

const arb = fc.record({
  btc: fc.integer({ min: 20_000, max: 250_000 }),
  elec: fc.integer({ min: 10, max: 120 }),
  gpuPrice: fc.double({ min: 0.5, max: 6, noNaN: true }),
  contract: fc.integer({ min: 10_000_000, max: 200_000_000 }),
  pue: fc.double({ min: 1, max: 1.5, noNaN: true }),
  horizon: fc.integer({ min: 3, max: 12 }),
});

describe("planner properties", () => {
  it("mining NPV never falls when the BTC price rises, nor rises when power gets dearer", () => {
    fc.assert(
      fc.property(arb, fc.double({ min: 1, max: 3, noNaN: true }), (o, k) => {
        const lo = context(scenario(base(o)));
        const hiBtc = context(scenario(base({ ...o, btc: o.btc * k })));
        const hiElec = context(scenario(base({ ...o, elec: o.elec * k })));
        const cfg = { miningShare: 1, aiMode: null };
        expect(configNpv(hiBtc, cfg)).toBeGreaterThanOrEqual(configNpv(lo, cfg) - 1e-6);
        expect(configNpv(hiElec, cfg)).toBeLessThanOrEqual(configNpv(lo, cfg) + 1e-6);
      }),
      { numRuns: 40 },
    );
  });

  it("GPU-cloud NPV rises with the GPU-hour price; hosting NPV with the contract value", () => {
    fc.assert(
      fc.property(arb, fc.double({ min: 1.01, max: 3, noNaN: true }), (o, k) => {
        const a = context(scenario(base(o)));
        const b = context(
          scenario(base({ ...o, gpuPrice: o.gpuPrice * k, contract: Math.round(o.contract * k) })),
        );
        expect(configNpv(b, { miningShare: 0, aiMode: "gpuCloud" })).toBeGreaterThan(
          configNpv(a, { miningShare: 0, aiMode: "gpuCloud" }),
        );
        expect(configNpv(b, { miningShare: 0, aiMode: "hosting" })).toBeGreaterThan(
          configNpv(a, { miningShare: 0, aiMode: "hosting" }),
        );
      }),
      { numRuns: 40 },
    );
  });

  it("the best hybrid split is never worse than pure mining or the pure AI option", () => {
    fc.assert(
      fc.property(
        arb,
        fc.constantFrom("hosting" as const, "gpuCloud" as const),
        fc.constantFrom(0.05, 0.1, 0.25),
        (o, mode, step) => {
          const s = scenario(base(o));
          const ctx = context(s);
          const { best } = searchSplit(ctx, mode, step);
          const r = plan(s, { runs: 5 });
          expect(best.npvUsd).toBeGreaterThanOrEqual(r.mining!.npvUsd - 1);
          expect(best.npvUsd).toBeGreaterThanOrEqual(
            (mode === "hosting" ? r.hosting! : r.gpuCloud!).npvUsd - 1,
          );
          expect(r.recommendation.npvUsd).toBeGreaterThanOrEqual(
            Math.max(r.mining!.npvUsd, r.hosting!.npvUsd, r.gpuCloud!.npvUsd),
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it("Monte Carlo is deterministic for a seed and changes with it", () => {
    const s = scenario(
      base({ btc: 90_000, elec: 50, gpuPrice: 2.2, contract: 80_000_000, pue: 1.1, horizon: 8 }),
    );
    const a = plan(s, { seed: 42, runs: 200 });
    const b = plan(s, { seed: 42, runs: 200 });
    const c = plan(s, { seed: 43, runs: 200 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.monteCarlo.npvUsd.mining!.p50).not.toBe(c.monteCarlo.npvUsd.mining!.p50);
    const d = a.monteCarlo.npvUsd.mining!;
    expect(d.p5).toBeLessThanOrEqual(d.p50);
    expect(d.p50).toBeLessThanOrEqual(d.p95);
  });
});
