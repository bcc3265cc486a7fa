import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./types.js";
import type { Decision, PendingJob, Snapshot } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import { schedule } from "./index.js";
import { scheduleReference } from "./reference.js";
import { checkDecisions } from "./invariants.js";

type Want = Record<string, string[] | string>;

interface Case {
  name: string;
  snap: Snapshot;
  jobs: PendingJob[];
  /** Nodes per placed job, or the first wait reason containing this text. */
  want: Want;
}

function outcome(ds: Decision[]): Want {
  const out: Want = {};
  for (const d of ds) {
    if (d.kind === "place") out[d.jobId] = d.placements.map((p) => p.nodeId);
    else if (d.kind === "wait") out[d.jobId] = d.reasons.join("; ");
  }
  return out;
}

const ib = (sg: string) => ({ fabric: "ib-ndr", switchGroup: sg });
const roce = (sg: string) => ({ fabric: "roce", switchGroup: sg });

const cases: Case[] = [
  {
    name: "a gang stays inside one fabric domain even when two fabrics together would hold it",
    snap: snapshot(
      site("a")
        .node("i1")
        .gpus("H100", 8, ib("l1"))
        .node("r1")
        .gpus("H100", 8, roce("l1"))
        .node("r2")
        .gpus("H100", 8, roce("l1")),
    ).build(),
    jobs: [job("g").gpus(16).build()],
    want: { g: ["r1", "r2"] },
  },
  {
    name: "a gang that fits no single fabric waits and says so",
    snap: snapshot(
      site("a").node("i1").gpus("H100", 8, ib("l1")).node("r1").gpus("H100", 8, roce("l1")),
    ).build(),
    jobs: [job("g").gpus(16).build()],
    want: { g: "no single fabric domain has enough H100 nodes for the 16-GPU gang" },
  },
  {
    name: "a job that requires a fabric goes only there",
    snap: snapshot(
      site("a")
        .node("r1")
        .gpus("H100", 8, roce("l1"))
        .node("r2")
        .gpus("H100", 8, roce("l1"))
        .node("i1")
        .gpus("H100", 8, ib("l1"))
        .node("i2")
        .gpus("H100", 8, ib("l1")),
    ).build(),
    jobs: [job("g").gpus(16).fabric("ib-ndr").build(), job("one").gpus(1).fabric("roce").build()],
    want: { g: ["i1", "i2"], one: ["r1"] },
  },
  {
    name: "a job waits for the fabric it requires, and the reason names it",
    snap: snapshot(site("a").node("r1").gpus("H100", 8, roce("l1"))).build(),
    jobs: [job("g").gpus(8).fabric("ib-ndr").build()],
    want: { g: "no H100 node on fabric ib-ndr (1 site)" },
  },
  {
    name: "a gang packs into one switch group when one holds it",
    snap: snapshot(
      site("a")
        .node("n1")
        .gpus("H100", 8, ib("l1"))
        .node("n2")
        .gpus("H100", 8, ib("l2"))
        .node("n3")
        .gpus("H100", 8, ib("l1"))
        .node("n4")
        .gpus("H100", 8, ib("l2"))
        .node("n5")
        .gpus("H100", 8, ib("l2")),
    ).build(),
    jobs: [job("g").gpus(24).build()],
    want: { g: ["n2", "n4", "n5"] },
  },
  {
    name: "a gang no switch group holds spans the fewest: the largest groups first",
    snap: snapshot(
      site("a")
        .node("n1")
        .gpus("H100", 8, ib("l1"))
        .node("n2")
        .gpus("H100", 8, ib("l2"))
        .node("n3")
        .gpus("H100", 8, ib("l3"))
        .node("n4")
        .gpus("H100", 8, ib("l3")),
    ).build(),
    jobs: [job("g").gpus(24).build()],
    want: { g: ["n3", "n4", "n1"] },
  },
  {
    name: "busy nodes do not count towards a switch group's room",
    snap: snapshot(
      site("a")
        .node("n1")
        .gpus("H100", 8, ib("l1"))
        .node("n2")
        .gpus("H100", 8, ib("l1"))
        .node("n3")
        .gpus("H100", 8, ib("l2"))
        .node("n4")
        .gpus("H100", 8, ib("l2")),
    )
      .lease("x", "n1", [0])
      .build(),
    jobs: [job("g").gpus(16).build()],
    want: { g: ["n3", "n4"] },
  },
  {
    name: "unlabelled nodes behave as before: one domain, no switch preference",
    snap: snapshot(site("a").node("n1").gpus("H100", 8).node("n2").gpus("H100", 8)).build(),
    jobs: [job("g").gpus(16).build()],
    want: { g: ["n1", "n2"] },
  },
];

describe("interconnect-aware placement", () => {
  for (const c of cases) {
    it(c.name, () => {
      const ds = schedule(c.snap, c.jobs, DEFAULT_POLICY, 0);
      expect(checkDecisions(c.snap, c.jobs, ds)).toEqual([]);
      const got = outcome(ds);
      for (const [id, want] of Object.entries(c.want)) {
        if (Array.isArray(want)) expect(got[id], id).toEqual(want);
        else expect(got[id], id).toContain(want);
      }
      // The linear-scan reference places the same way.
      const ref = scheduleReference(
        c.snap,
        c.jobs,
        { ...DEFAULT_POLICY, preemption: false, backfill: false },
        0,
      );
      for (const d of ref) if (d.kind === "place") expect(outcome([d])[d.jobId]).toEqual(got[d.jobId]);
    });
  }

  it("the invariant checker catches a gang across fabrics and a node off the required fabric", () => {
    const snap = snapshot(
      site("a").node("i1").gpus("H100", 8, ib("l1")).node("r1").gpus("H100", 8, roce("l1")),
    ).build();
    const jobs = [job("g").gpus(16).fabric("ib-ndr").build()];
    const bad: Decision[] = [
      {
        kind: "place",
        jobId: "g",
        siteId: "a",
        gpuModel: "H100",
        placements: [
          { nodeId: "i1", gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] },
          { nodeId: "r1", gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] },
        ],
        priceMinorPerGpuHour: 200,
        reasons: [],
      },
    ];
    expect(checkDecisions(snap, jobs, bad)).toEqual([
      "g: gang spans fabrics",
      "g: node r1 is not on the required fabric ib-ndr",
    ]);
  });
});
