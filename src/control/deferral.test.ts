import { describe, expect, it } from "vitest";
import type { PendingJob, SiteView } from "../scheduler/index.js";
import { deferFlexible } from "./deferral.js";

const H = 3_600_000;
const t0 = Date.UTC(2026, 10, 2, 0, 0, 0);
const site = (id: string, country: string): SiteView => ({
  id,
  name: id,
  country,
  pue: 1.2,
  powerCapKw: 1000,
  nodeOverheadW: 500,
  prices: { H100: { onDemandMinorPerGpuHour: 240, interruptibleMinorPerGpuHour: 120 } },
});
// Dirty now, clean from 20:00 to 23:00.
const carbon = {
  startMs: t0,
  stepMs: H,
  values: Array.from({ length: 24 }, (_, h) => (h >= 20 && h < 23 ? 20 : 300)),
};
const job = (id: string, extra: Partial<PendingJob["request"]>): PendingJob => ({
  id,
  tenantId: "t",
  submittedAt: t0,
  request: { gpuModels: ["H100"], gpus: 1, class: "interruptible", ...extra },
});

describe("deferring flexible jobs to cleaner hours", () => {
  it("holds a flexible job until the clean window and keeps its deadline", () => {
    const { ready, deferred } = deferFlexible(
      [job("flex", { deadlineAt: t0 + 24 * H, runtimeEstimateS: 2 * 3600 })],
      [site("es", "ES")],
      new Map([["es", carbon]]),
      t0 + 8 * H,
    );
    expect(ready).toEqual([]);
    expect(deferred[0]!.untilMs).toBe(t0 + 20 * H);
    expect(deferred[0]!.untilMs + 2 * H).toBeLessThanOrEqual(t0 + 24 * H);
    expect(deferred[0]!.reason).toMatch(/deferred to 2026-11-02T20:00:00.000Z/);
  });

  it("runs at once when the deadline leaves no cleaner start, when the job is not flexible, or when no series judges it", () => {
    const now = t0 + 8 * H;
    const tight = job("tight", { deadlineAt: now + 2 * H + 15 * 60_000, runtimeEstimateS: 2 * 3600 });
    const onDemand = {
      ...job("od", { deadlineAt: t0 + 24 * H, runtimeEstimateS: 3600 }),
      request: {
        ...job("od", {}).request,
        class: "on-demand" as const,
        deadlineAt: t0 + 24 * H,
        runtimeEstimateS: 3600,
      },
    };
    const noEstimate = job("noest", { deadlineAt: t0 + 24 * H });
    const elsewhere = job("fi-only", { deadlineAt: t0 + 24 * H, runtimeEstimateS: 3600, countries: ["FI"] });
    const { ready, deferred } = deferFlexible(
      [tight, onDemand, noEstimate, elsewhere],
      [site("es", "ES")],
      new Map([["es", carbon]]),
      now,
    );
    expect(deferred).toEqual([]);
    expect(ready.map((j) => j.id)).toEqual(["tight", "od", "noest", "fi-only"]);
  });
});
