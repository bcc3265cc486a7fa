import { describe, expect, it } from "vitest";
import { generateBench, runSchedulerBench } from "./bench.js";

describe("scheduler bench", () => {
  it("is deterministic per seed", () => {
    const a = generateBench(500, 3, 50);
    const b = generateBench(500, 3, 50);
    expect(a).toEqual(b);
    expect(a.nodes.reduce((s, n) => s + n.gpuIndices.length, 0)).toBe(500);
  });

  it("fast and reference agree on a whole stream, with no violation, and the LP bound holds", async () => {
    const r = await runSchedulerBench({ gpus: 300, seed: 5, jobs: 1500, referenceJobs: 1500 });
    expect(r.referenceJobs).toBe(1500);
    expect(r.violations).toBe(0);
    expect(r.placed).toBeGreaterThan(0);
    expect(r.waits).toBeGreaterThan(0);
    expect(r.lpGapPct).toBeGreaterThanOrEqual(-1e-6);
    expect(r.lpGapPct).toBeLessThanOrEqual(2);
  });
});
