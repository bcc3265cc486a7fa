import type { EnergyMeter } from "./energy-meter.js";
import type { GpuInfo } from "./nvidia-smi.js";
import { simulatedPowerW } from "./power.js";
import type { PowerSample } from "./power.js";

/** Something that reads every GPU's power once (samplePower bound to its fields, or a simulated source). */
export type PowerSource = () => Promise<PowerSample[] | { error: string }>;

/** Power of simulated GPUs from the documented model; utilisation per GPU index comes from the caller (busy = 1). */
export function simulatedPowerSource(
  gpus: readonly GpuInfo[],
  utilisation: (index: number) => number,
  now: () => number,
): PowerSource {
  return () => {
    const t = now();
    return Promise.resolve(
      gpus.map((g) => ({
        index: g.index,
        t,
        powerW: simulatedPowerW(g.powerLimitW ?? 0, utilisation(g.index)),
      })),
    );
  };
}

/** Feeds an EnergyMeter from a power source every intervalMs; keeps the last error for the health report. */
export class MeterLoop {
  private timer?: NodeJS.Timeout;
  private running = false;
  /** Why the last sample failed (undefined after a good one). */
  lastError?: string;
  /** Samples taken so far. */
  rounds = 0;

  constructor(
    private readonly meter: EnergyMeter,
    private readonly source: PowerSource,
    private readonly intervalMs: number,
  ) {}

  /** Takes one sample now (the loop calls it; tests and shutdown call it directly). */
  async tick(): Promise<void> {
    const r = await this.source();
    if (Array.isArray(r)) {
      this.meter.observe(r);
      this.lastError = undefined;
      this.rounds++;
    } else {
      this.lastError = r.error;
    }
  }

  /** Starts sampling; one sample at a time, never overlapping. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async (): Promise<void> => {
      if (!this.running) return;
      await this.tick();
      if (!this.running) return;
      this.timer = setTimeout(() => void loop(), this.intervalMs);
      this.timer.unref();
    };
    void loop();
  }

  /** Stops sampling. */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }
}
