import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/index.js";
import { EnergyMeter } from "./energy-meter.js";
import { MeterLoop, simulatedPowerSource } from "./meter-loop.js";
import { simulatedGpus } from "./nvidia-smi.js";

describe("MeterLoop with simulated GPUs", () => {
  it("meters a busy H100 at 700 W and an idle one at 70 W for the lease holding each", async () => {
    const clock = new ManualClock(0);
    const gpus = simulatedGpus("H100x2");
    const meter = new EnergyMeter();
    const loop = new MeterLoop(
      meter,
      simulatedPowerSource(
        gpus,
        (i) => (i === 0 ? 1 : 0),
        () => clock.now(),
      ),
      1000,
    );
    meter.hold("busy", [0], 0);
    meter.hold("idle", [1], 0);
    for (let s = 0; s <= 3600; s += 60) {
      clock.set(s * 1000);
      await loop.tick();
    }
    expect(loop.rounds).toBe(61);
    expect(meter.takeWh("busy")).toBeCloseTo(700, 9);
    expect(meter.takeWh("idle")).toBeCloseTo(70, 9);
  });

  it("keeps the source's error for the health report and clears it after a good sample", async () => {
    let fail = true;
    const meter = new EnergyMeter();
    const loop = new MeterLoop(
      meter,
      () => Promise.resolve(fail ? { error: "nvidia-smi did not answer" } : [{ index: 0, t: 1, powerW: 1 }]),
      1000,
    );
    await loop.tick();
    expect(loop.lastError).toBe("nvidia-smi did not answer");
    fail = false;
    await loop.tick();
    expect(loop.lastError).toBeUndefined();
    expect(loop.rounds).toBe(1);
  });
});
