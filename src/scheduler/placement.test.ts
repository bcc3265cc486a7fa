import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./types.js";
import type { Decision, PendingJob, Snapshot } from "./types.js";
import { job, site, snapshot } from "./testkit.js";
import { schedule } from "./index.js";
import { checkDecisions } from "./invariants.js";

type Want = Record<string, string[] | "wait">;

interface Case {
  name: string;
  snap: Snapshot;
  jobs: PendingJob[];
  want: Want;
}

function placements(ds: Decision[]): Want {
  const out: Want = {};
  for (const d of ds) {
    if (d.kind === "place") out[d.jobId] = d.placements.map((p) => `${p.nodeId}:${p.gpuIndices.length}`);
    else if (d.kind === "wait") out[d.jobId] = "wait";
  }
  return out;
}

const cases: Case[] = [
  {
    name: "best fit keeps the empty 8-GPU node free for an 8-GPU job",
    snap: snapshot(site("asturias").node("n1").gpus("H100", 8).node("n2").gpus("H100", 8))
      .lease("old", "n2", [0, 1, 2, 3, 4, 5])
      .build(),
    jobs: [job("small").gpus(1).submitted(1).build(), job("big").gpus(8).submitted(2).build()],
    want: { small: ["n2:1"], big: ["n1:8"] },
  },
  {
    name: "a job that fits on one node goes on one node",
    snap: snapshot(site("a").node("n1").gpus("H100", 4).node("n2").gpus("H100", 8))
      .lease("x", "n1", [0])
      .build(),
    jobs: [job("j").gpus(4).build()],
    want: { j: ["n2:4"] },
  },
  {
    name: "a 16-GPU gang takes two whole nodes of one site",
    snap: snapshot(
      site("a").node("a1").gpus("H100", 8),
      site("b").node("b1").gpus("H100", 8).node("b2").gpus("H100", 8),
    ).build(),
    jobs: [job("g").gpus(16).build()],
    want: { g: ["b1:8", "b2:8"] },
  },
  {
    name: "a gang never spans sites",
    snap: snapshot(site("a").node("a1").gpus("H100", 8), site("b").node("b1").gpus("H100", 8)).build(),
    jobs: [job("g").gpus(16).build()],
    want: { g: "wait" },
  },
  {
    name: "gpusPerNode splits a gang as asked",
    snap: snapshot(site("a").node("a1").gpus("H100", 8).node("a2").gpus("H100", 8)).build(),
    jobs: [job("g").gpus(8).perNode(4).build()],
    want: { g: ["a1:4", "a2:4"] },
  },
  {
    name: "a 12-GPU gang takes a full node and the best-fitting rest",
    snap: snapshot(site("a").node("a1").gpus("H100", 8).node("a2").gpus("H100", 8).node("a3").gpus("H100", 8))
      .lease("x", "a3", [0, 1, 2, 3])
      .build(),
    jobs: [job("g").gpus(12).build()],
    want: { g: ["a1:8", "a3:4"] },
  },
  {
    name: "the cheaper site wins",
    snap: snapshot(
      site("dear").price("H100", 300).node("d1").gpus("H100", 8),
      site("cheap").price("H100", 180).node("c1").gpus("H100", 8),
    ).build(),
    jobs: [job("j").gpus(2).build()],
    want: { j: ["c1:2"] },
  },
  {
    name: "the first acceptable model wins over a cheaper second choice",
    snap: snapshot(
      site("a").price("A100", 100).node("a1").gpus("A100", 8),
      site("b").price("H100", 300).node("h1").gpus("H100", 8),
    ).build(),
    jobs: [job("j").model("H100", "A100").gpus(1).build()],
    want: { j: ["h1:1"] },
  },
  {
    name: "falls back to the second model when the first is full",
    snap: snapshot(site("a").node("a1").gpus("A100", 8), site("b").node("h1").gpus("H100", 2))
      .lease("x", "h1", [0, 1])
      .build(),
    jobs: [job("j").model("H100", "A100").gpus(1).build()],
    want: { j: ["a1:1"] },
  },
  {
    name: "draining nodes take no new work",
    snap: snapshot(
      site("a").node("a1").gpus("H100", 8, { draining: true }).node("a2").gpus("H100", 8),
    ).build(),
    jobs: [job("j").gpus(8).build(), job("k").gpus(1).submitted(1).build()],
    want: { j: ["a2:8"], k: "wait" },
  },
  {
    name: "jobs placed in one cycle never share a GPU",
    snap: snapshot(site("a").node("a1").gpus("H100", 4)).build(),
    jobs: [
      job("j1").gpus(2).build(),
      job("j2").gpus(2).submitted(1).build(),
      job("j3").gpus(1).submitted(2).build(),
    ],
    want: { j1: ["a1:2"], j2: ["a1:2"], j3: "wait" },
  },
];

describe("placement", () => {
  for (const c of cases) {
    it(c.name, () => {
      const ds = schedule(c.snap, c.jobs, { ...DEFAULT_POLICY, backfill: false }, 0);
      expect(placements(ds)).toEqual(c.want);
      expect(checkDecisions(c.snap, c.jobs, ds)).toEqual([]);
    });
  }

  it("is deterministic: same snapshot, same decisions", () => {
    const snap = snapshot(site("a").node("a1").gpus("H100", 8).node("a2").gpus("H100", 8)).build();
    const jobs = [3, 1, 5, 2].map((g, i) => job(`j${i}`).gpus(g).submitted(i).build());
    expect(schedule(snap, jobs, DEFAULT_POLICY, 0)).toEqual(schedule(snap, jobs, DEFAULT_POLICY, 0));
  });

  it("leaves the snapshot untouched", () => {
    const snap = snapshot(site("a").capKw(100).node("a1").gpus("H100", 8)).build();
    const copy = structuredClone(snap);
    schedule(snap, [job("j").gpus(3).build()], DEFAULT_POLICY, 0);
    expect(snap).toEqual(copy);
  });

  it("backfill never takes the nodes kept for the blocked head", () => {
    const snap = snapshot(site("a").node("a1").gpus("H100", 8).node("a2").gpus("H100", 8))
      .lease("x", "a1", [0, 1])
      .lease("y", "a2", [0])
      .build();
    const jobs = [job("head").gpus(8).submitted(0).build(), job("small").gpus(1).submitted(1).build()];
    const ds = placements(schedule(snap, jobs, DEFAULT_POLICY, 0));
    expect(ds.head).toBe("wait");
    // a2 has 7 free: it is kept for the head; the small job goes to a1.
    expect(ds.small).toEqual(["a1:1"]);
  });
});
