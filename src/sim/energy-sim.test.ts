import { describe, expect, it } from "vitest";
import type { HourlySeries } from "../energy/index.js";
import { CyclicIntegral, EnergyMeter, flexibleMask, parseCurtail } from "./energy-sim.js";
import { uniformFleet } from "./fleet.js";
import { runSimulation } from "./run.js";
import type { TraceJob } from "./trace.js";

const hourly = (values: number[]): HourlySeries => ({
  startMs: Date.UTC(2024, 0, 1),
  stepMs: 3_600_000,
  values,
});
/** A day: dirty nights (400 g/kWh), clean middays (100 g/kWh). */
const DAY = hourly(Array.from({ length: 24 }, (_, h) => (h >= 10 && h < 16 ? 100 : 400)));

describe("energy in the simulator", () => {
  it("parses --curtail and refuses bad ones with the format", () => {
    expect(parseCurtail("3600:7200:200")).toEqual({ startS: 3600, endS: 7200, maxKw: 200, siteIdx: 0 });
    expect(parseCurtail("0:10:0:1")).toEqual({ startS: 0, endS: 10, maxKw: 0, siteIdx: 1 });
    expect(() => parseCurtail("3600-7200")).toThrow(/START_S:END_S:MAX_KW/);
    expect(() => parseCurtail("7200:3600:5")).toThrow(/END_S must be after START_S/);
    expect(() => parseCurtail("0:10:-1")).toThrow(/MAX_KW must be >= 0/);
  });

  it("draws flexible jobs deterministically from the seed", () => {
    const a = flexibleMask(10_000, 0.5, 7);
    expect(a).toEqual(flexibleMask(10_000, 0.5, 7));
    const share = a.reduce((s, x) => s + x, 0) / a.length;
    expect(share).toBeGreaterThan(0.48);
    expect(share).toBeLessThan(0.52);
    expect(() => flexibleMask(1, 1.5, 1)).toThrow(/between 0 and 1/);
  });

  it("integrates a series cyclically (trace second 0 = its first hour)", () => {
    const I = new CyclicIntegral(hourly([10, 20]));
    expect(I.over(0, 3600)).toBeCloseTo(10);
    expect(I.over(1800, 5400)).toBeCloseTo(15);
    expect(I.over(7200, 10800)).toBeCloseTo(10); // repeats from its start
  });

  it("meters kWh, kg CO2e and cost (rounded once, half up)", () => {
    const m = new EnergyMeter(1, hourly([250]), hourly([100]));
    m.change(0, 0, 840_000); // 840 W
    m.change(3600, 0, 0);
    expect(m.energyKwh).toBeCloseTo(0.84);
    expect(m.co2eG).toBeCloseTo(210);
    expect(m.costMinor()).toBe(8); // 0.084 EUR -> 8.4 cents -> 8
  });

  const trace: TraceJob[] = Array.from({ length: 60 }, (_, k) => ({
    id: `j${k}`,
    submitS: k * 1800,
    durationS: 1200 + (k % 5) * 600,
    gpus: 1 + (k % 2),
    tenant: `t${k % 3}`,
  }));

  it("zumbido-carbon moves flexible work into clean hours, misses no deadline, and stays above the bound", () => {
    const [blind, aware] = runSimulation({
      trace,
      fleet: uniformFleet(16),
      policies: ["zumbido", "zumbido-carbon"],
      energy: { carbon: DAY, price: null },
      flexibleShare: 0.5,
      seed: 3,
    });
    for (const o of [blind!, aware!]) {
      expect(o.result.violations).toBe(0);
      expect(o.result.deadlinesMissed).toBe(0);
      expect(o.result.co2eKg as number).toBeGreaterThanOrEqual((o.result.co2eBoundKg as number) - 1e-6);
    }
    expect(aware!.result.co2eKg as number).toBeLessThan(blind!.result.co2eKg as number);
    const closed =
      ((blind!.result.co2eKg as number) - (aware!.result.co2eKg as number)) /
      ((blind!.result.co2eKg as number) - (aware!.result.co2eBoundKg as number));
    expect(closed).toBeGreaterThan(0.6);
    expect(aware!.result.energyKwh as number).toBeGreaterThan(0);
  });

  it("a curtailment is met by its start, interruptible work first", () => {
    const long: TraceJob[] = Array.from({ length: 12 }, (_, k) => ({
      id: `l${k}`,
      submitS: 0,
      durationS: 50_000,
      gpus: 1,
      tenant: "t",
      class: k < 8 ? ("interruptible" as const) : ("on-demand" as const),
    }));
    // 12 busy GPUs × 840 W = 10.08 kW; a 5 kW cap needs 7 GPUs stopped: the 8 interruptible suffice.
    const [o] = runSimulation({
      trace: long,
      fleet: uniformFleet(16),
      policies: ["fifo"],
      curtail: [{ startS: 3600, endS: 7200, maxKw: 5, siteIdx: 0 }],
    });
    const c = (
      o!.result.curtailments as {
        metAtS: number;
        startS: number;
        kwAtStart: number;
        maxKw: number;
        stoppedOnDemand: number;
        stoppedInterruptible: number;
        kwBefore: number;
      }[]
    )[0]!;
    expect(c.kwBefore).toBeCloseTo(10.08);
    expect(c.metAtS).toBeLessThanOrEqual(c.startS);
    expect(c.kwAtStart).toBeLessThanOrEqual(c.maxKw);
    expect(c.stoppedInterruptible).toBe(7);
    expect(c.stoppedOnDemand).toBe(0);
    expect(o!.result.violations).toBe(0);
  });

  it("stops on-demand work only when interruptible work cannot meet the cap", () => {
    const jobs: TraceJob[] = Array.from({ length: 6 }, (_, k) => ({
      id: `j${k}`,
      submitS: 0,
      durationS: 50_000,
      gpus: 1,
      tenant: "t",
      class: k < 2 ? ("interruptible" as const) : ("on-demand" as const),
    }));
    const [o] = runSimulation({
      trace: jobs,
      fleet: uniformFleet(8),
      policies: ["fifo"],
      curtail: [{ startS: 100, endS: 200, maxKw: 1, siteIdx: 0 }],
    });
    const c = (
      o!.result.curtailments as { stoppedOnDemand: number; stoppedInterruptible: number; kwAtStart: number }[]
    )[0]!;
    expect(c.stoppedInterruptible).toBe(2);
    expect(c.stoppedOnDemand).toBe(3);
    expect(c.kwAtStart).toBeLessThanOrEqual(1);
    expect(o!.result.violations).toBe(0);
  });
});
