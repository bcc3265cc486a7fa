import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SampledEnergy } from "./sampled-energy.js";

describe("SampledEnergy", () => {
  it("integrates a flat 360 W over 10 s as 1 Wh = 1000 mWh, clipped to the interval", () => {
    const m = new SampledEnergy();
    m.observe([{ index: 0, t: 0, powerW: 360 }]);
    m.observe([{ index: 0, t: 20_000, powerW: 360 }]);
    expect(m.energyMilliWh([0], "H100", 5_000, 15_000)).toEqual({
      energyMilliWh: 1000,
      energySource: "measured",
    });
    expect(m.energyMilliWh([0, 0], "H100", 5_000, 15_000).energyMilliWh).toBe(2000);
  });

  it("follows a ramp linearly between samples", () => {
    const m = new SampledEnergy();
    m.observe([{ index: 0, t: 0, powerW: 0 }]);
    m.observe([{ index: 0, t: 10_000, powerW: 720 }]);
    // Power at 5 s is 360 W; over [5 s, 10 s] the mean is 540 W: 2700 J = 750 mWh.
    expect(m.energyJ(0, 5_000, 10_000)).toBeCloseTo(2700, 9);
  });

  it("uses the GPU's counter where every sample has it, and falls back to power when it went back", () => {
    const m = new SampledEnergy();
    m.observe([{ index: 0, t: 0, powerW: 100, energyMj: 1_000_000 }]);
    m.observe([{ index: 0, t: 10_000, powerW: 100, energyMj: 1_000_000 + 5_000_000 }]); // 500 W by the counter
    expect(m.energyJ(0, 0, 10_000)).toBeCloseTo(5000, 9);
    m.observe([{ index: 0, t: 20_000, powerW: 100, energyMj: 10 }]); // driver reload
    expect(m.energyJ(0, 0, 20_000)).toBeCloseTo(2000, 9); // power: 100 W x 20 s
  });

  it("hands an interval the samples do not cover to the fallback", () => {
    const fallback = { energyMilliWh: () => ({ energyMilliWh: 42, energySource: "modelled" as const }) };
    const m = new SampledEnergy({ fallback, maxEdgeGapMs: 1_000 });
    m.observe([{ index: 0, t: 0, powerW: 100 }]);
    expect(m.energyMilliWh([0], "H100", 0, 60_000)).toEqual({ energyMilliWh: 42, energySource: "modelled" });
    expect(m.energyMilliWh([1], "H100", 0, 500)).toEqual({ energyMilliWh: 42, energySource: "modelled" });
    expect(m.energyMilliWh([0], "H100", 0, 500)).toEqual({
      energyMilliWh: Math.round((100 * 0.5) / 3.6),
      energySource: "measured",
    });
  });

  it("adds up: E[a,b] + E[b,c] = E[a,c] for any samples and split points", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.float({ min: 0, max: 1000, noNaN: true })),
          { minLength: 1, maxLength: 40 },
        ),
        fc.tuple(
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
        ),
        (steps, fr) => {
          const m = new SampledEnergy({ maxEdgeGapMs: 0 });
          let t = 0;
          for (const [dt, p] of steps) {
            t += dt;
            m.observe([{ index: 0, t, powerW: p }]);
          }
          const t0 = steps[0]![0];
          const [a, b, c] = fr.map((x) => t0 + x * (t - t0)).sort((x, y) => x - y) as [
            number,
            number,
            number,
          ];
          const whole = m.energyJ(0, a, c)!;
          expect(m.energyJ(0, a, b)! + m.energyJ(0, b, c)!).toBeCloseTo(whole, 6);
          expect(whole).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });
});
