/**
 * GPU cloud: own the GPUs and sell GPU-hours. Capex (GPUs, servers, network, retrofit), opex
 * (power at the utilisation, staff, maintenance, platform fees), straight-line depreciation.
 */
import { findPlannerGpu } from "./catalogue.js";
import { DAYS_PER_MONTH } from "./calendar.js";
import { emptyFlows, netFlows, npv } from "./flows.js";
import type { Flows } from "./flows.js";
import type { Levers } from "./mining.js";
import type { Scenario } from "./schema.js";

/** GPU-cloud inputs resolved against the catalogue. */
export interface GpuSetup {
  readonly gpu: string;
  readonly itWattsPerGpu: number;
  readonly pue: number;
  readonly priceUsdPerGpuHour: number;
  readonly capexUsdPerGpu: number;
}

/** Resolves the gpuCloud section (which must exist) with catalogue defaults. */
export function gpuSetup(s: Scenario): GpuSetup {
  const c = s.gpuCloud!;
  const g = findPlannerGpu(c.gpu)!;
  return {
    gpu: g.id,
    itWattsPerGpu: c.itWattsPerGpu ?? g.itWattsPerGpu,
    pue: c.pue ?? s.site!.pue,
    priceUsdPerGpuHour: c.priceUsdPerGpuHour ?? g.priceUsdPerGpuHour,
    capexUsdPerGpu: (c.gpuUsd ?? g.gpuUsd) + (c.serverUsdPerGpu ?? g.serverUsdPerGpu) + c.networkUsdPerGpu,
  };
}

/** GPUs that fit `itMw` of IT power (capped by the scenario's gpus when given). */
export function gpusFor(s: Scenario, g: GpuSetup, itMw: number): number {
  const max = Math.floor((itMw * 1e6) / g.itWattsPerGpu + 1e-9);
  return Math.max(0, Math.min(s.gpuCloud!.gpus ?? max, max));
}

/** Overrides for the break-even searches. */
export interface GpuOverrides {
  price?: number;
  utilisation?: number;
}

/** Monthly GPU-cloud cash flows for `gpus` GPUs. */
export function gpuCloudFlows(
  s: Scenario,
  g: GpuSetup,
  gpus: number,
  lv: Levers,
  o: GpuOverrides = {},
): Flows {
  const c = s.gpuCloud!;
  const months = s.horizonYears * 12;
  const f = emptyFlows(months);
  if (gpus <= 0) return f;
  const itMw = (gpus * g.itWattsPerGpu) / 1e6;
  const itCapex = gpus * g.capexUsdPerGpu * lv.capexFactor;
  const retrofit = c.retrofitUsdPerMwIt * itMw * lv.capexFactor;
  const util = Math.min(1, Math.max(0, o.utilisation ?? c.utilisation + lv.utilisationDelta));
  const price0 = (o.price ?? g.priceUsdPerGpuHour) * lv.gpuPriceFactor;
  const usdPerKwh = (s.site!.electricityUsdPerMwh / 1000) * lv.electricityFactor;
  const hours = DAYS_PER_MONTH * 24;
  const facilityKw =
    ((gpus * g.itWattsPerGpu) / 1000) * (c.idlePowerShare + (1 - c.idlePowerShare) * util) * g.pue;
  f.capex[0] = itCapex + retrofit;
  const monthlyChange = (1 + c.priceChangePerYear) ** (1 / 12);
  let price = price0 * (1 + c.priceChangePerYear) ** (0.5 / 12);
  for (let k = 0; k < months; k++) {
    if (k > 0) price *= monthlyChange;
    if (k >= c.buildMonths) {
      const revenue = gpus * hours * util * price;
      f.revenue[k + 1] = revenue;
      f.power[k + 1] = facilityKw * hours * usdPerKwh;
      f.opex[k + 1] =
        (c.staffUsdPerMwItYear * itMw) / 12 +
        (c.maintenanceShareOfItCapexPerYear * itCapex) / 12 +
        c.platformFeeShare * revenue;
    }
    const dIt = k < c.depreciationYears * 12 ? itCapex / (c.depreciationYears * 12) : 0;
    const dRe = k < c.retrofitDepreciationYears * 12 ? retrofit / (c.retrofitDepreciationYears * 12) : 0;
    f.depreciation[k + 1] = dIt + dRe;
  }
  f.residual[months] =
    itCapex * Math.max(0, 1 - s.horizonYears / c.depreciationYears) +
    retrofit * Math.max(0, 1 - s.horizonYears / c.retrofitDepreciationYears);
  return f;
}

/** Bisection for the x in [lo, hi] where an increasing f crosses zero; null when it does not. */
export function solveIncreasing(fn: (x: number) => number, lo: number, hi: number): number | null {
  let a = lo;
  let b = hi;
  const fa = fn(a);
  if (fa >= 0) return a;
  if (fn(b) < 0) return null;
  for (let i = 0; i < 100; i++) {
    const mid = (a + b) / 2;
    if (fn(mid) < 0) a = mid;
    else b = mid;
  }
  return (a + b) / 2;
}

/** Utilisation at which the GPU cloud's NPV is zero (price as given); null if even 100% loses money. */
export function breakevenUtilisation(s: Scenario, g: GpuSetup, gpus: number, lv: Levers): number | null {
  return solveIncreasing(
    (u) => npv(netFlows(gpuCloudFlows(s, g, gpus, lv, { utilisation: u })), s.discountRate),
    0,
    1,
  );
}

/** Starting GPU-hour price at which the GPU cloud's NPV is zero (utilisation as given). */
export function breakevenGpuHourPrice(s: Scenario, g: GpuSetup, gpus: number, lv: Levers): number | null {
  return solveIncreasing(
    (p) => npv(netFlows(gpuCloudFlows(s, g, gpus, lv, { price: p })), s.discountRate),
    0,
    1000,
  );
}
