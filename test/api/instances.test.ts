// Interactive instances: submit (ports, idle init), the tenant's guardrail defaults, and the control
// loop stopping an idle instance (--idle-stop) and a long one (--max-duration) with events, billed to
// the server's time of the stop; on SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IDLE_INIT } from "../../src/domain/index.js";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

for (const factory of STORES) {
  describe(`instances (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let node: { nodeKey: string; nodeId: string };
    let available = true;
    /** Running workloads the fake node reports on every heartbeat (leaseId -> extra fields). */
    const running = new Map<string, Record<string, unknown>>();
    const relay = new Map<string, number>();

    beforeAll(async () => {
      available = await factory.available();
      if (!available) return;
      h = await startHarness(factory);
      h.services.ctx.relayActivity = { lastActivityMs: (jobId) => relay.get(jobId) };
      w = await buildWorld(h.app, h.adminKey);
      node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    });
    afterAll(async () => {
      if (available) await h.close();
    });

    const reports = () => [...running].map(([leaseId, x]) => ({ leaseId, phase: "running", ...x }));
    /** One heartbeat and one loop cycle; stopped leases end at once (the workload exits on SIGTERM). */
    const beat = async () => {
      const a = await heartbeat(h.app, node.nodeKey, reports());
      for (const s of a.stops) {
        if (!running.has(s.leaseId)) continue;
        running.delete(s.leaseId);
        await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
          workloads: [{ leaseId: s.leaseId, phase: "cancelled", endedAt: h.clock.now() }],
        });
      }
      await h.loop.tick();
      return a;
    };
    /** Lets `ms` pass in 5 s steps, the node heart-beating all along. */
    const pass = async (ms: number) => {
      for (let t = 0; t < ms; t += 5_000) {
        h.clock.advance(Math.min(5_000, ms - t));
        await beat();
      }
    };
    const submit = (body: Record<string, unknown>, key = w.tenantKey) =>
      call(h.app, key, "POST", "/v1/jobs", { gpus: 1, gpuModels: ["H100"], countries: ["ES"], ...body });
    const job = async (id: string) => (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}`)).json;
    /** Submits an instance and runs it on the node; returns its job and lease ids and its start. */
    const start = async (body: Record<string, unknown>) => {
      const sub = await submit({ kind: "instance", ports: [8888], ...body });
      expect(sub.status).toBe(201);
      await h.loop.tick();
      const a = (await heartbeat(h.app, node.nodeKey, reports())).assignments.find(
        (x) => x.jobId === sub.json.id,
      );
      expect(a).toBeDefined();
      const startedAt = h.clock.now();
      running.set(a!.leaseId, { startedAt });
      await beat();
      expect((await job(sub.json.id)).state).toBe("running");
      return { jobId: sub.json.id as string, leaseId: a!.leaseId, startedAt };
    };

    it("stores an instance's kind and ports; without a command it runs the idle init", async () => {
      if (!available) return;
      const r = await submit({ kind: "instance", ports: [8888, 22], image: "docker.io/library/busybox" });
      expect(r.status).toBe(201);
      expect(r.json.spec.instance).toEqual({ ports: [22, 8888] });
      expect(r.json.spec.command).toEqual(IDLE_INIT);
      expect(r.json.name).toBe("instance of docker.io/library/busybox");
      // A given command runs as it is.
      const c = await submit({ kind: "instance", command: ["jupyter", "lab"], ports: [8888] });
      expect(c.json.spec.command).toEqual(["jupyter", "lab"]);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${r.json.id}/cancel`);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${c.json.id}/cancel`);
    });

    it("refuses bad ports and guardrails with the field and the fix, storing nothing", async () => {
      if (!available) return;
      const before = (await call(h.app, w.tenantKey, "GET", "/v1/jobs")).json.length;
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ kind: "instance", ports: [0] }, /1 to 65535/],
        [{ kind: "instance", ports: [70000] }, /1 to 65535/],
        [{ kind: "instance", ports: [8888, 8888] }, /declared twice/],
        [{ kind: "instance", ports: Array.from({ length: 17 }, (_, i) => 8000 + i) }, /at most 16 ports/],
        [{ kind: "instance", idleStopS: 5 }, /0 \(none\) or from 60 s/],
        [{ kind: "instance", maxDurationS: 31 * 86_400 }, /maxDurationS/],
        [{ kind: "instance", gpus: 16, gpusPerNode: 8 }, /runs on one node/],
        [{ ports: [8888], command: ["x"] }, /for instances: add "kind": "instance"/],
        [{}, /give the program|give the command/],
      ];
      for (const [body, msg] of cases) {
        const r = await submit(body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(String(r.json.detail), JSON.stringify(body)).toMatch(msg);
      }
      expect((await call(h.app, w.tenantKey, "GET", "/v1/jobs")).json.length).toBe(before);
    });

    it("keeps per-tenant defaults that new instances take unless they say otherwise", async () => {
      if (!available) return;
      const url = "/v1/settings/instances";
      expect((await call(h.app, w.tenantKey, "GET", url)).json).toEqual({
        maxDurationS: null,
        idleStopS: null,
      });
      const put = await call(h.app, w.tenantKey, "PUT", url, { maxDurationS: 8 * 3600, idleStopS: 1800 });
      expect(put.json).toEqual({ maxDurationS: 28_800, idleStopS: 1800 });
      expect((await call(h.app, w.tenantKey, "PUT", url, { idleStopS: 10 })).status).toBe(400);
      // The other tenant's defaults are its own; an operator may not read them.
      expect((await call(h.app, w.otherTenantKey, "GET", url)).json.idleStopS).toBeNull();
      expect((await call(h.app, w.operatorKey, "GET", url)).status).toBe(403);
      const a = await submit({ kind: "instance" });
      expect(a.json.spec.instance).toEqual({ ports: [], maxDurationS: 28_800, idleStopS: 1800 });
      const b = await submit({ kind: "instance", idleStopS: 0, maxDurationS: 3600 });
      expect(b.json.spec.instance).toEqual({ ports: [], maxDurationS: 3600 });
      // Clearing one keeps the other.
      expect((await call(h.app, w.tenantKey, "PUT", url, { idleStopS: null })).json).toEqual({
        maxDurationS: 28_800,
        idleStopS: null,
      });
      await call(h.app, w.tenantKey, "PUT", url, { maxDurationS: 0 });
      for (const id of [a.json.id, b.json.id])
        await call(h.app, w.tenantKey, "POST", `/v1/jobs/${id}/cancel`);
    });

    it("--idle-stop stops an instance with no GPU utilisation and no relay traffic, with a notice", async () => {
      if (!available) return;
      const { jobId, leaseId, startedAt } = await start({ idleStopS: 120 });
      // A minute in, the GPUs are busy: the idle clock starts again from there.
      await pass(60_000);
      running.set(leaseId, { startedAt, gpuUtilPct: 80 });
      await beat();
      running.set(leaseId, { startedAt, gpuUtilPct: 0 });
      const busyAt = h.clock.now();
      // 90 s later, relay traffic: again.
      await pass(90_000);
      relay.set(jobId, h.clock.now());
      const relayAt = h.clock.now();
      await pass(115_000);
      expect((await job(jobId)).state).toBe("running");
      expect(relayAt - busyAt).toBeLessThan(120_000);
      // 2 minutes after the last relay byte, it stops (the next heartbeat carries the stop).
      await pass(5_000);
      await beat();
      const j = await job(jobId);
      expect(j.state).toBe("cancelled");
      expect(j.stateReason).toMatch(/^idle-stop: no GPU utilisation and no relay traffic for 2m/);
      const lease = j.leases.find((l: { id: string }) => l.id === leaseId);
      // Billed to the server's time of the stop: 2 minutes after the relay traffic.
      expect(lease.stopRequestedAt - relayAt).toBe(120_000);
      const events = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${jobId}/events`)).json as {
        message: string;
      }[];
      expect(
        events.some((e) => /^idle-stop: .*; stopping \(SIGTERM, 10 s grace\), billed until/.test(e.message)),
      ).toBe(true);
    });

    it("--max-duration stops an instance however busy it is", async () => {
      if (!available) return;
      const { jobId, leaseId, startedAt } = await start({ maxDurationS: 120, idleStopS: 3600 });
      running.set(leaseId, { startedAt, gpuUtilPct: 100 });
      await pass(115_000);
      expect((await job(jobId)).state).toBe("running");
      await pass(5_000);
      await beat();
      const j = await job(jobId);
      expect(j.state).toBe("cancelled");
      expect(j.stateReason).toMatch(/^max-duration: ran 2m/);
      const lease = j.leases.find((l: { id: string }) => l.id === leaseId);
      expect(lease.stopRequestedAt - startedAt).toBe(120_000);
    });

    it("an instance without guardrails keeps running; another tenant sees none of it", async () => {
      if (!available) return;
      const { jobId } = await start({});
      await pass(60_000);
      expect((await job(jobId)).state).toBe("running");
      expect((await call(h.app, w.otherTenantKey, "GET", `/v1/jobs/${jobId}`)).status).toBe(404);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${jobId}/cancel`);
      await beat();
      expect((await job(jobId)).state).toBe("cancelled");
    });
  });
}
