import { describe, expect, it } from "vitest";
import { civilFromDays, daysFromCivil, halvingsWithin, parseIsoDate, subsidyAtHeight } from "./calendar.js";
import { irr, npv, paybackYears, yearly, emptyFlows } from "./flows.js";

describe("finance", () => {
  it("NPV discounts month k by (1 + r)^(k/12)", () => {
    const net = new Array<number>(13).fill(0);
    net[0] = -100;
    net[12] = 110;
    expect(npv(net, 0.1)).toBeCloseTo(0, 9);
    expect(npv(net, 0)).toBe(10);
  });
  it("IRR is the rate where NPV is zero; null without a sign change", () => {
    const net = new Array<number>(25).fill(0);
    net[0] = -1000;
    net[12] = 600;
    net[24] = 600;
    const r = irr(net)!;
    expect(npv(net, r)).toBeCloseTo(0, 6);
    expect(r).toBeCloseTo(0.1307, 3);
    expect(irr([1, 2, 3])).toBeNull();
    expect(irr([0, 5, -1])).toBeNull(); // no investment first: no IRR
    const late = [-100, 60, 60, -5];
    expect(npv(late, irr(late)!)).toBeCloseTo(0, 6);
  });
  it("payback interpolates within the month; null when never repaid", () => {
    expect(paybackYears([-100, 50, 50, 50])).toBeCloseTo(2 / 12, 9);
    expect(paybackYears([-100, 10, 10])).toBeNull();
    expect(paybackYears([0, 5, 5])).toBe(0);
  });
  it("yearly rows sum the months and start with year 0 (capex)", () => {
    const f = emptyFlows(24);
    f.capex[0] = 100;
    for (let k = 1; k <= 24; k++) f.revenue[k] = 10;
    const y = yearly(f);
    expect(y.map((r) => r.year)).toEqual([0, 1, 2]);
    expect(y[1]!.revenueUsd).toBe(120);
    expect(y[2]!.cumulativeUsd).toBe(140);
  });
});

describe("calendar and halvings", () => {
  it("round-trips civil dates", () => {
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
    expect(civilFromDays(daysFromCivil(2028, 2, 29))).toBe("2028-02-29");
    expect(parseIsoDate("2025-13-01")).toBeUndefined();
  });
  it("subsidy halves every 210,000 blocks", () => {
    expect(subsidyAtHeight(839_999)).toBe(6.25);
    expect(subsidyAtHeight(840_000)).toBe(3.125);
    expect(subsidyAtHeight(1_050_000)).toBe(1.5625);
  });
  it("the next halving after 2026-01-01 is expected in spring 2028", () => {
    const day = parseIsoDate("2026-01-01")!;
    const h = halvingsWithin(day, 840_000 + (day - daysFromCivil(2024, 4, 20)) * 144, 60);
    expect(h).toHaveLength(1);
    expect(h[0]!.height).toBe(1_050_000);
    expect(h[0]!.date.slice(0, 7)).toBe("2028-04");
  });
});
