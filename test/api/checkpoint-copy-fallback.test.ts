// Issue 15: what happens when a checkpoint copy cannot be made because the node holding it is lost.
// A job that does not allow a fresh start waits for its checkpoint (its new lease ends unstarted, it
// is not placed while that node is offline, and that node's folder is never called removable); a job
// submitted with freshIfCheckpointLost starts from an empty folder on the new node. Real store
// (SQLite file and PostgreSQL), the real API and scheduler loop, a manual clock.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  enrolNode,
  heartbeat,
  heartbeatWith,
  jobEvents,
  submitJob,
  worldOn,
  type World,
} from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

for (const factory of STORES) {
  describe(`checkpoint copy fallback when its node is lost (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let skip = false;
    beforeAll(async () => {
      const on = await worldOn(factory, "checkpoint copy fallback");
      if (on) {
        ({ h, w } = on);
        // Node A's leases outlive the copy wait here (so its on-demand job is not requeued onto node B).
        h.services.ctx.config.leaseLossTimeoutMs = 3_600_000;
      } else skip = true;
    });
    afterAll(async () => h?.close());

    const submit = (cls: "on-demand" | "interruptible", extra: Record<string, unknown>) =>
      submitJob(h, w, cls, extra);
    const events = (id: string) => jobEvents(h, w, id);
    const hb = (key: string, body: Record<string, unknown> = {}) => heartbeatWith(h.app, key, body);

    /** A job preempted on node A with a checkpoint there, then placed on node B; A goes silent. */
    const placedAway = async (siteId: string, country: string, extra: Record<string, unknown>) => {
      const a = await enrolNode(h.app, w.operatorKey, siteId, `${country}-a`);
      await heartbeat(h.app, a.nodeKey);
      const spot = await submit("interruptible", { countries: [country], ...extra });
      await h.loop.tick();
      const a1 = (await heartbeat(h.app, a.nodeKey)).assignments.find((x) => x.jobId === spot)!;
      const t0 = h.clock.now();
      h.clock.advance(1_000);
      const ck = { bytes: 10, files: 1, savedAt: h.clock.now() };
      await heartbeat(h.app, a.nodeKey, [
        { leaseId: a1.leaseId, phase: "running", startedAt: t0, checkpoint: ck },
      ]);
      await submit("on-demand", { countries: [country] });
      await h.loop.tick();
      await heartbeat(h.app, a.nodeKey, [
        { leaseId: a1.leaseId, phase: "cancelled", startedAt: t0, endedAt: h.clock.now(), checkpoint: ck },
      ]);
      await h.loop.tick();
      await heartbeat(h.app, a.nodeKey);
      const b = await enrolNode(h.app, w.operatorKey, siteId, `${country}-b`);
      await heartbeat(h.app, b.nodeKey);
      await h.loop.tick();
      const lease = (await h.store.jobs.leasesForJob(spot)).find((l) => l.state === "assigned")!;
      expect(lease.nodeId).toBe(b.nodeId);
      expect((await hb(b.nodeKey)).transfers).toHaveLength(1);
      // Node A never answers: B keeps heartbeating while the copy waits past ZUMBIDO_CHECKPOINT_COPY_WAIT_S (600 s).
      for (let i = 0; i < 7; i++) {
        h.clock.advance(90_000);
        await hb(b.nodeKey);
        await h.loop.tick();
      }
      await h.loop.tick();
      return { a, b, spot, lease };
    };

    it("without freshIfCheckpointLost, the job waits while its checkpoint's node is offline, then is copied again", async () => {
      if (skip) return;
      const { a, b, spot, lease } = await placedAway(w.sites.es, "ES", {});
      const t = (await h.store.checkpoints.transfersForJob(spot))[0]!;
      expect(t.state).toBe("failed");
      expect(t.reason).toMatch(/^no progress for 600 s; node .* which holds it, is offline/);
      expect((await h.store.jobs.getLease(lease.id))!.state).toBe("ended");
      expect((await h.store.jobs.getLease(lease.id))!.startedAt).toBeNull();
      const view = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${spot}`)).json;
      expect(view.state).toBe("preempted");
      expect(JSON.stringify(view.reasons)).toContain(
        `its checkpoint is on node ${a.nodeId}, which is offline`,
      );
      expect((await hb(b.nodeKey)).assignments.map((x) => x.jobId)).not.toContain(spot);
      expect(await events(spot)).toContainEqual(
        expect.stringMatching(/ended unstarted; requeued to wait for its checkpoint/),
      );
      // Node A comes back: its folder is not removable (the job may still resume from it), and the
      // job is placed again (on B: A still runs the on-demand job), with a new copy from A.
      expect((await hb(a.nodeKey, { checkpoints: [spot] })).removableCheckpoints).toEqual([]);
      await h.loop.tick();
      const again = (await h.store.jobs.leasesForJob(spot)).find((l) => l.state === "assigned")!;
      expect(again.nodeId).toBe(b.nodeId);
      expect((await hb(a.nodeKey)).transfers).toEqual([expect.objectContaining({ role: "send" })]);
      expect((await hb(b.nodeKey)).assignments.map((x) => x.jobId)).not.toContain(spot);
    });

    it("with freshIfCheckpointLost, the job starts from an empty folder on the new node", async () => {
      if (skip) return;
      const { b, spot, lease } = await placedAway(w.sites.fi, "FI", { freshIfCheckpointLost: true });
      expect((await h.store.checkpoints.transfersForJob(spot))[0]!.state).toBe("failed");
      expect((await h.store.jobs.getLease(lease.id))!.state).toBe("assigned");
      expect((await hb(b.nodeKey)).assignments.map((x) => x.jobId)).toContain(spot);
      expect(await events(spot)).toContainEqual(
        expect.stringMatching(/starts from an empty checkpoint folder \(the job allows it/),
      );
    });
  });
}
