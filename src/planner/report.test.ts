import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { histogram } from "./monte-carlo.js";
import { plan } from "./plan.js";
import { renderReport } from "./report.js";
import { parseScenario } from "./schema.js";
import type { Scenario, ScenarioInput } from "./schema.js";
import { groupThousands, niceTicks, shortUsd } from "./svg.js";

function scenario(raw: ScenarioInput): Scenario {
  const r = parseScenario(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.scenario;
}

const hybrid = scenario({
  name: "<script>alert(1)</script> & co",
  site: { powerMw: 8, pue: 1.08, electricityUsdPerMwh: 50 },
  mining: { asic: "S21", hashpriceUsdPerPhDay: 50 },
  hosting: { itMw: 3, contractUsd: 60_000_000, years: 10, noiMargin: 0.85 },
  monteCarlo: { runs: 100 },
});

/** Every number in a JSON value, with its path. */
function numbers(v: unknown, path = ""): [string, number][] {
  if (typeof v === "number") return [[path, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => numbers(x, `${path}[${i}]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => numbers(x, `${path}.${k}`));
  return [];
}

describe("HTML report", () => {
  it("is deterministic, script-free, escapes user text, and has the four charts", () => {
    const a = renderReport(plan(hybrid, { seed: 3 }), { notes: "note <b>x</b>" });
    const b = renderReport(plan(hybrid, { seed: 3 }), { notes: "note <b>x</b>" });
    expect(a).toBe(b);
    expect(a).not.toMatch(/<script/i);
    expect(a).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co");
    expect(a).toContain("note &lt;b&gt;x&lt;/b&gt;");
    expect(a.match(/<svg /g)).toHaveLength(4);
    for (const title of [
      "Net cash flow per year",
      "NPV by share of site power kept mining",
      "NPV when one input moves",
      "NPV distribution",
    ])
      expect(a).toContain(title);
    expect(a).not.toMatch(/NaN|Infinity|undefined/);
  });

  it("number helpers format without locale", () => {
    expect(groupThousands(-1234567.4)).toBe("-1,234,567");
    expect(shortUsd(-2_500_000)).toBe("-$2.5M");
    expect(shortUsd(3_700_000_000)).toBe("$3.7B");
    const t = niceTicks(-37, 512);
    expect(t[0]).toBeLessThanOrEqual(-37);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(512);
  });
});

describe("plan output", () => {
  it("every number is finite, for any sensible scenario", () => {
    fc.assert(
      fc.property(
        fc.record({
          power: fc.double({ min: 0.5, max: 300, noNaN: true }),
          elec: fc.double({ min: 0, max: 250, noNaN: true }),
          hp: fc.double({ min: 5, max: 200, noNaN: true }),
          horizon: fc.integer({ min: 1, max: 15 }),
          gpu: fc.constantFrom("H100", "H200", "B200", "A100"),
          util: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        (o) => {
          const s = scenario({
            horizonYears: o.horizon,
            site: { powerMw: o.power, pue: 1.1, electricityUsdPerMwh: o.elec },
            mining: { asic: "M30S+", hashpriceUsdPerPhDay: o.hp },
            hosting: { itMw: o.power / 2, contractUsd: o.power * 1e7, years: 5, noiMargin: 0.8 },
            gpuCloud: { gpu: o.gpu, utilisation: o.util },
            monteCarlo: { runs: 8 },
          });
          const r = plan(s);
          for (const [path, x] of numbers(r)) if (!Number.isFinite(x)) throw new Error(`${path} = ${x}`);
          expect(r.hybrid!.best.npvUsd).toBeGreaterThanOrEqual(
            Math.max(r.mining!.npvUsd, r[r.hybrid!.aiMode]!.npvUsd),
          );
          expect(renderReport(r)).not.toMatch(/NaN|Infinity/);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe("Monte Carlo histogram", () => {
  it("counts every draw, tails in the edge bins", () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i === 999 ? 1e9 : i));
    const h = histogram(values, 10);
    expect(h.reduce((a, b) => a + b.count, 0)).toBe(1000);
    expect(h[9]!.toUsd).toBeLessThan(1000);
    expect(h[0]!.fromUsd).toBeGreaterThan(0);
  });
});
