import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { nextBudgetChange, planCurtailment, powerBudgetAt, type CurtailableLease } from "./curtailment.js";

const lease = (
  id: string,
  cls: "interruptible" | "on-demand",
  facilityKw: number,
  price: number,
  startedAtMs: number,
  gpus = 8,
): CurtailableLease => ({ id, class: cls, facilityKw, priceMinorPerGpuHour: price, gpus, startedAtMs });

// Revenue per kW: i1 80, i2 40, i3 40 (started later than i2), o1 53.3, o2 160. Base load 15 kW.
const leases = [
  lease("i1", "interruptible", 10, 100, 1000),
  lease("i2", "interruptible", 20, 100, 2000),
  lease("i3", "interruptible", 10, 50, 3000),
  lease("o1", "on-demand", 30, 200, 500),
  lease("o2", "on-demand", 15, 300, 600),
];

describe("planCurtailment", () => {
  it("does nothing when the site is already under the cap", () => {
    const p = planCurtailment(leases, 100, { maxKw: 120, startMs: 0 });
    expect(p).toMatchObject({ victims: [], kwAfter: 100, capMet: true });
    expect(p.reasoning[0]).toMatch(/already within the cap/);
  });

  it("stops interruptible work cheapest first, breaks ties by most recent start, and prunes", () => {
    // Need 20 kW: i3 (40/kW, newest) then i2 (40/kW) free 30; i3 is then not needed.
    const p = planCurtailment(leases, 100, { maxKw: 80, startMs: 5000 });
    expect(p.stopInterruptible).toEqual(["i2"]);
    expect(p.stopOnDemand).toEqual([]);
    expect(p).toMatchObject({ kwBefore: 100, kwAfter: 80, capMet: true, stopByMs: 5000 });
    expect(p.victims[0]).toMatchObject({ revenueMinorPerHour: 800, revenuePerKw: 40 });
    expect(p.reasoning.join(" ")).toMatch(/not to be needed and keep running: i3/);
    expect(p.reasoning.join(" ")).toMatch(/No on-demand lease is stopped/);
    // Need 10 kW: i3 alone (newest of the two cheapest).
    expect(planCurtailment(leases, 100, { maxKw: 90, startMs: 0 }).stopInterruptible).toEqual(["i3"]);
  });

  it("stops on-demand work only when all interruptible work is not enough, fewest leases first", () => {
    // Need 50 kW; interruptible holds 40. All of it, then o1 (the largest) = 70; prune i1 and i3.
    const p = planCurtailment(leases, 100, { maxKw: 50, startMs: 0 });
    expect(p.stopOnDemand).toEqual(["o1"]);
    expect(p.stopInterruptible).toEqual(["i2"]);
    expect(p.kwAfter).toBe(50);
    expect(p.capMet).toBe(true);
    expect(p.reasoning.join(" ")).toMatch(/on-demand leases must be stopped, fewest first/);
  });

  it("stops everything and says so when the cap cannot be met", () => {
    const p = planCurtailment(leases, 100, { maxKw: 10, startMs: 0 });
    expect(p.victims).toHaveLength(5);
    expect(p.kwAfter).toBe(15);
    expect(p.capMet).toBe(false);
    expect(p.reasoning.join(" ")).toMatch(/cannot be met \(15 kW is not lease load\)/);
  });

  it("refuses bad input, naming the field", () => {
    expect(() => planCurtailment(leases, -1, { maxKw: 1, startMs: 0 })).toThrow(/currentKw/);
    expect(() => planCurtailment(leases, 1, { maxKw: -1, startMs: 0 })).toThrow(/maxKw/);
    expect(() => planCurtailment([leases[0]!, leases[0]!], 1, { maxKw: 0, startMs: 0 })).toThrow(
      /duplicate lease id/,
    );
    expect(() => planCurtailment([lease("x", "on-demand", -1, 1, 0)], 1, { maxKw: 0, startMs: 0 })).toThrow(
      /leases\[0\] \(x\): facilityKw/,
    );
    expect(() => planCurtailment([lease("x", "on-demand", 1, 1.5, 0)], 1, { maxKw: 0, startMs: 0 })).toThrow(
      /priceMinorPerGpuHour/,
    );
  });

  const arbLease = fc.record({
    cls: fc.constantFrom("interruptible" as const, "on-demand" as const),
    kw: fc.integer({ min: 0, max: 200 }),
    price: fc.integer({ min: 0, max: 1000 }),
    gpus: fc.integer({ min: 1, max: 8 }),
    start: fc.integer({ min: 0, max: 100 }),
  });

  it("meets the cap whenever feasible, never stops on-demand while interruptible suffices, stops nothing needless", () => {
    fc.assert(
      fc.property(
        fc.array(arbLease, { maxLength: 12 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 2000 }),
        (ls, baseKw, maxKw) => {
          const list = ls.map((l, i) => lease(`l${i}`, l.cls, l.kw, l.price, l.start, l.gpus));
          const total = list.reduce((s, l) => s + l.facilityKw, 0);
          const current = baseKw + total;
          const p = planCurtailment(list, current, { maxKw, startMs: 0 });
          const need = current - maxKw;
          const intKw = list.filter((l) => l.class === "interruptible").reduce((s, l) => s + l.facilityKw, 0);
          expect(p.capMet).toBe(baseKw <= maxKw || need <= 0);
          if (p.capMet) expect(p.kwAfter).toBeLessThanOrEqual(maxKw);
          if (intKw >= need) expect(p.stopOnDemand).toEqual([]);
          expect(new Set(p.victims.map((v) => v.id)).size).toBe(p.victims.length);
          expect(p.kwAfter).toBe(current - p.victims.reduce((s, v) => s + v.facilityKw, 0));
          if (p.capMet) for (const v of p.victims) expect(p.kwAfter + v.facilityKw).toBeGreaterThan(maxKw);
        },
      ),
    );
  });
});

describe("power budget", () => {
  const windows = [
    { startMs: 100, endMs: 200, maxKw: 300 },
    { startMs: 150, endMs: 250, maxKw: 200 },
    { startMs: 300, endMs: 400, maxKw: 5000 },
  ];
  it("is the contracted kW lowered by every window in force ([start, end))", () => {
    expect([0, 100, 149, 150, 199, 200, 250, 350].map((t) => powerBudgetAt(1000, windows, t))).toEqual([
      1000, 300, 300, 200, 200, 200, 1000, 1000,
    ]);
  });
  it("says when it may next change", () => {
    expect(nextBudgetChange(windows, 0)).toBe(100);
    expect(nextBudgetChange(windows, 150)).toBe(200);
    expect(nextBudgetChange(windows, 400)).toBeNull();
  });
});
