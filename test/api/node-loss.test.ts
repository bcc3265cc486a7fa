// A node that goes silent: offline first (no new work), then its leases are lost, billing stops at
// its last heartbeat and the job is requeued; if it comes back, it is told to stop the old workload.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

describe("node loss", () => {
  let h: Harness;
  let w: World;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
  });
  afterAll(async () => h.close());

  it("requeues the job of a node silent past the lease-loss timeout and bills only to its last heartbeat", async () => {
    const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 2,
      gpuModels: ["H100"],
      countries: ["ES"],
      command: ["train"],
    });
    await hb();
    await h.loop.tick();
    const a = (await hb()).assignments[0]!;
    const t0 = h.clock.now();
    await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: [{ leaseId: a.leaseId, phase: "running", startedAt: t0 }],
    });
    h.clock.advance(60_000);
    await hb([{ leaseId: a.leaseId, phase: "running", startedAt: t0 }]);
    const lastHb = h.clock.now();
    // Silent for 40 s: offline, lease kept.
    h.clock.advance(40_000);
    await h.loop.tick();
    expect((await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}`)).json.state).toBe("offline");
    expect((await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`)).json.state).toBe("running");
    // Silent past 5 minutes: the lease is lost and the job requeued.
    h.clock.advance(5 * 60_000);
    await h.loop.tick();
    const j = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`)).json;
    expect(j.state).toBe("preempted");
    const events = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}/events`)).json as {
      message: string;
    }[];
    expect(events.map((e) => e.message).join("\n")).toMatch(/node es-1 lost contact .*; requeued/);
    expect(j.leases[0].stopRequestedAt).toBe(lastHb);
    // The node comes back still running the old workload: it is told to stop it.
    const back = await hb([{ leaseId: a.leaseId, phase: "running", startedAt: t0 }]);
    expect(back.stops.map((s: { leaseId: string }) => s.leaseId)).toContain(a.leaseId);
  });
  it("in a fleet large enough for 10 s heartbeats, a node goes offline after three intervals, not the configured timeout", async () => {
    // A fleet of 5,000 nodes is told 10 s, so 30 s holds; with a 5 s configured timeout the node
    // would be offline after 5 s of silence without the policy.
    const node = await enrolNode(h.app, w.operatorKey, w.sites.fi, "fi-large-fleet");
    const state = async () =>
      (await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}`)).json.state as string;
    const view = h.loop.view;
    const count = view.nodeCount.bind(view);
    const config = h.services.ctx.config as { heartbeatTimeoutMs: number };
    const configured = config.heartbeatTimeoutMs;
    view.nodeCount = () => 5000;
    config.heartbeatTimeoutMs = 5000;
    try {
      const hb = await heartbeat(h.app, node.nodeKey);
      expect(hb.intervalMs).toBe(10_000);
      h.clock.advance(29_000);
      await h.loop.tick();
      expect(await state()).toBe("ready");
      h.clock.advance(2000);
      await h.loop.tick();
      expect(await state()).toBe("offline");
    } finally {
      view.nodeCount = count;
      config.heartbeatTimeoutMs = configured;
    }
  });
});
