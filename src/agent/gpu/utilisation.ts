import type { PowerSample } from "./power.js";

/** Where the agent reads how busy a lease's GPUs were (instances' --idle-stop). */
export interface GpuUtilisation {
  /** The highest utilisation (percent, 0..100) of these GPUs since the last take; undefined when not measured. */
  takeMaxPct(gpuIndices: readonly number[]): number | undefined;
}

/** Keeps each GPU's highest utilisation since it was last taken, from power samples that carry it. */
export class UtilisationTracker implements GpuUtilisation {
  private readonly peak = new Map<number, number>();

  /** Adds samples; those without utilisation are ignored. */
  observe(samples: readonly PowerSample[]): void {
    for (const s of samples) {
      if (s.utilPct === undefined || !Number.isFinite(s.utilPct)) continue;
      const u = Math.min(100, Math.max(0, Math.round(s.utilPct)));
      this.peak.set(s.index, Math.max(this.peak.get(s.index) ?? 0, u));
    }
  }

  takeMaxPct(gpuIndices: readonly number[]): number | undefined {
    let max: number | undefined;
    for (const i of gpuIndices) {
      const u = this.peak.get(i);
      if (u === undefined) continue;
      max = Math.max(max ?? 0, u);
      this.peak.delete(i);
    }
    return max;
  }
}
