import { findGpuModel, modelPowerW, type GpuModelLookup, type Price, type Site } from "../domain/index.js";
import { valueAt, type HourlySeries } from "../energy/index.js";

export { modelPowerW };

/** Margin over the energy cost that interruptible capacity must earn (25%). */
export const SPOT_MARGIN = 1.25;

/**
 * Energy cost of one GPU-hour at a site, in minor units (cents): GPU power (kW) x PUE x the
 * energy price (EUR/MWh) / 1000, x 100. An H100 (700 W) at PUE 1.2 and 100 EUR/MWh costs 8.4 cents.
 */
export function energyMinorPerGpuHour(gpuPowerW: number, pue: number, eurPerMwh: number): number {
  return (gpuPowerW * pue * eurPerMwh) / 10_000;
}

/**
 * The interruptible price follows the power price: the operator's floor, or the energy cost of the
 * hour plus the margin when that is higher (rounded up to the cent). On-demand prices never move.
 */
export function spotPriceMinor(
  floorMinor: number,
  gpuPowerW: number,
  pue: number,
  eurPerMwh: number,
): number {
  return Math.max(floorMinor, Math.ceil(energyMinorPerGpuHour(gpuPowerW, pue, eurPerMwh) * SPOT_MARGIN));
}

/** The site's energy price now, EUR/MWh, when it has a price series. */
export function priceNow(series: HourlySeries | undefined, now: number): number | undefined {
  return series ? valueAt(series, now) : undefined;
}

/**
 * The interruptible price a new lease of this offer pays now: the spot price when the site has a
 * power-price series, else the operator's stored price. The scheduler and /v1/capacity both use it.
 */
export function interruptiblePriceNow(
  price: Pick<Price, "gpuModel" | "interruptibleMinorPerGpuHour">,
  site: Pick<Site, "pue"> | undefined,
  powerPrice: HourlySeries | undefined,
  now: number,
  lookup: GpuModelLookup = findGpuModel,
): number {
  const eur = priceNow(powerPrice, now);
  return site && eur !== undefined
    ? spotPriceMinor(price.interruptibleMinorPerGpuHour, modelPowerW(price.gpuModel, lookup), site.pue, eur)
    : price.interruptibleMinorPerGpuHour;
}
