import type { SimRun } from "./engine.js";

/** The JSON result of one replay (issue 3 fields). */
export interface SimResult {
  policy: string;
  jobs: number;
  avgJctS: number;
  p50JctS: number;
  p99JctS: number;
  avgQueueS: number;
  makespanS: number;
  utilization: number;
  preemptions: number;
  wastedGpuS: number;
  /** Part of wastedGpuS spent restoring checkpoints of resumed jobs. */
  restoreGpuS: number;
  /** Part of wastedGpuS lost since the last checkpoint of preempted jobs. */
  lostWorkGpuS: number;
  /** Highest per-tenant mean slowdown (JCT / duration) over the lowest; 1 is perfectly even. */
  maxMinSlowdown: number;
  violations: number;
  wallS: number;
  [extra: string]: unknown;
}

/** Percentile (nearest rank) of sorted values. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return 0;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k]!;
}

/** Per-tenant mean slowdown (JCT / duration). */
export function tenantSlowdowns(run: SimRun): Record<string, number> {
  const sum = new Map<string, [number, number]>();
  run.jobs.forEach((j, k) => {
    const sd = (run.finish[k]! - j.submitS) / j.durationS;
    const e = sum.get(j.tenant) ?? [0, 0];
    e[0] += sd;
    e[1] += 1;
    sum.set(j.tenant, e);
  });
  const out: Record<string, number> = {};
  for (const [t, [s, c]] of [...sum.entries()].sort()) out[t] = s / c;
  return out;
}

/** JCT per job. */
export function jcts(run: SimRun): Float64Array {
  return Float64Array.from(run.jobs, (j, k) => run.finish[k]! - j.submitS);
}

/** Summarises a replay. */
export function summarise(run: SimRun, violations: number): SimResult {
  const jct = jcts(run);
  const sorted = Float64Array.from(jct).sort();
  const n = run.jobs.length;
  let sumJ = 0;
  let sumQ = 0;
  let end = 0;
  let first = Infinity;
  run.jobs.forEach((j, k) => {
    sumJ += jct[k]!;
    sumQ += jct[k]! - j.durationS;
    end = Math.max(end, run.finish[k]!);
    first = Math.min(first, j.submitS);
  });
  const makespan = n > 0 ? end - first : 0;
  const sd = Object.values(tenantSlowdowns(run));
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    policy: run.policy,
    jobs: n,
    avgJctS: r3(n ? sumJ / n : 0),
    p50JctS: r3(percentile(sorted, 50)),
    p99JctS: r3(percentile(sorted, 99)),
    avgQueueS: r3(n ? sumQ / n : 0),
    makespanS: r3(makespan),
    utilization: r3(makespan > 0 ? run.busyGpuS / (run.totalGpus * makespan) : 0),
    preemptions: run.preemptions,
    wastedGpuS: r3(run.wastedGpuS),
    restoreGpuS: r3(run.wasted.restoreGpuS),
    lostWorkGpuS: r3(run.wasted.lostGpuS),
    maxMinSlowdown: r3(sd.length ? Math.max(...sd) / Math.min(...sd) : 1),
    violations,
    wallS: r3(run.wallS),
  };
}
