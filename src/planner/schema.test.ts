import { describe, expect, it } from "vitest";
import { DomainError } from "../domain/errors.js";
import { planFromJson } from "./plan.js";
import { parseScenario } from "./schema.js";

const ok = {
  site: { powerMw: 20, pue: 1.05, electricityUsdPerMwh: 60 },
  mining: { asic: "S19j Pro", btcPriceUsd: 90_000, networkHashrateEhs: 1000 },
};

function errorsOf(raw: unknown): { path: string; message: string }[] {
  const r = parseScenario(raw);
  if (r.ok) throw new Error("expected errors");
  return r.errors;
}

describe("scenario schema", () => {
  it("fills defaults", () => {
    const r = parseScenario(ok);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.scenario.horizonYears).toBe(10);
    expect(r.scenario.discountRate).toBe(0.1);
    expect(r.scenario.mining!.poolFeeShare).toBe(0.02);
    expect(r.scenario.monteCarlo.seed).toBe(1);
  });

  it("names the field path and the fix for a wrong type", () => {
    const e = errorsOf({ ...ok, site: { ...ok.site, powerMw: "twenty" } });
    expect(e).toHaveLength(1);
    expect(e[0]!.path).toBe("site.powerMw");
    expect(e[0]!.message).toMatch(
      /must be a number > 0: the site's contracted grid power in MW, e.g. 20 \(got "twenty"\)/,
    );
  });

  it("rejects unknown fields with their path (typos do not pass silently)", () => {
    const e = errorsOf({ ...ok, mining: { ...ok.mining, unit: 5 } });
    expect(e.map((x) => x.path)).toEqual(["mining.unit"]);
    expect(e[0]!.message).toMatch(/unknown field "unit"/);
  });

  it("lists the catalogue for an unknown ASIC and GPU", () => {
    const e = errorsOf({ ...ok, mining: { ...ok.mining, asic: "S9" }, gpuCloud: { gpu: "Z100" } });
    expect(e.find((x) => x.path === "mining.asic")!.message).toMatch(/"S21 Pro"/);
    expect(e.find((x) => x.path === "gpuCloud.gpu")!.message).toMatch(/"B200"/);
  });

  it("asks for the BTC inputs when hashprice is not given", () => {
    const e = errorsOf({ site: ok.site, mining: { asic: "S21" } });
    expect(e.map((x) => x.path).sort()).toEqual(["mining.btcPriceUsd", "mining.networkHashrateEhs"]);
  });

  it("refuses fees given two ways, a fleet larger than the site, and mining without a site", () => {
    expect(errorsOf({ ...ok, mining: { ...ok.mining, feesBtcPerBlock: 0.1, feeShare: 0.02 } })[0]!.path).toBe(
      "mining.feeShare",
    );
    const big = errorsOf({ ...ok, mining: { ...ok.mining, units: 100_000 } });
    expect(big[0]!.path).toBe("mining.units");
    expect(big[0]!.message).toMatch(/6208 at most/);
    expect(errorsOf({ mining: ok.mining })[0]!.path).toBe("site");
  });

  it("refuses an empty plan, a bad date and hosting larger than the site", () => {
    expect(errorsOf({ site: ok.site })[0]!.message).toMatch(/add at least one of/);
    expect(errorsOf({ ...ok, startDate: "2026-02-30" })[0]!.path).toBe("startDate");
    const h = errorsOf({ ...ok, hosting: { itMw: 50, contractUsd: 1e9, years: 10, noiMargin: 0.8 } });
    expect(h[0]!.path).toBe("hosting.itMw");
  });

  it("planFromJson throws a validation DomainError carrying every error", () => {
    try {
      planFromJson({ site: { powerMw: -1, electricityUsdPerMwh: 50 }, hosting: { itMw: 1 } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      const d = err as DomainError;
      expect(d.code).toBe("validation");
      const paths = (d.details.errors as { path: string }[]).map((x) => x.path).sort();
      expect(paths).toEqual(["hosting.contractUsd", "hosting.noiMargin", "hosting.years", "site.powerMw"]);
    }
  });
});
