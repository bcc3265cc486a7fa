import { modelPowerW } from "../domain/index.js";

/** Energy of a lease's GPUs over an interval, in integer milliwatt-hours, and where the figure comes from. */
export interface EnergyMeter {
  energyMilliWh(
    gpuIndices: number[],
    gpuModel: string,
    fromMs: number,
    toMs: number,
    gpuPowerW?: number,
  ): { energyMilliWh: number; energySource: "measured" | "modelled" };
}

/**
 * The documented power model for simulated GPUs: a GPU held by a lease draws a constant share
 * (default 80%) of its power: the per-GPU watts the control plane sent with the assignment (the one
 * power rule, src/domain/power.ts, over the catalogue with approved models), else the built-in
 * catalogue TDP, else 700 W. Energy (mWh) = GPUs x W x share x ms / 3,600, rounded to the nearest
 * mWh once per record. Real GPUs use measured samples instead.
 */
export class ModelledEnergyMeter implements EnergyMeter {
  constructor(private readonly busyShare = 0.8) {}
  energyMilliWh(
    gpuIndices: number[],
    gpuModel: string,
    fromMs: number,
    toMs: number,
    gpuPowerW?: number,
  ): { energyMilliWh: number; energySource: "modelled" } {
    const tdp = gpuPowerW !== undefined && gpuPowerW > 0 ? gpuPowerW : modelPowerW(gpuModel);
    const mwh = (gpuIndices.length * tdp * this.busyShare * (toMs - fromMs)) / 3600;
    return { energyMilliWh: Math.round(mwh), energySource: "modelled" };
  }
}
