import type { PowerSample } from "./power.js";

/** Energy of some GPUs over an interval, in integer mWh, and where the figure comes from (the agent's meter shape). */
export interface IntervalEnergy {
  energyMilliWh(
    gpuIndices: number[],
    gpuModel: string,
    fromMs: number,
    toMs: number,
    gpuPowerW?: number,
  ): { energyMilliWh: number; energySource: "measured" | "modelled" };
}

/** Options of SampledEnergy. */
export interface SampledEnergyOptions {
  /** Samples older than this before the newest are dropped (default 6 h). */
  retainMs?: number;
  /** How far the first/last sample's value may be held beyond the sampled range (default 10 s). */
  maxEdgeGapMs?: number;
  /** Answers when the samples do not cover an interval (e.g. the modelled meter). */
  fallback?: IntervalEnergy;
}

/**
 * Measured energy per GPU from a series of power samples, queried by interval: the power curve is
 * piecewise linear between samples (so the integral is the trapezoid rule, clipped to the interval),
 * and where every sample of the stretch carries the GPU's energy counter, the counter interpolated
 * at both ends is used instead. Consecutive intervals add up exactly (before the per-record
 * rounding to whole mWh). An interval the samples do not cover goes to the fallback.
 */
export class SampledEnergy implements IntervalEnergy {
  private readonly series = new Map<number, PowerSample[]>();
  private readonly retainMs: number;
  private readonly gapMs: number;

  constructor(private readonly opts: SampledEnergyOptions = {}) {
    this.retainMs = opts.retainMs ?? 6 * 3600_000;
    this.gapMs = opts.maxEdgeGapMs ?? 10_000;
  }

  /** Adds samples (kept in time order per GPU; older than retainMs dropped). */
  observe(samples: readonly PowerSample[]): void {
    for (const s of samples) {
      let arr = this.series.get(s.index);
      if (!arr) this.series.set(s.index, (arr = []));
      const last = arr.at(-1);
      if (last && s.t <= last.t) continue; // out of order or duplicate: ignore
      arr.push(s);
      const cut = s.t - this.retainMs;
      let drop = 0;
      while (drop < arr.length - 2 && arr[drop + 1]!.t < cut) drop++;
      if (drop > 0) arr.splice(0, drop);
    }
  }

  /** Joules of one GPU over [from, to], or undefined when the samples do not cover it. */
  energyJ(index: number, from: number, to: number): number | undefined {
    if (to <= from) return 0;
    const arr = this.series.get(index);
    if (!arr || arr.length === 0) return undefined;
    const first = arr[0]!;
    const last = arr.at(-1)!;
    if (from < first.t - this.gapMs || to > last.t + this.gapMs) return undefined;
    const counter = this.counterJ(arr, from, to);
    if (counter !== undefined) return counter;
    let joules = 0;
    // Hold the edge values flat outside the sampled range (within the allowed gap).
    if (from < first.t) joules += (power(first) * (Math.min(to, first.t) - from)) / 1000;
    if (to > last.t) joules += (power(last) * (to - Math.max(from, last.t))) / 1000;
    for (let i = 0; i + 1 < arr.length; i++) {
      const a = arr[i]!;
      const b = arr[i + 1]!;
      const lo = Math.max(a.t, from);
      const hi = Math.min(b.t, to);
      if (hi <= lo) continue;
      const at = (t: number): number => power(a) + ((power(b) - power(a)) * (t - a.t)) / (b.t - a.t);
      joules += (((at(lo) + at(hi)) / 2) * (hi - lo)) / 1000;
    }
    return joules;
  }

  /** Energy in whole mWh (rounded once, half up) of the given GPUs; "measured" when sampled, else the fallback. */
  energyMilliWh(
    gpuIndices: number[],
    gpuModel: string,
    fromMs: number,
    toMs: number,
    gpuPowerW?: number,
  ): { energyMilliWh: number; energySource: "measured" | "modelled" } {
    let joules = 0;
    for (const i of gpuIndices) {
      const j = this.energyJ(i, fromMs, toMs);
      if (j === undefined) {
        if (this.opts.fallback)
          return this.opts.fallback.energyMilliWh(gpuIndices, gpuModel, fromMs, toMs, gpuPowerW);
        return { energyMilliWh: 0, energySource: "modelled" };
      }
      joules += j;
    }
    return { energyMilliWh: Math.round(joules / 3.6), energySource: "measured" }; // 1 mWh = 3.6 J
  }

  /** Counter-based joules when every sample spanning [from, to] has a monotone counter, else undefined. */
  private counterJ(arr: readonly PowerSample[], from: number, to: number): number | undefined {
    if (from < arr[0]!.t || to > arr.at(-1)!.t) return undefined; // no extrapolation of a counter
    const at = (t: number): number | undefined => {
      for (let i = 0; i + 1 < arr.length; i++) {
        const a = arr[i]!;
        const b = arr[i + 1]!;
        if (t < a.t || t > b.t) continue;
        if (a.energyMj === undefined || b.energyMj === undefined || b.energyMj < a.energyMj) return undefined;
        return a.energyMj + ((b.energyMj - a.energyMj) * (t - a.t)) / (b.t - a.t);
      }
      return arr.length === 1 ? arr[0]!.energyMj : undefined;
    };
    for (const s of arr) if (s.t >= from && s.t <= to && s.energyMj === undefined) return undefined;
    const e0 = at(from);
    const e1 = at(to);
    if (e0 === undefined || e1 === undefined || e1 < e0) return undefined;
    // Reject a counter that went back anywhere inside the interval (driver reload).
    let prev: number | undefined;
    for (const s of arr) {
      if (s.t < from || s.t > to) continue;
      if (prev !== undefined && s.energyMj! < prev) return undefined;
      prev = s.energyMj;
    }
    return (e1 - e0) / 1000;
  }
}

function power(s: PowerSample): number {
  return s.powerW ?? 0;
}
