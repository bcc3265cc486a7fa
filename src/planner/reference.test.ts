import { describe, expect, it } from "vitest";
import { asicJPerTh, findAsic } from "./catalogue.js";
import { hostingEconomics } from "./hosting.js";
import { breakevenUsdPerKwh, hashpriceUsdPerPhDay } from "./mining.js";
import { planFromJson } from "./plan.js";

// Published figures the planner must reproduce (issue 7). Sources: Hashrate Index (April 2024
// break-even table), hashprice of 23 Dec 2024, TeraWulf's hosting contract announcement.

describe("Hashrate Index, April 2024: break-even power price at hashprice $54.3/PH/day", () => {
  // Break-even = revenue per kWh the machine earns: (hashprice / 1000 $/TH/day) / (J/TH x 24 / 1000 kWh/TH/day),
  // at the plug (PUE 1) and gross of pool fees, which is how the index's table is computed.
  const cases: [string, number][] = [
    ["S21", 0.13],
    ["M60S", 0.12],
    ["S19 XP", 0.1],
    ["S19j Pro", 0.075],
    ["M30S+", 0.067],
  ];
  for (const [id, published] of cases) {
    it(`${id}: $${published}/kWh within $0.006`, () => {
      const be = breakevenUsdPerKwh(54.3, asicJPerTh(findAsic(id)!));
      expect(Math.abs(be - published)).toBeLessThanOrEqual(0.006);
    });
    it(`${id}: the plan's mining.breakevenUsdPerKwh (PUE 1, no pool fee) matches too`, () => {
      const r = planFromJson({
        site: { powerMw: 1, pue: 1, electricityUsdPerMwh: 50 },
        mining: { asic: id, hashpriceUsdPerPhDay: 54.3, poolFeeShare: 0 },
        monteCarlo: { runs: 10 },
      });
      expect(Math.abs(r.mining!.breakevenUsdPerKwh - published)).toBeLessThanOrEqual(0.006);
      expect(r.mining!.breakevenUsdPerKwhAtMachine).toBe(r.mining!.breakevenUsdPerKwh);
    });
  }
  it("PUE and pool fee lower the break-even in proportion", () => {
    const j = asicJPerTh(findAsic("S21")!);
    expect(breakevenUsdPerKwh(54.3, j, 1.25, 0.02)).toBeCloseTo(
      (breakevenUsdPerKwh(54.3, j) * 0.98) / 1.25,
      12,
    );
  });
});

describe("23 Dec 2024: hashprice from the block reward", () => {
  it("BTC $93,450, 795 EH/s, fees 0.0931 BTC/block, subsidy 3.125 -> $55.21/PH/day within 3%", () => {
    const hp = hashpriceUsdPerPhDay(93_450, 795, 3.125, 0.0931);
    expect(Math.abs(hp / 55.21 - 1)).toBeLessThanOrEqual(0.03);
  });
  it("the plan reports the same hashprice", () => {
    const r = planFromJson({
      startDate: "2024-12-23",
      site: { powerMw: 10, pue: 1, electricityUsdPerMwh: 50 },
      mining: {
        asic: "S21",
        btcPriceUsd: 93_450,
        networkHashrateEhs: 795,
        feesBtcPerBlock: 0.0931,
        subsidyBtc: 3.125,
      },
      monteCarlo: { runs: 10 },
    });
    expect(Math.abs(r.mining!.hashpriceUsdPerPhDay / 55.21 - 1)).toBeLessThanOrEqual(0.03);
    expect(r.mining!.hashpriceSource).toBe("computed");
    expect(r.mining!.halvings[0]!.date.startsWith("2028-")).toBe(true);
  });
});

describe("TeraWulf hosting: 200 MW IT, 10 years, $3.7B, 85% NOI", () => {
  it("NOI ~ $315M/yr and revenue ~ $1.85M per MW-IT-year, within 2%", () => {
    const e = hostingEconomics({ itMw: 200, contractUsd: 3.7e9, years: 10, noiMargin: 0.85 });
    expect(Math.abs(e.noiUsdPerYear / 315e6 - 1)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(e.revenueUsdPerMwItYear / 1.85e6 - 1)).toBeLessThanOrEqual(0.02);
  });
  it("the plan's hosting section reports them (no site needed)", () => {
    const r = planFromJson({
      hosting: { itMw: 200, contractUsd: 3.7e9, years: 10, noiMargin: 0.85 },
      monteCarlo: { runs: 10 },
    });
    const h = r.hosting!;
    expect(Math.abs(h.noiUsdPerYear / 315e6 - 1)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(h.revenueUsdPerMwItYear / 1.85e6 - 1)).toBeLessThanOrEqual(0.02);
    expect(h.revenueUsdPerYear).toBe(370_000_000);
  });
});
