import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { chooseStart, co2eBound, prefixIntegral, runMean } from "./deferral.js";
import { HOUR_MS, integrate } from "./series.js";

const H = HOUR_MS;
// A day: dirty at night, clean around noon (made-up figures).
const carbon = { startMs: 0, stepMs: H, values: [300, 300, 250, 200, 150, 100, 50, 50, 100, 200, 300, 300] };
const price = { startMs: 0, stepMs: H, values: [20, 20, 30, 40, 60, 80, 90, 90, 70, 40, 10, 10] };

describe("prefixIntegral", () => {
  it("matches integrate over any sub-interval", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -20 * H, max: 20 * H }),
        fc.integer({ min: 0, max: 30 * H }),
        fc.integer({ min: 0, max: 30 * H }),
        (a, x, y) => {
          const F = prefixIntegral(carbon, a, a + 30 * H);
          const [u, v] = x < y ? [x, y] : [y, x];
          expect((F(a + v) - F(a + u)) / H).toBeCloseTo(integrate(carbon, a + u, a + v), 4);
        },
      ),
    );
    expect(() => prefixIntegral(carbon, 0, H)(2 * H)).toThrow(/outside/);
  });
});

describe("chooseStart", () => {
  it("moves a two-hour job into the cleanest hours it can still finish by its deadline", () => {
    const c = chooseStart(
      { earliestStartMs: 0, deadlineMs: 12 * H, durationMs: 2 * H, energyKwh: 10 },
      { carbon, objective: "carbon" },
    );
    expect(c).toMatchObject({ startMs: 6 * H, endMs: 8 * H, deferredMs: 6 * H, feasible: true });
    expect(c.carbonGPerKwh).toBe(50);
    expect(c.nowCarbonGPerKwh).toBe(300);
    expect(c.co2eKg).toBe(0.5); // 10 kWh x 50 g
    expect(c.nowCo2eKg).toBe(3);
    expect(c.reason).toMatch(/starting 21600 s later lowers the carbon/);
  });

  it("never defers past the deadline minus duration and margin", () => {
    const c = chooseStart(
      { earliestStartMs: 0, deadlineMs: 7 * H, durationMs: 2 * H },
      { carbon, objective: "carbon", marginMs: H / 2 },
    );
    // Latest start 4.5 h: the window [4.5, 6.5) averages (0.5 x 150 + 100 + 0.5 x 50) / 2 = 100.
    expect(c.startMs).toBe(4.5 * H);
    expect(c.carbonGPerKwh).toBe(100);
    expect(
      chooseStart(
        { earliestStartMs: 0, deadlineMs: 12 * H, durationMs: 2 * H },
        { carbon, objective: "carbon", maxDeferralMs: 3 * H },
      ).startMs,
    ).toBe(3 * H);
  });

  it("optimises price, or a mix, and reports costs rounded once", () => {
    const job = { earliestStartMs: 0, deadlineMs: 12 * H, durationMs: 2 * H, energyKwh: 1000 };
    const p = chooseStart(job, { price, objective: "price" });
    expect(p.startMs).toBe(10 * H);
    expect(p.costMinor).toBe(1000); // 1 MWh x 10 EUR
    expect(p.nowCostMinor).toBe(2000);
    // Each term is divided by its window mean (carbon 2300/12, price 560/12 per hour). Equal weights:
    // start 10 h scores 600/191.7 + 20/46.7 = 3.56, the lowest; carbon weighted 3:1, start 6 h scores
    // 3 x 100/191.7 + 180/46.7 = 5.42, the lowest.
    expect(chooseStart(job, { carbon, price, objective: { carbonWeight: 1, priceWeight: 1 } }).startMs).toBe(
      10 * H,
    );
    expect(chooseStart(job, { carbon, price, objective: { carbonWeight: 3, priceWeight: 1 } }).startMs).toBe(
      6 * H,
    );
  });

  it("starts at once when waiting does not help, or when the deadline is already out of reach", () => {
    const flat = { startMs: 0, stepMs: H, values: [100] };
    const c = chooseStart(
      { earliestStartMs: 5, deadlineMs: 10 * H, durationMs: H },
      { carbon: flat, objective: "carbon" },
    );
    expect(c).toMatchObject({ startMs: 5, deferredMs: 0, feasible: true });
    expect(c.reason).toMatch(/start at once/);
    const late = chooseStart(
      { earliestStartMs: 0, deadlineMs: H, durationMs: 2 * H },
      { carbon, objective: "carbon" },
    );
    expect(late).toMatchObject({ startMs: 0, feasible: false });
    expect(late.reason).toMatch(/cannot be met even starting at once \(3600 s late\)/);
  });

  it("refuses inputs it cannot use", () => {
    const job = { earliestStartMs: 0, deadlineMs: 10 * H, durationMs: H };
    expect(() => chooseStart(job, { objective: "carbon" })).toThrow(/no carbon series/);
    expect(() => chooseStart(job, { carbon, objective: "price" })).toThrow(/no price series/);
    expect(() => chooseStart({ ...job, durationMs: 0 }, { carbon, objective: "carbon" })).toThrow(
      /durationMs/,
    );
  });

  it("never misses the deadline, never does worse than now, and matches a brute-force search", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 10 * 4 }),
        fc.integer({ min: 0, max: 30 * 4 }),
        (values, e15, d15, slack15) => {
          const Q = H / 4;
          const series = { startMs: 0, stepMs: H, values };
          const job = {
            earliestStartMs: e15 * Q,
            durationMs: d15 * Q,
            deadlineMs: (e15 + d15 + slack15) * Q,
          };
          const c = chooseStart(job, { carbon: series, objective: "carbon" });
          expect(c.endMs).toBeLessThanOrEqual(job.deadlineMs);
          expect(c.startMs).toBeGreaterThanOrEqual(job.earliestStartMs);
          expect(c.carbonGPerKwh!).toBeLessThanOrEqual(c.nowCarbonGPerKwh! + 1e-9);
          let bf = Infinity;
          for (let s = job.earliestStartMs; s + job.durationMs <= job.deadlineMs; s += Q / 3)
            bf = Math.min(bf, runMean(series, s, job.durationMs));
          expect(c.carbonGPerKwh!).toBeLessThanOrEqual(bf + 1e-6);
        },
      ),
    );
  });
});

describe("co2eBound", () => {
  const job = { earliestStartMs: 0, deadlineMs: 12 * H, durationMs: 3 * H, energyKwh: 30 };
  it("contiguous: the best single start; split: the cleanest hours in any pieces", () => {
    // Best block of 3 hours: [5, 8) = 100 + 50 + 50 = 200 / 3 g/kWh; 30 kWh -> 2 kg.
    expect(co2eBound(job, carbon)).toBeCloseTo(2, 12);
    // The three cleanest hours are the same here; a bimodal series shows the difference.
    const bimodal = { startMs: 0, stepMs: H, values: [10, 500, 500, 10, 10, 500] };
    expect(co2eBound({ ...job, deadlineMs: 6 * H }, bimodal, "split")).toBeCloseTo(0.3, 12); // 30 kWh x 10 g
    expect(co2eBound({ ...job, deadlineMs: 6 * H }, bimodal, "contiguous")).toBeCloseTo(
      (30 * (10 + 10 + 500)) / 3 / 1000,
      12,
    );
  });
  it("counts a job whose window is too short as starting at once", () => {
    expect(co2eBound({ ...job, deadlineMs: H }, carbon, "split")).toBeCloseTo(
      (30 * (300 + 300 + 250)) / 3 / 1000,
      12,
    );
  });
  it("split <= contiguous <= starting now", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 24 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 24 }),
        (values, dh, slack) => {
          const s = { startMs: 0, stepMs: H, values };
          const j = { earliestStartMs: 0, durationMs: dh * H, deadlineMs: (dh + slack) * H, energyKwh: 1 };
          const split = co2eBound(j, s, "split");
          const cont = co2eBound(j, s, "contiguous");
          expect(split).toBeLessThanOrEqual(cont + 1e-9);
          expect(cont).toBeLessThanOrEqual(runMean(s, 0, dh * H) / 1000 + 1e-9);
        },
      ),
    );
  });
});
