// Issue 15: the control plane records where a job's checkpoint is (from its node's reports), the
// job's events show the checkpoint, the notice, the preemption and the resume, and a requeued job
// goes back to the node that holds its checkpoint.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolNode, heartbeat, jobEvents, submitJob, worldOn, type World } from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

for (const factory of STORES) {
  describe(`checkpoint location and events (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let skip = false;
    beforeAll(async () => {
      const on = await worldOn(factory, "checkpoint location");
      if (on) ({ h, w } = on);
      else skip = true;
    });
    afterAll(async () => h?.close());

    const submit = (cls: "on-demand" | "interruptible") => submitJob(h, w, cls, { countries: ["ES"] });
    const events = (id: string) => jobEvents(h, w, id);

    it("records the checkpoint, and the events tell notice, preemption, checkpoint and resume on the same node", async () => {
      if (skip) return;
      const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-ckpt");
      const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);
      await hb();
      const spot = await submit("interruptible");
      await h.loop.tick();
      const a1 = (await hb()).assignments.find((a) => a.jobId === spot)!;
      const t0 = h.clock.now();
      h.clock.advance(5_000);
      // A save time from the node's future is held to the server's now.
      const ck = (bytes: number, savedAt: number) => ({ bytes, files: 1, savedAt });
      await hb([
        { leaseId: a1.leaseId, phase: "running", startedAt: t0, checkpoint: ck(120, t0 + 3_600_000) },
      ]);
      const view = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${spot}`)).json;
      expect(view.checkpoint).toEqual({
        nodeId: node.nodeId,
        siteId: w.sites.es,
        country: "ES",
        sizeBytes: 120,
        files: 1,
        savedAt: h.clock.now(),
      });
      expect(await events(spot)).toContainEqual(
        expect.stringMatching(/^checkpoint on node .* 120 B in 1 file/),
      );

      const od = await submit("on-demand");
      await h.loop.tick();
      await hb([{ leaseId: a1.leaseId, phase: "running", startedAt: t0, checkpoint: ck(120, t0) }]);
      h.clock.advance(1_000);
      await hb([
        {
          leaseId: a1.leaseId,
          phase: "cancelled",
          startedAt: t0,
          endedAt: h.clock.now(),
          exitCode: 0,
          checkpoint: ck(4_500, h.clock.now()),
        },
      ]);
      await h.loop.tick();
      const odLease = (await hb()).assignments.find((a) => a.jobId === od)!;
      await hb([{ leaseId: odLease.leaseId, phase: "running", startedAt: h.clock.now() }]);
      h.clock.advance(1_000);
      await hb([
        {
          leaseId: odLease.leaseId,
          phase: "succeeded",
          startedAt: h.clock.now() - 1_000,
          endedAt: h.clock.now(),
          exitCode: 0,
        },
      ]);
      await h.loop.tick();
      const again = (await hb()).assignments.find((a) => a.jobId === spot);
      expect(again).toBeDefined();

      const ev = await events(spot);
      const at = (re: RegExp) => ev.findIndex((m) => re.test(m));
      const notice = at(/^checkpoint notice sent to lease .* preempted: on-demand job .* s to save, until /);
      const kept = at(/^checkpoint kept on node .* 4\.5 kB in 1 file/);
      const preempted = at(/^preempted: .*; requeued/);
      const resumed = at(/^resuming from its checkpoint on node /);
      expect(
        [notice, kept, preempted, resumed].every((i) => i >= 0),
        ev.join("\n"),
      ).toBe(true);
      expect(notice < kept && kept < preempted && preempted < resumed, ev.join("\n")).toBe(true);
      expect(ev[resumed]).toContain(node.nodeId);
    });

    it("a node cannot record a checkpoint for a lease it does not hold", async () => {
      if (skip) return;
      const other = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-ckpt-other");
      const lease = (await h.store.jobs.activeLeases()).find((l) => l.nodeId !== other.nodeId)!;
      const r = await call(h.app, other.nodeKey, "POST", "/v1/agent/heartbeat", {
        gpus: [],
        health: { healthy: true, reasons: [] },
        workloads: [{ leaseId: lease.id, phase: "running", checkpoint: { bytes: 1, files: 1, savedAt: 0 } }],
      });
      expect(r.status).toBe(403);
      expect((await h.store.checkpoints.getCheckpoint(lease.jobId))?.nodeId).toBe(lease.nodeId);
    });
  });
}
