// The scheduling cycle as isolated steps: a throw in one step or one decision costs only that step or
// decision; the rest of the cycle still runs (on SQLite and PostgreSQL).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`scheduling cycle steps: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    beforeEach(async () => {
      h = await startHarness(factory);
      w = await buildWorld(h.app, h.adminKey);
      const { nodeKey } = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
      await heartbeat(h.app, nodeKey);
    });
    afterEach(async () => {
      vi.restoreAllMocks();
      await h.close();
    });

    const submit = async (key: string): Promise<string> => {
      const r = await call(h.app, key, "POST", "/v1/jobs", {
        gpus: 2,
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["train"],
      });
      expect(r.status).toBe(201);
      return r.json.id as string;
    };
    const state = async (key: string, id: string): Promise<string> =>
      (await call(h.app, key, "GET", `/v1/jobs/${id}`)).json.state as string;

    it("a throw in one tenant's admission leaves that job queued and places the next one", async () => {
      // Before the split, this throw escaped cycle() and the second job waited for the next cycle.
      const first = await submit(w.tenantKey);
      h.clock.advance(1000);
      const second = await submit(w.otherTenantKey);
      const getTenant = h.store.accounts.getTenant.bind(h.store.accounts);
      vi.spyOn(h.store.accounts, "getTenant").mockImplementation(async (id) => {
        if (id === w.tenantId) throw new Error("tenant row unreadable");
        return getTenant(id);
      });
      const r = await h.loop.tick();
      expect(r.errors).toBe(1);
      expect(r.placed).toBe(1);
      expect(await state(w.tenantKey, first)).toBe("pending");
      expect(await state(w.otherTenantKey, second)).toBe("scheduled");
    });

    it("a failing step is recorded and the cycle still schedules, each step timed", async () => {
      const id = await submit(w.tenantKey);
      vi.spyOn(h.store.fleet, "markStaleNodesOffline").mockRejectedValue(new Error("disk hiccup"));
      const r = await h.loop.tick();
      expect(r.failedSteps).toEqual(["failureDetection"]);
      expect(r.placed).toBe(1);
      expect(await state(w.tenantKey, id)).toBe("scheduled");
      for (const phase of [
        "read",
        "lostLeases",
        "curtailment",
        "priceSpikes",
        "snapshot",
        "schedule",
        "commit",
        "total",
      ])
        expect(r.phasesMs[phase], phase).toBeGreaterThanOrEqual(0);
    });

    it("runs the housekeeping reads (copy expiry, instance guardrails) at most once a second", async () => {
      const copies = vi.spyOn(h.store.checkpoints, "openTransfers");
      const guarded = vi.spyOn(h.store.instances, "guardedRunning");
      const first = await h.loop.tick();
      expect(first.phasesMs.checkpointCopies).toBeGreaterThanOrEqual(0);
      // The cycles submissions nudge within the same second skip them (and still schedule).
      h.clock.advance(400);
      await submit(w.tenantKey);
      const nudged = await h.loop.tick();
      expect(nudged.placed).toBe(1);
      expect(nudged.phasesMs.checkpointCopies).toBeUndefined();
      expect(nudged.phasesMs.instanceGuardrails).toBeUndefined();
      expect([copies.mock.calls.length, guarded.mock.calls.length]).toEqual([1, 1]);
      h.clock.advance(600);
      await h.loop.tick();
      expect([copies.mock.calls.length, guarded.mock.calls.length]).toEqual([2, 2]);
    });

    it("reads each table once per cycle", async () => {
      await submit(w.tenantKey);
      const nodes = vi.spyOn(h.store.fleet, "listNodes");
      const sites = vi.spyOn(h.store.fleet, "listSites");
      const leases = vi.spyOn(h.store.jobs, "activeLeases");
      // A view loaded fresh (a new term keeps the one it has, which reads no table at all).
      h.loop.view.reset();
      await h.loop.tick();
      expect(nodes).toHaveBeenCalledTimes(1);
      expect(sites).toHaveBeenCalledTimes(1);
      // The world's read, plus admission's own read of the tenant's running leases (once per tenant).
      expect(leases.mock.calls.length).toBeLessThanOrEqual(3);
    });
  });
}
