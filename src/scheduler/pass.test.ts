import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FAIR_SHARE_HORIZON_S, fairShareOrder } from "./fair-share.js";
import { queueRule } from "./queue-policy.js";
import { scheduleFast } from "./schedule.js";
import { job } from "./testkit.js";
import { DEFAULT_POLICY } from "./types.js";
import type { PendingJob, Snapshot } from "./types.js";

// With no nodes every job waits, so scheduleFast's wait decisions are the shared pass's order.
const empty: Snapshot = { sites: [], nodes: [], leases: [] };
const orderOf = (pending: PendingJob[], policy = DEFAULT_POLICY, usage?: Record<string, number>) =>
  scheduleFast({ ...empty, tenantUsageGpuS: usage }, pending, policy, 0).map((d) =>
    d.kind === "wait" ? d.jobId : `not a wait: ${d.kind}`,
  );

const jobArb = fc.record({
  tenant: fc.constantFrom("a", "b", "c"),
  submitted: fc.integer({ min: 0, max: 20 }),
  gpus: fc.integer({ min: 1, max: 8 }),
  attained: fc.constantFrom(0, 1_000, 5_000, 50_000),
});

describe("the shared pass's queue order", () => {
  it("inside a level is the weighted fair share of fairShareOrder (the reference's obvious form)", () => {
    fc.assert(
      fc.property(
        fc.array(jobArb, { minLength: 1, maxLength: 12 }),
        fc.record({ a: fc.nat(20_000), b: fc.nat(20_000) }),
        fc.constantFrom<Record<string, number> | undefined>(undefined, { a: 3 }, { b: 2, c: 0.5 }),
        (js, usage, weights) => {
          const pending = js.map((x, k) =>
            job(`j${k}`).of(x.tenant).submitted(x.submitted).gpus(x.gpus).build(),
          );
          const policy = { ...DEFAULT_POLICY, tenantWeights: weights };
          expect(orderOf(pending, policy, usage)).toEqual(
            fairShareOrder(pending, usage, weights).map((j) => j.id),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("is level first, fair share inside each level with the charges of the levels before", () => {
    fc.assert(
      fc.property(fc.array(jobArb, { minLength: 1, maxLength: 12 }), (js) => {
        const pending = js.map((x, k) => ({
          ...job(`j${k}`).of(x.tenant).submitted(x.submitted).gpus(x.gpus).build(),
          attainedGpuS: x.attained,
        }));
        const rule = queueRule("las");
        const level = (p: PendingJob) =>
          rule.level({
            job: -1,
            tenant: p.tenantId,
            gpus: p.request.gpus,
            submittedAt: p.submittedAt,
            attainedGpuS: p.attainedGpuS ?? 0,
          });
        const load: Record<string, number> = {};
        const want: string[] = [];
        for (let l = 0; l < rule.levels; l++) {
          const at = fairShareOrder(
            pending.filter((p) => level(p) === l),
            { ...load },
            undefined,
          );
          for (const p of at) {
            load[p.tenantId] = (load[p.tenantId] ?? 0) + p.request.gpus * FAIR_SHARE_HORIZON_S;
            want.push(p.id);
          }
        }
        expect(orderOf(pending, { ...DEFAULT_POLICY, queue: "las" })).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it("is FIFO (submit time, then id) when every tenant's key is equal: one tenant", () => {
    const pending = [
      job("late").of("a").submitted(5).build(),
      job("b-first").of("a").submitted(1).build(),
      job("a-first").of("a").submitted(1).build(),
    ];
    expect(orderOf(pending)).toEqual(["a-first", "b-first", "late"]);
  });

  it("equal keys go to the tenant whose next job is oldest, not the first tenant by name", () => {
    const pending = [job("a1").of("a").submitted(10).build(), job("z1").of("z").submitted(2).build()];
    expect(orderOf(pending)).toEqual(["z1", "a1"]);
    expect(fairShareOrder(pending, {}, undefined).map((j) => j.id)).toEqual(["z1", "a1"]);
  });
});
