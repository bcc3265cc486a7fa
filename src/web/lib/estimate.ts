import { EEA_COUNTRIES, EU_COUNTRIES } from "../../domain/countries.js";
import { costMinor } from "../../domain/money.js";
import type { GpuModelInfo, Offer } from "./types.js";

/** The constraints of a job, as the submit form holds them. */
export interface EstimateRequest {
  gpus: number;
  gpuModels: string[];
  class: "on-demand" | "interruptible";
  minGpuMemoryGb?: number;
  maxPriceMinorPerGpuHour?: number;
  jurisdiction?: "EU" | "EEA";
  countries?: string[];
  maxCarbonGPerKwh?: number;
  runtimeEstimateS?: number;
}

/** One offer that fits, with its price for this job's class. */
export interface PricedOffer extends Offer {
  priceMinorPerGpuHour: number;
}

/** The price estimate shown before submitting. */
export interface Estimate {
  /** Offers that satisfy every constraint, cheapest first. */
  eligible: PricedOffer[];
  /** The cheapest eligible offer, whether or not it has enough free GPUs now. */
  cheapest: PricedOffer | null;
  /** The cheapest eligible offer with enough free GPUs now. */
  cheapestNow: PricedOffer | null;
  /** Cheapest eligible price × GPUs, minor units per hour. */
  perHourMinor: number | null;
  /** For the runtime estimate: GPU-seconds × price, by the billing rounding rule. */
  totalMinor: number | null;
  /** Why offers were left out, e.g. "2 outside the EU". */
  excluded: string[];
}

/** Estimates a job's price from the capacity view: the cheapest eligible offer × GPUs, per hour. */
export function estimate(offers: Offer[], r: EstimateRequest, catalogue: GpuModelInfo[]): Estimate {
  const memory = new Map(catalogue.map((m) => [m.id, m.memoryGb]));
  const wanted = new Set(r.gpuModels.map((m) => m.toUpperCase()));
  const counts = new Map<string, number>();
  const out = (why: string): false => {
    counts.set(why, (counts.get(why) ?? 0) + 1);
    return false;
  };
  const eligible: PricedOffer[] = [];
  for (const o of offers) {
    const price = r.class === "interruptible" ? o.interruptibleMinorPerGpuHour : o.onDemandMinorPerGpuHour;
    const ok =
      (wanted.has(o.gpuModel.toUpperCase()) || out("of another GPU model")) &&
      (r.minGpuMemoryGb === undefined ||
        (memory.get(o.gpuModel) ?? 0) >= r.minGpuMemoryGb ||
        out("with too little GPU memory")) &&
      (o.totalGpus >= r.gpus || out("too small for this many GPUs")) &&
      (r.maxPriceMinorPerGpuHour === undefined ||
        price <= r.maxPriceMinorPerGpuHour ||
        out("above your maximum price")) &&
      (r.jurisdiction !== "EU" || EU_COUNTRIES.has(o.country) || out("outside the EU")) &&
      (r.jurisdiction !== "EEA" || EEA_COUNTRIES.has(o.country) || out("outside the EEA")) &&
      (!r.countries?.length ||
        r.countries.map((c) => c.toUpperCase()).includes(o.country) ||
        out("in other countries")) &&
      (r.maxCarbonGPerKwh === undefined ||
        (o.carbonGPerKwh !== null && o.carbonGPerKwh <= r.maxCarbonGPerKwh) ||
        out("above your carbon limit"));
    if (ok) eligible.push({ ...o, priceMinorPerGpuHour: price });
  }
  eligible.sort((a, b) => a.priceMinorPerGpuHour - b.priceMinorPerGpuHour || b.freeGpus - a.freeGpus);
  const cheapest = eligible[0] ?? null;
  const cheapestNow = eligible.find((o) => o.freeGpus >= r.gpus) ?? null;
  const gpus = Number.isInteger(r.gpus) && r.gpus > 0 ? r.gpus : 0;
  const perHourMinor = cheapest && gpus ? cheapest.priceMinorPerGpuHour * gpus : null;
  const totalMinor =
    cheapest && gpus && r.runtimeEstimateS
      ? costMinor(gpus * Math.ceil(r.runtimeEstimateS), cheapest.priceMinorPerGpuHour)
      : null;
  const excluded = [...counts.entries()].map(([why, n]) => `${n} ${n === 1 ? "offer" : "offers"} ${why}`);
  return { eligible, cheapest, cheapestNow, perHourMinor, totalMinor, excluded };
}
