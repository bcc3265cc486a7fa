import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EnergyMeter } from "./energy-meter.js";
import { parsePowerSamples } from "./power.js";
import type { PowerSample } from "./power.js";

const FIX = join(import.meta.dirname, "../../../test/fixtures/nvidia-smi");

describe("EnergyMeter", () => {
  it("integrates power by trapezoid: 100 W -> 300 W over 36 s is 2 Wh", () => {
    const m = new EnergyMeter();
    m.hold("L1", [0], 0);
    m.observe([{ index: 0, t: 0, powerW: 100 }]);
    m.observe([{ index: 0, t: 36_000, powerW: 300 }]);
    expect(m.takeWh("L1")).toBeCloseTo(2, 9);
    expect(m.takeWh("L1")).toBe(0);
    expect(m.sourceCount).toEqual({ counter: 0, trapezoid: 1 });
  });

  it("prefers the GPU's energy counter, and falls back to power when the counter goes back", () => {
    const f = ["index", "power.draw.instant", "total_energy_consumption"];
    const read = (file: string, t: number): PowerSample[] =>
      parsePowerSamples(readFileSync(join(FIX, file), "utf8"), f, t);
    const m = new EnergyMeter();
    m.hold("A", [0], 0);
    m.hold("B", [1], 0);
    m.observe(read("power-h100-t0.csv", 0));
    m.observe(read("power-h100-t1.csv", 1000));
    expect(m.leaseWh("A")).toBeCloseTo(500.885 / 3600, 9); // counter delta 500885 mJ
    expect(m.leaseWh("B")).toBeCloseTo(71.2 / 3600, 9);
    m.observe([{ index: 0, t: 2000, powerW: 600, energyMj: 5 }]); // driver reloaded: counter restarted
    expect(m.leaseWh("A")).toBeCloseTo((500.885 + (688.9 + 600) / 2) / 3600, 9);
  });

  it("splits an interval between leases by the time each held the GPU; the rest is idle", () => {
    const m = new EnergyMeter();
    m.observe([{ index: 0, t: 0, powerW: 360 }]);
    m.hold("A", [0], 0);
    m.release("A", 4000);
    m.hold("B", [0], 6000);
    m.observe([{ index: 0, t: 10_000, powerW: 360 }]); // 3600 J = 1 Wh over 10 s
    expect(m.leaseWh("A")).toBeCloseTo(0.4, 9);
    expect(m.leaseWh("B")).toBeCloseTo(0.4, 9);
    expect(m.gpuWh(0).idleWh).toBeCloseTo(0.2, 9);
  });

  it("attributes exactly the metered energy: leases + idle = total, for any samples and holdings", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.float({ min: 0, max: 1000, noNaN: true })), {
          minLength: 2,
          maxLength: 30,
        }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 0, max: 60_000 })), {
          maxLength: 5,
        }),
        (steps, spans) => {
          const m = new EnergyMeter();
          // Non-overlapping holdings on GPU 0, as the scheduler guarantees.
          const sorted = spans
            .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const)
            .sort((x, y) => x[0] - y[0]);
          let free = 0;
          const leases: string[] = [];
          sorted.forEach(([a, b], i) => {
            if (a < free) return;
            m.hold(`L${i}`, [0], a);
            m.release(`L${i}`, b);
            leases.push(`L${i}`);
            free = b;
          });
          let t = 0;
          for (const [dt, p] of steps) {
            m.observe([{ index: 0, t, powerW: p }]);
            t += dt;
          }
          const leased = leases.reduce((s, l) => s + m.leaseWh(l), 0);
          const g = m.gpuWh(0);
          expect(leased + g.idleWh).toBeCloseTo(g.totalWh, 6);
          expect(g.idleWh).toBeGreaterThanOrEqual(-1e-9);
        },
      ),
    );
  });
});
