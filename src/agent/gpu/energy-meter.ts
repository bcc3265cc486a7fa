import type { PowerSample } from "./power.js";

interface Holding {
  leaseId: string;
  from: number;
  to?: number;
}

interface GpuTrack {
  last?: PowerSample;
  holdings: Holding[];
  totalJ: number;
  idleJ: number;
}

/** How an interval's energy was found. */
export type EnergySource = "counter" | "trapezoid";

/**
 * Integrates per-GPU power samples into energy and gives it to the lease holding each GPU.
 * Between two samples of a GPU: the counter delta when both carry the energy counter (and it did not
 * go back, as after a driver reload), else the trapezoid of the two power readings. A lease that holds
 * the GPU for part of the interval gets that share of it; time nobody holds counts as idle.
 * No clock, no I/O: the agent feeds samples and lease changes with their times.
 */
export class EnergyMeter {
  private readonly gpus = new Map<number, GpuTrack>();
  private readonly owed = new Map<string, number>();
  private readonly leaseTotal = new Map<string, number>();
  /** Intervals counted from each source (for the operator: how much is measured by the GPU itself). */
  readonly sourceCount: Record<EnergySource, number> = { counter: 0, trapezoid: 0 };

  private track(index: number): GpuTrack {
    let g = this.gpus.get(index);
    if (!g) this.gpus.set(index, (g = { holdings: [], totalJ: 0, idleJ: 0 }));
    return g;
  }

  /** The lease holds these GPUs from t. */
  hold(leaseId: string, gpuIndices: readonly number[], t: number): void {
    for (const i of gpuIndices) this.track(i).holdings.push({ leaseId, from: t });
    if (!this.owed.has(leaseId)) this.owed.set(leaseId, 0);
  }

  /** The lease lets go of all its GPUs at t. */
  release(leaseId: string, t: number): void {
    for (const g of this.gpus.values())
      for (const h of g.holdings) if (h.leaseId === leaseId && h.to === undefined) h.to = t;
  }

  /** Adds one round of samples (any GPUs, each with its own t). */
  observe(samples: readonly PowerSample[]): void {
    for (const s of samples) {
      const g = this.track(s.index);
      const prev = g.last;
      if (prev && s.t > prev.t) this.account(g, prev, s);
      if (!prev || s.t >= prev.t) g.last = s;
    }
  }

  /** Wh attributed to the lease since the last take (for its next usage record). */
  takeWh(leaseId: string): number {
    const j = this.owed.get(leaseId) ?? 0;
    this.owed.set(leaseId, 0);
    return j / 3600;
  }

  /** Wh attributed to the lease since it first held a GPU. */
  leaseWh(leaseId: string): number {
    return (this.leaseTotal.get(leaseId) ?? 0) / 3600;
  }

  /** Energy per GPU in Wh: everything metered and the part nobody held. */
  gpuWh(index: number): { totalWh: number; idleWh: number } {
    const g = this.gpus.get(index);
    return { totalWh: (g?.totalJ ?? 0) / 3600, idleWh: (g?.idleJ ?? 0) / 3600 };
  }

  /** Forgets a lease once its last usage record went out. */
  forget(leaseId: string): void {
    this.owed.delete(leaseId);
    this.leaseTotal.delete(leaseId);
    for (const g of this.gpus.values()) g.holdings = g.holdings.filter((h) => h.leaseId !== leaseId);
  }

  private account(g: GpuTrack, a: PowerSample, b: PowerSample): void {
    const dtMs = b.t - a.t;
    let joules: number | undefined;
    if (a.energyMj !== undefined && b.energyMj !== undefined && b.energyMj >= a.energyMj) {
      joules = (b.energyMj - a.energyMj) / 1000;
      this.sourceCount.counter++;
    } else {
      const p0 = a.powerW ?? b.powerW;
      const p1 = b.powerW ?? a.powerW;
      if (p0 === undefined || p1 === undefined) return; // nothing measured in this interval
      joules = ((p0 + p1) / 2) * (dtMs / 1000);
      this.sourceCount.trapezoid++;
    }
    g.totalJ += joules;
    let given = 0;
    for (const h of g.holdings) {
      const overlap = Math.min(h.to ?? Infinity, b.t) - Math.max(h.from, a.t);
      if (overlap <= 0) continue;
      const share = joules * (overlap / dtMs);
      given += share;
      this.owed.set(h.leaseId, (this.owed.get(h.leaseId) ?? 0) + share);
      this.leaseTotal.set(h.leaseId, (this.leaseTotal.get(h.leaseId) ?? 0) + share);
    }
    g.idleJ += joules - given;
    // Holdings that ended before this interval's end can no longer get energy.
    g.holdings = g.holdings.filter((h) => h.to === undefined || h.to > b.t);
  }
}
