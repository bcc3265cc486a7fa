import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DEFAULT_POLICY } from "./types.js";
import type { Decision } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import { scheduleFast, scheduleReference } from "./index.js";
import { checkDecisions } from "./invariants.js";

const placed = (ds: Decision[]) =>
  ds.flatMap((d) =>
    d.kind === "place" ? [{ job: d.jobId, site: d.siteId, nodes: d.placements.map((p) => p.nodeId) }] : [],
  );
const noPreempt = { ...DEFAULT_POLICY, preemption: false, backfill: false };

describe("checkpoint affinity (a requeued job prefers the site and node holding its checkpoint)", () => {
  const fed = () =>
    snapshot(
      site("madrid").country("ES").price("H100", 300).node("m1").gpus("H100", 4).node("m2").gpus("H100", 4),
      site("texas").country("US").price("H100", 100).node("t1").gpus("H100", 4),
    );

  it("goes back to the checkpoint's site even when another site is cheaper, and to its node", () => {
    // m1 is the best fit (2 GPUs free), but the checkpoint is on m2 (4 free): m2 it is.
    const snap = fed().lease("other", "m1", [0, 1]).build();
    const pending = [job("j").gpus(2).interruptible().checkpointAt("madrid", "m2").build()];
    for (const fn of [scheduleFast, scheduleReference]) {
      const ds = fn(snap, pending, noPreempt, 0);
      expect(placed(ds)).toEqual([{ job: "j", site: "madrid", nodes: ["m2"] }]);
    }
    const d = scheduleFast(snap, pending, noPreempt, 0)[0]!;
    expect(d.kind === "place" && d.reasons[0]).toContain("the site and node holding the job's checkpoint");
    expect(checkDecisions(snap, pending, scheduleFast(snap, pending, DEFAULT_POLICY, 0))).toEqual([]);
  });

  it("without a checkpoint the cheaper site wins (the preference is what moved it)", () => {
    const snap = fed().build();
    expect(placed(scheduleFast(snap, [job("j").gpus(2).interruptible().build()], noPreempt, 0))).toEqual([
      { job: "j", site: "texas", nodes: ["t1"] },
    ]);
  });

  it("takes another node of the site when the checkpoint's node is full, and another site when the site is", () => {
    const pending = [job("j").gpus(4).interruptible().checkpointAt("madrid", "m2").build()];
    const nodeFull = fed().lease("x", "m2", [0]).build();
    for (const fn of [scheduleFast, scheduleReference])
      expect(placed(fn(nodeFull, pending, noPreempt, 0))).toEqual([
        { job: "j", site: "madrid", nodes: ["m1"] },
      ]);
    const siteFull = fed().lease("x", "m2", [0]).lease("y", "m1", [0]).build();
    for (const fn of [scheduleFast, scheduleReference])
      expect(placed(fn(siteFull, pending, noPreempt, 0))).toEqual([
        { job: "j", site: "texas", nodes: ["t1"] },
      ]);
  });

  it("an EU job whose checkpoint is in Germany waits when the only free capacity is in Paraguay", () => {
    const snap = snapshot(
      site("berlin").country("DE").price("H100", 300).node("b1").gpus("H100", 8),
      site("asuncion").country("PY").price("H100", 80).node("p1").gpus("H100", 8),
    )
      .lease("od", "b1", [0, 1, 2, 3, 4, 5, 6, 7])
      .build();
    const pending = [job("eu").gpus(8).within("EU").interruptible().checkpointAt("berlin", "b1").build()];
    for (const policy of [noPreempt, DEFAULT_POLICY]) {
      const ds = scheduleFast(snap, pending, policy, 0);
      expect(ds).toHaveLength(1);
      const d = ds[0]!;
      expect(d.kind).toBe("wait");
      if (d.kind === "wait") {
        expect(d.reasons.join("; ")).toContain("outside EU (1 site)");
        expect(d.reasons.join("; ")).not.toContain("asuncion");
      }
    }
    expect(placed(scheduleReference(snap, pending, noPreempt, 0))).toEqual([]);
    // Even a checkpoint record that (wrongly) names the Paraguay site never takes the job out of the EU.
    const stray = [job("eu").gpus(8).within("EU").interruptible().checkpointAt("asuncion", "p1").build()];
    expect(placed(scheduleFast(snap, stray, noPreempt, 0))).toEqual([]);
    expect(placed(scheduleReference(snap, stray, noPreempt, 0))).toEqual([]);
  });

  it("places as the linear-scan reference does, among nodes of one class with random load", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(255), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.constantFrom(1, 2, 3, 4, 8), fc.nat(9), fc.boolean()), {
          minLength: 1,
          maxLength: 6,
        }),
        (usedA, usedB, jobs) => {
          const a = site("a").country("DE").price("H100", 300).capKw(8);
          usedA.forEach((_, i) => a.node(`a${i}`).gpus("H100", 8));
          const b = site("b").country("FR").price("H100", 200);
          usedB.forEach((_, i) => b.node(`b${i}`).gpus("H100", 8));
          const sb = snapshot(a, b);
          const lease = (id: string, mask: number) => {
            const gpus = [0, 1, 2, 3, 4, 5, 6, 7].filter((g) => mask & (1 << g));
            if (gpus.length) sb.lease(`l-${id}`, id, gpus, { class: "interruptible" });
          };
          usedA.forEach((m, i) => lease(`a${i}`, m));
          usedB.forEach((m, i) => lease(`b${i}`, m));
          const snap = sb.build();
          const pending = jobs.map(([gpus, n, atA], k) => {
            const jb = job(`j${k}`).gpus(gpus).interruptible().submitted(k);
            const nodes = atA ? usedA.length : usedB.length;
            return jb.checkpointAt(atA ? "a" : "b", `${atA ? "a" : "b"}${n % nodes}`).build();
          });
          const fast = scheduleFast(snap, pending, noPreempt, 0);
          expect(placed(fast)).toEqual(placed(scheduleReference(snap, pending, noPreempt, 0)));
          expect(checkDecisions(snap, pending, fast)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
