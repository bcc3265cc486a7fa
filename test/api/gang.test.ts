// Multi-node jobs through the API, in process, on every store: the cluster network per node, the
// rendezvous each rank is assigned, the start barrier (ready -> go), its timeout, and one failing
// rank stopping its gang.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, heartbeat, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";
import { consoleDataRoutes } from "../../src/api/routes/console-data.js";

interface Gang {
  nodeRank: number;
  nnodes: number;
  masterAddr: string;
  masterPort: number;
  worldSize: number;
  rank: number;
  localWorldSize: number;
  hosts: string[];
  go: boolean;
}
interface Answer {
  assignments: { leaseId: string; jobId: string; gpuIndices: number[]; gang?: Gang }[];
  stops: { leaseId: string; reason: string }[];
}

for (const factory of STORES) {
  describe(`multi-node jobs (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let available = true;
    const nodes: { nodeKey: string; nodeId: string }[] = [];
    beforeAll(async () => {
      available = await factory.available();
      if (!available) return;
      h = await startHarness(factory, [consoleDataRoutes]);
      w = await buildWorld(h.app, h.adminKey);
      for (const [k, fabric] of [
        [1, "roce"],
        [2, "roce"],
      ] as const) {
        const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/enrolment-tokens`);
        const e = await call(h.app, null, "POST", "/v1/agent/enrol", {
          token: tok.json.token,
          name: `es-${k}`,
          gpus: simGpus("H100", 8),
          executor: "local",
          cluster: { address: `10.0.0.${k}`, fabric, switchGroup: "leaf-1" },
        });
        expect(e.status).toBe(201);
        nodes.push({ nodeKey: e.json.key, nodeId: e.json.nodeId });
      }
    });
    afterAll(async () => {
      if (available) await h.close();
    });

    const hb = async (k: number, workloads: unknown[] = []) =>
      (await heartbeat(h.app, nodes[k]!.nodeKey, workloads)) as unknown as Answer;
    const job = async (id: string) => (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}`)).json;
    const submit = async (extra: Record<string, unknown> = {}) =>
      (
        await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
          gpus: 16,
          gpuModels: ["H100"],
          countries: ["ES"],
          command: ["train"],
          ...extra,
        })
      ).json.id as string;
    /** Runs a job to its barrier: placed, both ranks assigned (not yet released). */
    const placed = async (): Promise<{ id: string; a: Answer["assignments"] }> => {
      const id = await submit();
      await h.loop.tick();
      const a = [(await hb(0)).assignments[0]!, (await hb(1)).assignments[0]!];
      return { id, a };
    };
    const settle = async (k: number, leaseId: string, phase: string, extra: Record<string, unknown> = {}) =>
      call(h.app, nodes[k]!.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId, phase, ...extra }],
      });

    it("operators state a node's cluster network; bad input is refused with the field named", async () => {
      if (!available) return;
      const put = (key: string, cluster: unknown) =>
        call(h.app, key, "PUT", `/v1/nodes/${nodes[0]!.nodeId}/cluster`, { cluster });
      const bad = await put(w.operatorKey, { address: "10.0.0.1; rm -rf /", fabric: "IB NDR" });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.json)).toMatch(/address/);
      expect(JSON.stringify(bad.json)).toMatch(/fabric/);
      expect((await put(w.tenantKey, { address: "10.0.0.9" })).status).toBe(403);
      expect((await put(w.otherOperatorKey, { address: "10.0.0.9" })).status).toBeGreaterThanOrEqual(403);
      const ok = await put(w.operatorKey, { address: "10.0.0.1", fabric: "roce", switchGroup: "leaf-1" });
      expect(ok.status).toBe(200);
      const n = (await call(h.app, w.operatorKey, "GET", `/v1/nodes/${nodes[0]!.nodeId}`)).json;
      expect(n.cluster).toEqual({ address: "10.0.0.1", fabric: "roce", switchGroup: "leaf-1" });
      // The console's operator summary shows it per node.
      const sum = (await call(h.app, w.operatorKey, "GET", "/v1/operator/summary")).json as {
        sites: { nodes: { id: string; cluster?: unknown }[] }[];
      };
      const row = sum.sites.flatMap((x) => x.nodes).find((x) => x.id === nodes[0]!.nodeId);
      expect(row?.cluster).toEqual({ address: "10.0.0.1", fabric: "roce", switchGroup: "leaf-1" });
    });

    it("a job that requires another fabric waits and says which", async () => {
      if (!available) return;
      const id = await submit({ fabric: "ib-ndr" });
      await h.loop.tick();
      const j = await job(id);
      expect(j.state).toBe("pending");
      expect(j.reasons.join("; ")).toMatch(/no H100 node on fabric ib-ndr/);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${id}/cancel`);
    });

    it("each rank gets the rendezvous; nothing starts or bills until every rank is ready", async () => {
      if (!available) return;
      const { id, a } = await placed();
      const [g0, g1] = [a[0]!.gang!, a[1]!.gang!].sort((x, y) => x.nodeRank - y.nodeRank) as [Gang, Gang];
      expect(g0).toMatchObject({
        nodeRank: 0,
        nnodes: 2,
        worldSize: 16,
        rank: 0,
        localWorldSize: 8,
        go: false,
      });
      expect(g1).toMatchObject({
        nodeRank: 1,
        rank: 8,
        masterAddr: g0.masterAddr,
        masterPort: g0.masterPort,
      });
      expect(["10.0.0.1", "10.0.0.2"]).toContain(g0.masterAddr);
      expect(g0.masterPort).toBeGreaterThanOrEqual(29500);
      expect(g0.hosts).toEqual([`${g0.masterAddr} slots=8`, expect.stringMatching(/^10\.0\.0\.\d slots=8$/)]);
      // Node 0 is ready: no go yet, nothing running.
      await hb(0, [{ leaseId: a[0]!.leaseId, phase: "starting", ready: true }]);
      expect((await hb(0, [{ leaseId: a[0]!.leaseId, phase: "starting", ready: true }])).assignments).toEqual(
        [],
      );
      // Node 1 is ready: the gang is released; both nodes get their go.
      h.clock.advance(5_000);
      const go1 = await hb(1, [{ leaseId: a[1]!.leaseId, phase: "starting", ready: true }]);
      expect(go1.assignments.map((x) => x.gang?.go)).toEqual([true]);
      const go0 = await hb(0, [{ leaseId: a[0]!.leaseId, phase: "starting", ready: true }]);
      expect(go0.assignments.map((x) => x.gang?.go)).toEqual([true]);
      const j = await job(id);
      expect(j.state).toBe("scheduled");
      expect(j.leases.every((l: { startedAt: number | null }) => l.startedAt === null)).toBe(true);
      const events = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}/events`)).json as {
        message: string;
      }[];
      expect(events.map((e) => e.message)).toContain("all 2 ranks ready: gang released to start");
      // Both run; then rank 1 fails: rank 0 is stopped with a notice and the job fails, naming the rank.
      const t = h.clock.now();
      await settle(0, a[0]!.leaseId, "running", { startedAt: t });
      await settle(1, a[1]!.leaseId, "running", { startedAt: t });
      h.clock.advance(30_000);
      await settle(1, a[1]!.leaseId, "failed", { exitCode: 3, endedAt: h.clock.now() });
      const stop = (await hb(0, [{ leaseId: a[0]!.leaseId, phase: "running", startedAt: t }])).stops;
      expect(stop.map((s) => s.leaseId)).toEqual([a[0]!.leaseId]);
      expect(stop[0]!.reason).toMatch(/^gang: rank \d \(lease .* on node .*\) exited with code 3$/);
      const failed = await job(id);
      expect(failed.state).toBe("failed");
      expect(failed.stateReason).toMatch(/gang: rank \d .*exited with code 3/);
      await settle(0, a[0]!.leaseId, "cancelled", { endedAt: h.clock.now() });
      // Each rank's usage is its own bill line.
      const lines = (await job(id)).usage.lines as { leaseId: string }[];
      expect(lines.map((l) => l.leaseId).sort()).toEqual([a[0]!.leaseId, a[1]!.leaseId].sort());
    });

    it("a released rank that could not start requeues the gang instead of failing the job", async () => {
      if (!available) return;
      const { id, a } = await placed();
      for (const k of [0, 1, 0, 1]) await hb(k, [{ leaseId: a[k]!.leaseId, phase: "starting", ready: true }]);
      // Rank on node 0 got its go but its container could not be created there.
      await settle(0, a[0]!.leaseId, "failed", { reason: "podman create: no space left on device" });
      const j = await job(id);
      expect(j.state).toBe("preempted");
      expect(j.stateReason).toMatch(
        /^gang start: rank \d .*no space left on device before the gang started; requeued/,
      );
      const stop = (await hb(1, [{ leaseId: a[1]!.leaseId, phase: "starting", ready: true }])).stops;
      expect(stop.map((x) => x.leaseId)).toEqual([a[1]!.leaseId]);
      await settle(1, a[1]!.leaseId, "cancelled", {});
      expect((await job(id)).usage.costMinor).toBe(0);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${id}/cancel`);
    });

    it("a rank whose image cannot be pulled fails the job and stops the other rank", async () => {
      if (!available) return;
      const { id, a } = await placed();
      await hb(1, [{ leaseId: a[1]!.leaseId, phase: "starting", ready: true }]);
      await hb(0, [
        {
          leaseId: a[0]!.leaseId,
          phase: "failed",
          reason: "pull access denied for ghcr.io/x/y",
          cause: "image-pull",
        },
      ]);
      const j = await job(id);
      expect(j.state).toBe("failed");
      expect(j.stateReason).toMatch(/^gang: rank \d .*pull access denied for ghcr.io\/x\/y$/);
      const stop = (await hb(1, [{ leaseId: a[1]!.leaseId, phase: "starting", ready: true }])).stops;
      expect(stop.map((x) => x.leaseId)).toEqual([a[1]!.leaseId]);
      await settle(1, a[1]!.leaseId, "cancelled", {});
      expect((await job(id)).usage.costMinor).toBe(0);
    });

    it("preempting one rank of an interruptible gang sends the notice to every rank", async () => {
      if (!available) return;
      const id = await submit({ class: "interruptible" });
      await h.loop.tick();
      const a = [(await hb(0)).assignments[0]!, (await hb(1)).assignments[0]!];
      for (const k of [0, 1, 0, 1]) await hb(k, [{ leaseId: a[k]!.leaseId, phase: "starting", ready: true }]);
      const t = h.clock.now();
      for (const k of [0, 1]) await settle(k, a[k]!.leaseId, "running", { startedAt: t });
      h.clock.advance(20_000);
      for (const k of [0, 1]) await hb(k, [{ leaseId: a[k]!.leaseId, phase: "running", startedAt: t }]);
      const od = await submit({ gpus: 8 });
      await h.loop.tick();
      const leases = (await job(id)).leases as { id: string; state: string; stopReason: string | null }[];
      expect(
        leases.map((l) => l.state),
        JSON.stringify((await job(od)).reasons),
      ).toEqual(["stopping", "stopping"]);
      for (const l of leases) expect(l.stopReason).toMatch(new RegExp(`^preempted: on-demand job ${od}`));
      for (const k of [0, 1]) await settle(k, a[k]!.leaseId, "cancelled", { endedAt: h.clock.now() });
      expect((await job(id)).state).toBe("preempted");
      for (const j of [id, od]) await call(h.app, w.tenantKey, "POST", `/v1/jobs/${j}/cancel`);
      await h.loop.tick();
      for (const k of [0, 1]) {
        const x = await hb(k);
        for (const s of x.stops) await settle(k, s.leaseId, "cancelled", {});
        for (const y of x.assignments) await settle(k, y.leaseId, "cancelled", {});
      }
    });

    it("a gang whose ranks are not all ready in time is stopped and requeued, with nothing billed", async () => {
      if (!available) return;
      const { id, a } = await placed();
      await hb(0, [{ leaseId: a[0]!.leaseId, phase: "starting", ready: true }]);
      h.clock.advance(601_000);
      await hb(0, [{ leaseId: a[0]!.leaseId, phase: "starting", ready: true }]);
      await hb(1);
      await h.loop.tick();
      const j = await job(id);
      expect(["preempted", "pending", "scheduled"]).toContain(j.state);
      const events = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}/events`)).json as {
        message: string;
      }[];
      expect(events.map((e) => e.message).join("\n")).toMatch(
        /gang start: rank\(s\) \d \(node .*\) not ready within 600 s.*requeued/,
      );
      // The ranks never started: once their nodes stop reporting them, their leases end unbilled.
      await hb(0);
      await hb(1);
      const old = (await job(id)).leases.filter((l: { id: string }) => a.some((x) => x.leaseId === l.id));
      expect(old.map((l: { state: string }) => l.state)).toEqual(["ended", "ended"]);
      expect(old.every((l: { startedAt: number | null }) => l.startedAt === null)).toBe(true);
      expect((await job(id)).usage.costMinor).toBe(0);
    });
  });
}
