import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import { schedule, scheduleFast, scheduleReference } from "./index.js";
import { checkDecisions } from "./invariants.js";

describe("preemption", () => {
  const fed = () => site("a").node("a1").gpus("H100", 4).node("a2").gpus("H100", 4);

  it("an on-demand job stops the cheapest interruptible work, with a checkpoint notice", () => {
    const snap = snapshot(fed())
      .lease("old", "a1", [0, 1, 2, 3], { class: "interruptible", startedAt: 0 })
      .lease("young", "a2", [0, 1, 2, 3], { class: "interruptible", startedAt: 9_000 })
      .build();
    const ds = schedule(snap, [job("od").gpus(4).build()], DEFAULT_POLICY, 10_000);
    expect(ds).toEqual([
      expect.objectContaining({
        kind: "preempt",
        leaseId: "lease-young-a2",
        forJobId: "od",
        graceS: DEFAULT_POLICY.preemptionGraceS,
      }),
      expect.objectContaining({ kind: "wait", jobId: "od" }),
    ]);
  });

  it("preempts where the least work is lost: since each victim's last checkpoint, not since its start", () => {
    // "saved" started long ago but checkpointed 0.1 s ago; "young" started 1 s ago and never saved.
    const snap = snapshot(fed())
      .lease("saved", "a1", [0, 1, 2, 3], { class: "interruptible", startedAt: 0, savedAt: 9_900 })
      .lease("young", "a2", [0, 1, 2, 3], { class: "interruptible", startedAt: 9_000 })
      .build();
    for (const run of [schedule, scheduleFast]) {
      const ds = run(snap, [job("od").gpus(4).build()], DEFAULT_POLICY, 10_000);
      expect(ds.filter((d) => d.kind === "preempt").map((d) => d.kind === "preempt" && d.leaseId)).toEqual([
        "lease-saved-a1",
      ]);
    }
  });

  it("stops the fewest GPUs first, then loses the least work (the simulator's node choice)", () => {
    // a1: one 4-GPU victim started 0.1 s ago (0.4 GPU-s to lose); a2: two 2-GPU victims of 5 s (10 GPU-s each).
    const snap = snapshot(fed())
      .lease("x", "a1", [0, 1, 2, 3], { class: "interruptible", startedAt: 9_900 })
      .lease("y1", "a2", [0, 1], { class: "interruptible", startedAt: 5_000 })
      .lease("y2", "a2", [2, 3], { class: "interruptible", startedAt: 5_000 })
      .build();
    for (const run of [schedule, scheduleFast]) {
      const ds = run(snap, [job("od").gpus(2).build()], DEFAULT_POLICY, 10_000);
      expect(ds.filter((d) => d.kind === "preempt").map((d) => d.kind === "preempt" && d.leaseId)).toEqual([
        "lease-y1-a2",
      ]);
    }
  });

  it("takes only as many victims as needed", () => {
    const snap = snapshot(fed())
      .lease("i1", "a1", [0, 1], { class: "interruptible", startedAt: 5 })
      .lease("i2", "a1", [2, 3], { class: "interruptible", startedAt: 6 })
      .lease("od", "a2", [0, 1, 2, 3])
      .build();
    const ds = schedule(snap, [job("n").gpus(2).build()], DEFAULT_POLICY, 10);
    expect(ds.filter((d) => d.kind === "preempt").map((d) => d.kind === "preempt" && d.leaseId)).toEqual([
      "lease-i2-a1",
    ]);
  });

  it("never preempts on-demand work", () => {
    const snap = snapshot(fed()).lease("a", "a1", [0, 1, 2, 3]).lease("b", "a2", [0, 1, 2, 3]).build();
    const ds = schedule(snap, [job("n").gpus(1).build()], DEFAULT_POLICY, 10);
    expect(ds.map((d) => d.kind)).toEqual(["wait"]);
  });

  it("interruptible jobs never preempt", () => {
    const snap = snapshot(fed())
      .lease("a", "a1", [0, 1, 2, 3], { class: "interruptible" })
      .lease("b", "a2", [0, 1, 2, 3], { class: "interruptible" })
      .build();
    const ds = schedule(snap, [job("n").gpus(1).interruptible().build()], DEFAULT_POLICY, 10);
    expect(ds.map((d) => d.kind)).toEqual(["wait"]);
  });

  it("waits for work already stopping instead of preempting more", () => {
    const snap = snapshot(fed())
      .lease("s", "a1", [0, 1, 2, 3], { class: "interruptible", stopping: true })
      .lease("b", "a2", [0, 1, 2, 3], { class: "interruptible" })
      .build();
    const ds = schedule(snap, [job("n").gpus(4).build()], DEFAULT_POLICY, 10);
    expect(ds.map((d) => d.kind)).toEqual(["wait"]);
  });

  it("is off when the policy says so", () => {
    const snap = snapshot(fed())
      .lease("a", "a1", [0, 1, 2, 3], { class: "interruptible" })
      .lease("b", "a2", [0, 1, 2, 3], { class: "interruptible" })
      .build();
    const ds = schedule(snap, [job("n").gpus(1).build()], { ...DEFAULT_POLICY, preemption: false }, 10);
    expect(ds.map((d) => d.kind)).toEqual(["wait"]);
  });
});

describe("GPUs vacated for a preemptor (issue 15: the preempt -> requeue wedge)", () => {
  const hall = () => site("a").node("a1").gpus("H100", 8);

  it("a preempted job never retakes the GPUs its on-demand preemptor waits for", () => {
    // Cycle after the interruptible lease ended: both jobs pend, the preempted one is older.
    const snap = snapshot(hall()).reserve("od", "a1", [0, 1, 2, 3, 4, 5, 6, 7]).build();
    const spot = job("spot").gpus(8).interruptible().submitted(0).build();
    const od = job("od").gpus(8).submitted(5).build();
    const ds = schedule(snap, [spot, od], DEFAULT_POLICY, 10_000);
    expect(ds).toEqual([
      expect.objectContaining({ kind: "wait", jobId: "spot" }),
      expect.objectContaining({
        kind: "place",
        jobId: "od",
        placements: [{ nodeId: "a1", gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] }],
      }),
    ]);
    expect(checkDecisions(snap, [spot, od], ds)).toEqual([]);
  });

  it("the reference scheduler honours the claim the same way", () => {
    const snap = snapshot(hall()).reserve("od", "a1", [4, 5, 6, 7]).build();
    const spot = job("spot").gpus(6).interruptible().submitted(0).build();
    const small = job("small").gpus(4).interruptible().submitted(1).build();
    const od = job("od").gpus(4).submitted(5).build();
    const ref = scheduleReference(snap, [spot, small, od], { ...DEFAULT_POLICY, preemption: false }, 0);
    const fast = scheduleFast(
      snap,
      [spot, small, od],
      { ...DEFAULT_POLICY, preemption: false, backfill: false },
      0,
    );
    const placed = (ds: typeof ref) =>
      ds.filter((d) => d.kind === "place").map((d) => d.kind === "place" && [d.jobId, d.placements]);
    expect(placed(fast)).toEqual(placed(ref));
    expect(placed(fast)).toEqual([
      ["small", [{ nodeId: "a1", gpuIndices: [0, 1, 2, 3] }]],
      ["od", [{ nodeId: "a1", gpuIndices: [4, 5, 6, 7] }]],
    ]);
  });

  it("GPUs still held by the stopping lease are not double-counted, and the preemptor waits without new victims", () => {
    const snap = snapshot(hall())
      .lease("spot", "a1", [0, 1, 2, 3, 4, 5, 6, 7], { class: "interruptible", stopping: true })
      .reserve("od", "a1", [0, 1, 2, 3, 4, 5, 6, 7])
      .build();
    const ds = schedule(snap, [job("od").gpus(8).build()], DEFAULT_POLICY, 10);
    expect(ds).toEqual([
      { kind: "wait", jobId: "od", reasons: ["waiting for preempted work on node a1 to stop"] },
    ]);
  });

  it("the invariant check catches a placement on GPUs held for another job", () => {
    const snap = snapshot(hall()).reserve("od", "a1", [0, 1]).build();
    const spot = job("spot").gpus(2).interruptible().build();
    const bad = [
      {
        kind: "place" as const,
        jobId: "spot",
        siteId: "a",
        gpuModel: "H100",
        placements: [{ nodeId: "a1", gpuIndices: [0, 1] }],
        priceMinorPerGpuHour: snap.sites[0]!.prices.H100!.interruptibleMinorPerGpuHour,
        reasons: [],
      },
    ];
    expect(checkDecisions(snap, [spot], bad)).toEqual([
      "spot: GPU a1#0 is held for job od, which preempted its last holder",
      "spot: GPU a1#1 is held for job od, which preempted its last holder",
    ]);
  });
});
