// The preempt -> requeue wedge (issue 15): an interruptible 8-GPU job preempted by an on-demand
// 8-GPU job at the same hall must not retake the GPUs being vacated for the on-demand job; a lease
// in "stopping" ends by grace + a bounded timeout even if the node never reports; cancel always ends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolNode, heartbeat, submitJob, worldOn, type World } from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

interface Lease {
  id: string;
  state: string;
  nodeId: string;
  gpuIndices: number[];
  stopReason: string | null;
  endedAt: number | null;
}

for (const factory of STORES) {
  describe(`preemption wedge (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let skip = false;
    beforeAll(async () => {
      const on = await worldOn(factory, "preemption wedge");
      if (on) ({ h, w } = on);
      else skip = true;
    });
    afterAll(async () => h?.close());

    const job = async (id: string) =>
      (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}`)).json as {
        state: string;
        reasons: string[];
        leases: Lease[];
      };
    const submit = (cls: "on-demand" | "interruptible", site: "ES" | "FI" | "PY") =>
      submitJob(h, w, cls, { countries: [site] });
    /** No GPU of any node is held by two active leases. */
    const noGpuLeasedTwice = async () => {
      const held = new Map<string, string>();
      for (const l of await h.store.jobs.activeLeases()) {
        for (const g of l.gpuIndices) {
          const k = `${l.nodeId}/${g}`;
          expect(held.get(k), `GPU ${k} held by ${held.get(k)} and ${l.id}`).toBeUndefined();
          held.set(k, l.id);
        }
      }
    };

    it("a preempted job never retakes the GPUs its preemptor waits for; the preemptor starts", async () => {
      if (skip) return;
      const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-wedge");
      const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);
      const spot = await submit("interruptible", "ES");
      await hb();
      await h.loop.tick();
      const a1 = (await hb()).assignments.find((a) => a.jobId === spot)!;
      const t0 = h.clock.now();
      await hb([{ leaseId: a1.leaseId, phase: "running", startedAt: t0 }]);
      h.clock.advance(10_000);
      const od = await submit("on-demand", "ES");
      await h.loop.tick();
      const stop = (await hb([{ leaseId: a1.leaseId, phase: "running", startedAt: t0 }])).stops;
      expect(stop.map((s) => s.leaseId)).toEqual([a1.leaseId]);
      // The workload checkpoints and exits within the grace period.
      h.clock.advance(2_000);
      await hb([
        {
          leaseId: a1.leaseId,
          phase: "cancelled",
          startedAt: t0,
          endedAt: h.clock.now(),
          exitCode: 0,
          reason: "stopped by the agent; exited with code 0",
        },
      ]);
      expect((await job(spot)).state).toBe("preempted");
      await h.loop.tick();
      await noGpuLeasedTwice();
      // The on-demand job gets the GPUs; the preempted job waits with a reason.
      expect((await job(od)).state).toBe("scheduled");
      const s = await job(spot);
      expect(s.state).toBe("preempted");
      expect(s.leases.filter((l) => l.state !== "ended")).toEqual([]);
      const ans = await hb();
      expect(ans.assignments.map((a) => a.jobId)).toEqual([od]);
      expect(ans.stops).toEqual([]);
    });

    it("a lease stopped before the agent started it ends at once; cancel ends its job", async () => {
      if (skip) return;
      const node = await enrolNode(h.app, w.operatorKey, w.sites.fi, "fi-wedge");
      const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);
      await hb();
      const spot = await submit("interruptible", "FI");
      await h.loop.tick();
      // Preempted before the agent ever heard of it (the wedge's second lease).
      const od = await submit("on-demand", "FI");
      await h.loop.tick();
      const lease = (await job(spot)).leases[0]!;
      expect(lease.state).toBe("stopping");
      // The agent does not know this lease: the server ends it instead of waiting for a report.
      const ans = await hb();
      expect((await job(spot)).leases[0]!.state).toBe("ended");
      expect(ans.stops.map((s) => s.leaseId)).not.toContain(lease.id);
      await h.loop.tick();
      expect((await job(od)).state).toBe("scheduled");
      // Cancel of the requeued job ends it.
      const c = await call(h.app, w.tenantKey, "POST", `/v1/jobs/${spot}/cancel`);
      expect(c.status).toBe(200);
      expect((await job(spot)).state).toBe("cancelled");
      await noGpuLeasedTwice();
    });

    it("cancel ends a job whose lease is stopping, and the job is not requeued", async () => {
      if (skip) return;
      const node = await enrolNode(h.app, w.operatorKey, w.sites.py, "py-wedge");
      const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);
      await hb();
      const spot = await submit("interruptible", "PY");
      await h.loop.tick();
      const a1 = (await hb()).assignments.find((a) => a.jobId === spot)!;
      const t0 = h.clock.now();
      await hb([{ leaseId: a1.leaseId, phase: "running", startedAt: t0 }]);
      const od = await submit("on-demand", "PY");
      await h.loop.tick();
      expect((await job(spot)).leases[0]!.state).toBe("stopping");
      const c = await call(h.app, w.tenantKey, "POST", `/v1/jobs/${spot}/cancel`);
      expect(c.status).toBe(200);
      // The node never answers (hung workload): grace + the stop timeout later the server ends it.
      h.clock.advance(30_000 + 60_000 + 1_000);
      await hb([{ leaseId: a1.leaseId, phase: "running", startedAt: t0 }]);
      await h.loop.tick();
      const s = await job(spot);
      expect(s.leases[0]!.state).toBe("ended");
      expect(s.state).toBe("cancelled");
      await noGpuLeasedTwice();
      expect((await job(od)).state).toBe("scheduled");
      const events = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${spot}/events`)).json as {
        message: string;
      }[];
      expect(events.map((e) => e.message).join("\n")).toMatch(/no end reported by the node/);
    });
  });
}
