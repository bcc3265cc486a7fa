import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import { schedule } from "./index.js";
import { checkDecisions } from "./invariants.js";

describe("site power budgets", () => {
  // 700 W × 1.2 = 840 W per GPU; 200 W overhead × 1.2 = 240 W per busy node.
  const fed = (capKw: number) =>
    site("a").capKw(capKw).overheadW(200).node("a1").gpus("H100", 8).node("a2").gpus("H100", 8);

  const rows = [
    { capKw: 100, gpus: 8, placed: true },
    { capKw: 6.96, gpus: 8, placed: true }, // 8 × 840 + 240 = 6,960 W exactly
    { capKw: 6.959, gpus: 8, placed: false },
    { capKw: 1.08, gpus: 1, placed: true }, // 840 + 240
    { capKw: 1.0, gpus: 1, placed: false },
  ];
  for (const r of rows) {
    it(`${r.gpus} GPUs under a ${r.capKw} kW cap: ${r.placed ? "placed" : "waits"}`, () => {
      const snap = snapshot(fed(r.capKw)).build();
      const ds = schedule(snap, [job("j").gpus(r.gpus).build()], DEFAULT_POLICY, 0);
      expect(ds[0]!.kind).toBe(r.placed ? "place" : "wait");
      if (!r.placed)
        expect(ds[0]!.kind === "wait" && ds[0]!.reasons).toEqual([
          "site power budget would be exceeded (1 site)",
        ]);
      expect(checkDecisions(snap, [job("j").gpus(r.gpus).build()], ds)).toEqual([]);
    });
  }

  it("prefers a busy node: no second node overhead", () => {
    // One GPU busy on a2: its overhead is already paid, so one more GPU there costs 840 W only.
    const snap = snapshot(
      site("a").capKw(1.92).overheadW(200).node("a1").gpus("H100", 8).node("a2").gpus("H100", 8),
    )
      .lease("x", "a2", [0])
      .build();
    const ds = schedule(snap, [job("j").gpus(1).build()], DEFAULT_POLICY, 0);
    expect(ds[0]!.kind === "place" && ds[0]!.placements[0]!.nodeId).toBe("a2");
  });

  it("spills to another site when one site's budget is spent", () => {
    const snap = snapshot(
      site("tight").price("H100", 100).capKw(1).node("t1").gpus("H100", 8),
      site("roomy").price("H100", 200).node("r1").gpus("H100", 8),
    ).build();
    const ds = schedule(snap, [job("j").gpus(2).build()], DEFAULT_POLICY, 0);
    expect(ds[0]!.kind === "place" && ds[0]!.siteId).toBe("roomy");
  });

  it("uses the measured per-GPU power of the node", () => {
    const snap = snapshot(site("a").capKw(1.2).node("a1").gpus("H100", 8, { powerW: 500 })).build(); // 2 × 600 W
    const two = schedule(snap, [job("j").gpus(2).build()], DEFAULT_POLICY, 0);
    const three = schedule(snap, [job("j").gpus(3).build()], DEFAULT_POLICY, 0);
    expect([two[0]!.kind, three[0]!.kind]).toEqual(["place", "wait"]);
  });
});
