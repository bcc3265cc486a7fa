import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import { schedule } from "./index.js";

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
