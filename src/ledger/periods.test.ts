import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { billingPeriodFor, nextPeriod, parsePeriod, periodBounds, periodOf } from "./periods.js";

describe("periods", () => {
  it("agrees with the platform calendar for any instant (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7_258_118_400_000 }), (ms) => {
        expect(periodOf(ms)).toBe(new Date(ms).toISOString().slice(0, 7));
      }),
      { numRuns: 2000 },
    );
  });
  it("bounds a month as a half-open range that contains exactly its instants", () => {
    expect(periodBounds("2024-02")).toEqual({ startMs: Date.UTC(2024, 1, 1), endMs: Date.UTC(2024, 2, 1) });
    expect(periodBounds("2026-12").endMs).toBe(Date.UTC(2027, 0, 1));
    const { startMs, endMs } = periodBounds("2026-03");
    expect(periodOf(startMs)).toBe("2026-03");
    expect(periodOf(endMs - 1)).toBe("2026-03");
    expect(periodOf(endMs)).toBe("2026-04");
  });
  it("steps to the next month across a year end", () => {
    expect(nextPeriod("2026-12")).toBe("2027-01");
    expect(nextPeriod("2026-01")).toBe("2026-02");
  });
  it("rejects malformed periods naming the field", () => {
    expect(() => parsePeriod("2026-13")).toThrow(/period must be a month written YYYY-MM/);
    expect(() => billingPeriodFor("26-01", new Set())).toThrow(/usagePeriod/);
  });
  it("bills late usage into the next open month with a note", () => {
    expect(billingPeriodFor("2026-10", new Set())).toEqual({ period: "2026-10", late: false });
    const r = billingPeriodFor("2026-10", new Set(["2026-10", "2026-11"]));
    expect(r).toEqual({
      period: "2026-12",
      late: true,
      note: "late usage from 2026-10 (period closed), billed in 2026-12",
    });
  });
});
