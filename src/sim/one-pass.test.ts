// One policy code (issue 17): the simulator and the control plane's scheduleFast run the same
// scheduling pass (src/scheduler/pass.ts). The same small scenario, fed to the simulator as a
// trace and to scheduleFast as a snapshot, must start the same jobs on the same nodes in the same
// order, and preempt the same job on the same node.
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY, QUEUE_POLICIES, scheduleFast } from "../scheduler/index.js";
import type { LeaseView, PendingJob, Snapshot } from "../scheduler/index.js";
import { replay } from "./engine.js";
import { uniformFleet } from "./fleet.js";
import type { Fleet } from "./fleet.js";
import type { TraceJob } from "./trace.js";

const tj = (id: string, submitS: number, gpus: number, durationS = 100_000, tenant = "vc"): TraceJob => ({
  id,
  submitS,
  durationS,
  gpus,
  tenant,
});

const pendingOf = (j: TraceJob, k: number): PendingJob => ({
  id: `j${k}`,
  tenantId: j.tenant,
  submittedAt: j.submitS * 1000,
  request: { gpuModels: ["H100"], gpus: j.gpus, class: "interruptible" },
});

/** GPU indices of a placement mask on a fleet node. */
const gpusOf = (fleet: Fleet, node: number, mask: number): number[] =>
  fleet.nodes[node]!.gpuIndices.filter((_, p) => mask & (1 << p));

describe("one pass for the simulator and the control plane", () => {
  // Sizes chosen so that strict FIFO stops early, backfill keeps room for the blocked 24-GPU job,
  // and best fit packs the small ones.
  const sizes = [8, 4, 24, 2, 8, 1, 16, 4, 2, 8];
  const single = sizes.map((g, k) => tj(`t${k}`, 0, g));

  // The same sizes from three tenants: the control plane's fair share interleaves them.
  const tenants = ["a", "a", "a", "a", "b", "b", "c", "a", "b", "c"];
  const shared = sizes.map((g, k) => tj(`t${k}`, 0, g, 100_000, tenants[k]));

  for (const [policy, trace, fairShare] of [
    ...QUEUE_POLICIES.map((p) => [p, single, false] as const),
    ...QUEUE_POLICIES.map((p) => [p, shared, true] as const),
  ]) {
    it(`${policy}${fairShare ? ", three tenants, fair share" : ""}: the first round starts the same jobs on the same nodes, in the same order`, () => {
      const fleet = uniformFleet(32);
      const run = replay(trace, fleet, { policy, fairShare });
      const sim = run.log
        .filter((e) => e.t === 0 && e.start)
        .map((e) => ({
          job: `j${e.job}`,
          gpus: e.nodes.map((i, k) => `${fleet.nodes[i]!.id}:${gpusOf(fleet, i, e.masks[k]!).join(",")}`),
        }));
      const snap: Snapshot = { sites: fleet.sites, nodes: fleet.nodes, leases: [] };
      const cp = scheduleFast(snap, trace.map(pendingOf), { ...DEFAULT_POLICY, queue: policy }, 0).flatMap(
        (d) =>
          d.kind === "place"
            ? [{ job: d.jobId, gpus: d.placements.map((p) => `${p.nodeId}:${p.gpuIndices.join(",")}`) }]
            : [],
      );
      expect(sim.length).toBeGreaterThan(0);
      expect(cp).toEqual(sim);
    });
  }

  it("las: a short job preempts the same victim on the same node in both", () => {
    // t=0: a 8-GPU job and a 4-GPU job; t=100 another 4-GPU job; all pass LAS's first threshold
    // (3,600 GPU-s) by t=1,000, when a 4-GPU job arrives on the full 16-GPU fleet.
    const fleet = uniformFleet(16);
    const jobs = [tj("big", 0, 8), tj("b", 0, 4), tj("c", 100, 4), tj("short", 1000, 4, 50)];
    const run = replay(jobs, fleet, { policy: "las" });
    expect(run.preemptions).toBe(1);
    const stop = run.log.find((e) => !e.start && e.t < run.finish[e.job]!)!;
    expect(stop.t).toBe(1000 + DEFAULT_POLICY.preemptionGraceS);
    const simVictim = { job: `j${stop.job}`, node: fleet.nodes[stop.nodes[0]!]!.id };

    // The control plane at t=1,000 s: the three running jobs as interruptible leases, the short job pending.
    const now = 1000;
    const leases: LeaseView[] = run.log
      .filter((e) => e.start && e.t <= now && e.job < 3)
      .map((e) => ({
        id: `lease-${e.job}`,
        jobId: `j${e.job}`,
        tenantId: "vc",
        nodeId: fleet.nodes[e.nodes[0]!]!.id,
        siteId: "sim",
        gpuIndices: gpusOf(fleet, e.nodes[0]!, e.masks[0]!),
        class: "interruptible",
        priceMinorPerGpuHour: 100,
        startedAt: e.t * 1000,
        attainedGpuS: jobs[e.job]!.gpus * (now - e.t),
      }));
    expect(leases).toHaveLength(3);
    const snap: Snapshot = { sites: fleet.sites, nodes: fleet.nodes, leases };
    const ds = scheduleFast(snap, [pendingOf(jobs[3]!, 3)], { ...DEFAULT_POLICY, queue: "las" }, now * 1000);
    const preempts = ds.flatMap((d) => (d.kind === "preempt" ? [d] : []));
    expect(preempts).toHaveLength(1);
    const lease = leases.find((l) => l.id === preempts[0]!.leaseId)!;
    expect({ job: lease.jobId, node: lease.nodeId }).toEqual(simVictim);
    expect(simVictim.job).toBe("j2"); // the most recently started of the lowest level, on the node needing fewest GPUs
  });
});
