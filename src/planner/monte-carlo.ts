/**
 * Seeded Monte Carlo over the uncertain inputs: BTC price path (geometric Brownian motion), network
 * growth, power price level, GPU-hour price level, utilisation, capex. Same seed, same numbers.
 */
import { seededRng } from "../domain/clock.js";
import type { Rng } from "../domain/clock.js";
import { configNpv } from "./evaluate.js";
import type { Config, Context } from "./evaluate.js";
import type { Levers, MarketPath } from "./mining.js";

/** Standard normal draw (Box-Muller, one value per call). */
export function normal(rng: Rng): number {
  const u1 = 1 - rng.next();
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** One random draw of the market and the levers. */
export interface Draw {
  readonly path: MarketPath;
  readonly lv: Levers;
}

/** Draws one scenario variant; consumes the same number of random values whatever the scenario. */
export function draw(ctx: Context, rng: Rng): Draw {
  const { s } = ctx;
  const mc = s.monteCarlo;
  const months = s.horizonYears * 12;
  const g = s.mining?.btcPriceGrowthPerYear ?? 0;
  const n = s.mining?.networkGrowthPerYear ?? 0;
  const sigma = mc.btcVolatility;
  const drift = Math.log(1 + g) - (sigma * sigma) / 2;
  const netGrowth = Math.max(-0.9, n + mc.networkGrowthSd * normal(rng));
  const lv: Levers = {
    electricityFactor: Math.exp(mc.electricitySd * normal(rng)),
    gpuPriceFactor: Math.exp(mc.gpuPriceSd * normal(rng)),
    utilisationDelta: mc.utilisationSd * normal(rng),
    capexFactor: Math.exp(mc.capexSd * normal(rng)),
    hostingFactor: 1,
  };
  const btcFactor: number[] = [];
  const netFactor: number[] = [];
  let w = 0;
  let tPrev = 0;
  for (let k = 0; k < months; k++) {
    const t = (k + 0.5) / 12;
    w += Math.sqrt(t - tPrev) * normal(rng);
    tPrev = t;
    btcFactor.push(Math.exp(drift * t + sigma * w));
    netFactor.push((1 + netGrowth) ** t);
  }
  return { path: { btcFactor, netFactor }, lv };
}

/** Percentiles and shape of a distribution of NPVs. */
export interface Distribution {
  readonly p5: number;
  readonly p10: number;
  readonly p25: number;
  readonly p50: number;
  readonly p75: number;
  readonly p90: number;
  readonly p95: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Share of draws with NPV < 0. */
  readonly probLoss: number;
}

/** Percentile by linear interpolation between order statistics (type 7, as in R and NumPy). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Summary of a sample. */
export function distribution(values: readonly number[]): Distribution {
  const v = [...values].sort((a, b) => a - b);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return {
    p5: percentile(v, 0.05),
    p10: percentile(v, 0.1),
    p25: percentile(v, 0.25),
    p50: percentile(v, 0.5),
    p75: percentile(v, 0.75),
    p90: percentile(v, 0.9),
    p95: percentile(v, 0.95),
    mean,
    min: v[0]!,
    max: v[v.length - 1]!,
    probLoss: v.filter((x) => x < 0).length / v.length,
  };
}

/** NPV samples of several configurations under the same draws. */
export function simulate(
  ctx: Context,
  configs: Readonly<Record<string, Config>>,
  seed: number,
  runs: number,
): Record<string, number[]> {
  const rng = seededRng(seed);
  const out: Record<string, number[]> = {};
  for (const k of Object.keys(configs)) out[k] = [];
  for (let i = 0; i < runs; i++) {
    const d = draw(ctx, rng);
    for (const [k, cfg] of Object.entries(configs)) out[k]!.push(configNpv(ctx, cfg, d.path, d.lv));
  }
  return out;
}

/** Histogram of a sample: `bins` equal-width bins from its 1st to its 99th percentile; the edge bins also hold the tails. */
export function histogram(
  values: readonly number[],
  bins: number,
): { fromUsd: number; toUsd: number; count: number }[] {
  const sorted = [...values].sort((a, b) => a - b);
  let min = percentile(sorted, 0.01);
  let max = percentile(sorted, 0.99);
  if (!(max > min)) {
    min = sorted[0]!;
    max = sorted[sorted.length - 1]!;
  }
  const width = max > min ? (max - min) / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of sorted) counts[Math.max(0, Math.min(bins - 1, Math.floor((v - min) / width)))]! += 1;
  return counts.map((count, i) => ({ fromUsd: min + i * width, toUsd: min + (i + 1) * width, count }));
}
