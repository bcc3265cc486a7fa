/**
 * Deferral of flexible jobs (interruptible, with a deadline) into cleaner or cheaper hours, and
 * the CO2e bound no scheduling policy can beat (docs/energy.md, "Deferral").
 *
 * The window integral of a step series, f(s) = integral of c over [s, s + d), is piecewise linear in
 * the start s, with breakpoints where s or s + d crosses a step boundary; its minimum over
 * [earliest, latest] is therefore at one of those breakpoints or at an end. We evaluate exactly
 * those candidates with O(1) prefix-integral lookups.
 */
import { invalid } from "../domain/errors.js";
import type { Minor } from "../domain/money.js";
import { energyCostMinor } from "./job-energy.js";
import { assertSeries, stepIndex, type HourlySeries } from "./series.js";

/** A job whose start may move. */
export interface FlexibleJob {
  /** The earliest start (now, or its submission). */
  earliestStartMs: number;
  /** It must end by this instant. */
  deadlineMs: number;
  /** Known or estimated run time. */
  durationMs: number;
  /** Facility energy of the whole run, kWh (power assumed constant); enables kg and cost figures. */
  energyKwh?: number;
}

/** What to minimise: carbon, price, or a weighted mix of both (each normalised by its window mean). */
export type DeferralObjective = "carbon" | "price" | { carbonWeight: number; priceWeight: number };

/** Inputs of chooseStart besides the job. */
export interface DeferralOptions {
  carbon?: HourlySeries;
  price?: HourlySeries;
  objective: DeferralObjective;
  /** Safety margin kept before the deadline (e.g. for an underestimated duration); default 0. */
  marginMs?: number;
  /** Never defer by more than this; default unbounded (the deadline decides). */
  maxDeferralMs?: number;
}

/** The chosen start, and how it compares with starting at once. */
export interface DeferralChoice {
  startMs: number;
  endMs: number;
  deferredMs: number;
  /** False when even starting at once misses the deadline (the job then starts at once). */
  feasible: boolean;
  /** Mean grid intensity over the run, gCO2e/kWh, and the same if started at once. */
  carbonGPerKwh: number | null;
  nowCarbonGPerKwh: number | null;
  /** Mean price over the run, EUR/MWh, and the same if started at once. */
  priceEurPerMwh: number | null;
  nowPriceEurPerMwh: number | null;
  /** With energyKwh: CO2e of the run and energy cost (rounded half up once), chosen and now. */
  co2eKg: number | null;
  nowCo2eKg: number | null;
  costMinor: Minor | null;
  nowCostMinor: Minor | null;
  reason: string;
}

/** Prefix integral of a series from fromMs, in value x ms, valid for t in [fromMs, toMs]. */
export function prefixIntegral(series: HourlySeries, fromMs: number, toMs: number): (t: number) => number {
  assertSeries(series);
  const { startMs, stepMs } = series;
  const k0 = Math.floor((fromMs - startMs) / stepMs);
  const n = Math.floor((toMs - startMs) / stepMs) - k0 + 2;
  const cum = new Float64Array(n + 1);
  const val = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const g = startMs + (k0 + k) * stepMs;
    val[k] = series.values[stepIndex(series, g)]!;
    const a = Math.max(g, fromMs);
    cum[k + 1] = cum[k]! + val[k]! * (g + stepMs - a);
  }
  return (t: number): number => {
    if (t < fromMs || t > toMs) throw invalid(`prefixIntegral: ${t} is outside [${fromMs}, ${toMs}]`);
    const k = Math.floor((t - startMs) / stepMs) - k0;
    const a = Math.max(startMs + (k0 + k) * stepMs, fromMs);
    return cum[k]! + val[k]! * (t - a);
  };
}

function validateJob(job: FlexibleJob): void {
  if (!Number.isFinite(job.earliestStartMs))
    throw invalid(`earliestStartMs must be epoch ms`, { field: "earliestStartMs" });
  if (!Number.isFinite(job.deadlineMs)) throw invalid(`deadlineMs must be epoch ms`, { field: "deadlineMs" });
  if (!(job.durationMs > 0))
    throw invalid(`durationMs must be > 0, got ${job.durationMs}`, { field: "durationMs" });
  if (job.energyKwh !== undefined && !(job.energyKwh >= 0))
    throw invalid(`energyKwh must be >= 0, got ${job.energyKwh}`, { field: "energyKwh" });
}

/** Step boundaries of a series strictly inside (a, b). */
function boundaries(series: HourlySeries, a: number, b: number): number[] {
  const out: number[] = [];
  const { startMs, stepMs } = series;
  for (let g = startMs + (Math.floor((a - startMs) / stepMs) + 1) * stepMs; g < b; g += stepMs) out.push(g);
  return out;
}

/** Chooses the start in [earliest, deadline - duration - margin] minimising the objective; ties go to the earliest. */
export function chooseStart(job: FlexibleJob, options: DeferralOptions): DeferralChoice {
  validateJob(job);
  const { carbon, price, objective } = options;
  const wC = objective === "carbon" ? 1 : objective === "price" ? 0 : objective.carbonWeight;
  const wP = objective === "price" ? 1 : objective === "carbon" ? 0 : objective.priceWeight;
  if (!(wC >= 0) || !(wP >= 0)) throw invalid(`objective weights must be >= 0`, { field: "objective" });
  if (wC > 0 && !carbon)
    throw invalid(`the objective uses carbon but no carbon series was given`, { field: "carbon" });
  if (wP > 0 && !price)
    throw invalid(`the objective uses price but no price series was given`, { field: "price" });
  const d = job.durationMs;
  const e = job.earliestStartMs;
  let latest = job.deadlineMs - d - (options.marginMs ?? 0);
  if (options.maxDeferralMs !== undefined) latest = Math.min(latest, e + options.maxDeferralMs);
  const feasible = e + d <= job.deadlineMs;
  if (latest < e) latest = e;
  const end = latest + d;
  const Fc = carbon ? prefixIntegral(carbon, e, end) : null;
  const Fp = price ? prefixIntegral(price, e, end) : null;
  // Normalise each term by its window mean (absolute, for prices that may be negative).
  const norm = (F: ((t: number) => number) | null, s: HourlySeries | undefined): number => {
    if (!F || !s) return 0;
    const m = Math.abs(F(end)) / (end - e);
    return m > 0 ? m : 0;
  };
  const nC = wC > 0 && wP > 0 ? norm(Fc, carbon) : 1;
  const nP = wC > 0 && wP > 0 ? norm(Fp, price) : 1;
  const score = (s: number): number =>
    (wC > 0 && Fc && nC > 0 ? (wC * (Fc(s + d) - Fc(s))) / nC : 0) +
    (wP > 0 && Fp && nP > 0 ? (wP * (Fp(s + d) - Fp(s))) / nP : 0);

  // Candidates: the ends, and every start where s or s + d meets a step boundary.
  const cand = new Set<number>([e, latest]);
  for (const s of [carbon, price])
    if (s) {
      for (const g of boundaries(s, e, latest)) cand.add(g);
      for (const g of boundaries(s, e + d, end)) cand.add(g - d);
    }
  const sorted = [...cand].sort((a, b) => a - b);
  let best = e;
  let bestScore = score(e);
  for (const s of sorted) {
    const v = score(s);
    if (v < bestScore - 1e-9 * Math.max(1, Math.abs(bestScore))) {
      best = s;
      bestScore = v;
    }
  }
  const meanOf = (F: ((t: number) => number) | null, s: number): number | null =>
    F ? (F(s + d) - F(s)) / d : null;
  const c = meanOf(Fc, best);
  const c0 = meanOf(Fc, e);
  const p = meanOf(Fp, best);
  const p0 = meanOf(Fp, e);
  const kwh = job.energyKwh;
  const kg = (m: number | null): number | null => (m === null || kwh === undefined ? null : (kwh * m) / 1000);
  const cost = (m: number | null): Minor | null =>
    m === null || kwh === undefined ? null : energyCostMinor(kwh, m);
  const reason = !feasible
    ? `the deadline cannot be met even starting at once (${(e + d - job.deadlineMs) / 1000} s late): start at once`
    : best === e
      ? `no later start within the window is better: start at once`
      : `starting ${(best - e) / 1000} s later lowers the ${objective === "carbon" ? "carbon" : objective === "price" ? "price" : "weighted score"} and still ends ${(job.deadlineMs - best - d) / 1000} s before the deadline`;
  return {
    startMs: best,
    endMs: best + d,
    deferredMs: best - e,
    feasible,
    carbonGPerKwh: c,
    nowCarbonGPerKwh: c0,
    priceEurPerMwh: p,
    nowPriceEurPerMwh: p0,
    co2eKg: kg(c),
    nowCo2eKg: kg(c0),
    costMinor: cost(p),
    nowCostMinor: cost(p0),
    reason,
  };
}

/** How the bound may place the run: one contiguous block, or any set of instants (suspend and resume). */
export type BoundMode = "contiguous" | "split";

/**
 * CO2e (kg) of a job if it ran in the cleanest time its window [earliest, deadline) allows, capacity
 * ignored. "contiguous": the best single start (the limit for policies that only choose start
 * times); "split": the cleanest durationMs of the window in any pieces (the limit for any policy).
 * A job whose window is shorter than its duration is counted as starting at once.
 */
export function co2eBound(
  job: FlexibleJob & { energyKwh: number },
  carbon: HourlySeries,
  mode: BoundMode = "contiguous",
): number {
  validateJob(job);
  const d = job.durationMs;
  const e = job.earliestStartMs;
  if (mode === "contiguous" || e + d >= job.deadlineMs)
    return chooseStart(job, { carbon, objective: "carbon" }).co2eKg!;
  // Split: take the cleanest pieces of the window until d is covered.
  const pieces: { v: number; len: number }[] = [];
  let t = e;
  while (t < job.deadlineMs) {
    const g = carbon.startMs + (Math.floor((t - carbon.startMs) / carbon.stepMs) + 1) * carbon.stepMs;
    const b = Math.min(g, job.deadlineMs);
    pieces.push({ v: carbon.values[stepIndex(carbon, t)]!, len: b - t });
    t = b;
  }
  pieces.sort((a, b) => a.v - b.v);
  let left = d;
  let integral = 0;
  for (const p of pieces) {
    if (left <= 0) break;
    const take = Math.min(left, p.len);
    integral += p.v * take;
    left -= take;
  }
  return (job.energyKwh * (integral / d)) / 1000;
}

/** The mean intensity (gCO2e/kWh) a run of durationMs would see starting at startMs. */
export function runMean(series: HourlySeries, startMs: number, durationMs: number): number {
  const F = prefixIntegral(series, startMs, startMs + durationMs);
  return durationMs > 0 ? F(startMs + durationMs) / durationMs : series.values[stepIndex(series, startMs)]!;
}
