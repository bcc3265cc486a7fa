// The orders long-poll (GET /v1/agent/orders?wait=25s): a node's parked request is answered when the
// scheduler assigns or stops work on it, not at the next heartbeat; bounded wait, node keys only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

type Orders = {
  assignments: { leaseId: string; jobId: string }[];
  stops: { leaseId: string }[];
  version: string;
};

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`orders long-poll: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    let node: { nodeKey: string; nodeId: string };
    beforeAll(async () => {
      h = await startHarness(factory);
      w = await buildWorld(h.app, h.adminKey);
      node = await enrolNode(h.app, w.operatorKey, w.sites.es, "poll-1");
      await heartbeat(h.app, node.nodeKey);
      await h.loop.tick();
    });
    afterAll(async () => h.close());

    const poll = async (q: string): Promise<{ status: number; json: Orders }> => {
      const r = await call(h.app, node.nodeKey, "GET", `/v1/agent/orders?${q}`);
      return { status: r.status, json: r.json as Orders };
    };
    /** Whether `p` settles within `ms` (far below the 30 s the poll may be held). */
    const settles = <T>(p: Promise<T>, ms: number): Promise<boolean> =>
      Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

    it("answers a parked poll when a job is placed on the node, and again when it is stopped", async () => {
      const first = await poll("wait=0s");
      expect(first.status).toBe(200);
      expect(first.json.assignments).toEqual([]);
      const parked = poll(`wait=30s&version=${encodeURIComponent(first.json.version)}`);
      expect(await settles(parked, 300)).toBe(false);
      const job = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 2,
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["train"],
      });
      expect(job.status).toBe(201);
      const r = await h.loop.tick();
      expect(r.placed).toBe(1);
      expect(await settles(parked, 5000)).toBe(true);
      const got = await parked;
      expect(got.json.assignments.map((a) => a.jobId)).toEqual([job.json.id]);
      expect(got.json.version).not.toBe(first.json.version);
      const leaseId = got.json.assignments[0]!.leaseId;

      // The node runs it; then a cancel's stop reaches the parked poll when the view applies it (the
      // server's follower timer; here the next cycle).
      await heartbeat(h.app, node.nodeKey, [{ leaseId, phase: "running", startedAt: h.clock.now() }]);
      const now = await poll("wait=0s");
      expect(now.json.assignments).toEqual([]);
      const again = poll(`wait=30s&version=${encodeURIComponent(now.json.version)}`);
      expect(await settles(again, 300)).toBe(false);
      expect((await call(h.app, w.tenantKey, "POST", `/v1/jobs/${job.json.id}/cancel`)).status).toBe(200);
      await h.loop.tick();
      expect(await settles(again, 5000)).toBe(true);
      expect((await again).json.stops.map((s) => s.leaseId)).toEqual([leaseId]);
    });

    it("bounds the wait and answers nodes only", async () => {
      const long = await poll("wait=31s");
      expect(long.status).toBe(400);
      expect(JSON.stringify(long.json)).toMatch(/30s or less/);
      expect((await poll("wait=soon")).status).toBe(400);
      const tenant = await call(h.app, w.tenantKey, "GET", "/v1/agent/orders?wait=1s");
      expect(tenant.status).toBe(403);
      // A poll whose version is stale is answered at once.
      expect(await settles(poll("wait=30s&version=old"), 2000)).toBe(true);
    });
  });
}
