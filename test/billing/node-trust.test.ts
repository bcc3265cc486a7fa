// Issue 12, the node's side of trust, over HTTP on SQLite and PostgreSQL: GPU inventory changes
// need approval (a node enrolled with 4 x L40S that re-declares 64 x H200 is held, tenants keep
// seeing 4 x L40S), admin-approval mode, node keys (HMAC at rest, revoke, rotate with overlap, an
// agent picking up a rotated key), node removal (leases lost, billed to their last accepted usage).
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../src/agent/agent.js";
import { ModelledEnergyMeter } from "../../src/agent/energy-model.js";
import { LocalExecutor } from "../../src/agent/executors/local.js";
import { simulatedGpuSource } from "../../src/agent/gpu-source.js";
import { installNodeKey } from "../../src/agent/outbox.js";
import { billingRoutes } from "../../src/api/routes/billing.js";
import { consoleDataRoutes } from "../../src/api/routes/console-data.js";
import { buildWorld, enrolNode, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

type Gpus = ReturnType<typeof simGpus>;
const gpus = (model: string, n: number, memoryMb: number): Gpus =>
  simGpus(model, n).map((g) => ({ ...g, memoryMb }));
const L40S = gpus("L40S", 4, 46_068);
const H200 = gpus("H200", 64, 143_771);

for (const factory of STORES) {
  const available = await factory.available();
  if (!available && process.env.CI === "true")
    throw new Error(`${factory.name} is not reachable; CI needs it`);
  describe.skipIf(!available)(`node inventory, keys and removal over HTTP: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    const dirs: string[] = [];

    const hb = async (key: string, g: Gpus, workloads: unknown[] = []) =>
      call(h.app, key, "POST", "/v1/agent/heartbeat", {
        gpus: g,
        health: { healthy: true, reasons: [] },
        workloads,
      });
    const submit = async (model: string, n = 1) => {
      const r = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: [model],
        countries: ["ES"],
        command: ["train"],
        gpus: n,
      });
      expect(r.status).toBe(201);
      return r.json.id as string;
    };
    const capacity = async (model: string) => {
      const r = await call(h.app, w.tenantKey, "GET", "/v1/capacity");
      expect(r.status).toBe(200);
      const rows = (
        r.json as { siteId: string; gpuModel: string; totalGpus: number; freeGpus: number }[]
      ).filter((x) => x.siteId === w.sites.es && x.gpuModel === model);
      return { total: rows[0]?.totalGpus ?? 0, free: rows[0]?.freeGpus ?? 0 };
    };
    const jobState = async (id: string) => (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}`)).json;

    beforeAll(async () => {
      h = await startHarness(factory, [billingRoutes, consoleDataRoutes]);
      w = await buildWorld(h.app, h.adminKey);
      // Only this test's nodes sell L40S and H200 in Asturias.
      for (const m of ["L40S", "H200"])
        await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/prices/${m}`, {
          onDemandMinorPerGpuHour: 100,
          interruptibleMinorPerGpuHour: 50,
        });
    });
    afterAll(async () => {
      await h?.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it("holds a 4 x L40S node that re-declares 64 x H200: capacity unchanged, its lease runs on, approval updates capacity", async () => {
      const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "hall-l40s", L40S);
      expect(await capacity("L40S")).toEqual({ total: 4, free: 4 });
      const job = await submit("L40S");
      await hb(node.nodeKey, L40S);
      await h.loop.tick();
      const a = (await hb(node.nodeKey, L40S)).json.assignments[0] as { leaseId: string; jobId: string };
      expect(a.jobId).toBe(job);
      const running = [{ leaseId: a.leaseId, phase: "running", startedAt: h.clock.now() }];
      await hb(node.nodeKey, L40S, running);

      // The node now says it has 64 x H200.
      h.clock.advance(1000);
      const rogue = await hb(node.nodeKey, H200, running);
      expect(rogue.status).toBe(200);
      expect(rogue.json.stops).toEqual([]);
      expect(await capacity("L40S")).toEqual({ total: 4, free: 0 });
      expect(await capacity("H200")).toEqual({ total: 0, free: 0 });
      const seen = await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}`);
      expect(seen.json.held).toMatch(/inventory change pending approval: reports 64 x H200/);
      const inv = await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}/inventory`);
      expect(inv.json).toMatchObject({ pending: true, approver: "operator", changedAt: h.clock.now() });
      expect(inv.json.approved).toHaveLength(4);
      expect(inv.json.reported).toHaveLength(64);
      // Others may not look or approve.
      expect((await call(h.app, w.tenantKey, "GET", `/v1/nodes/${node.nodeId}/inventory`)).status).toBe(403);
      expect(
        (await call(h.app, w.otherOperatorKey, "POST", `/v1/nodes/${node.nodeId}/inventory/approve`, {}))
          .status,
      ).toBe(404);

      // The operator's console view shows the pending change.
      const sum = await call(h.app, w.operatorKey, "GET", "/v1/operator/summary");
      const view = (sum.json.sites as { nodes: { id: string; inventory: unknown }[] }[])
        .flatMap((x) => x.nodes)
        .find((n) => n.id === node.nodeId)!;
      expect(view.inventory).toMatchObject({
        approved: "4 x L40S (46068 MiB)",
        reported: "64 x H200 (143771 MiB)",
        approver: "operator",
      });

      // Held: neither the H200 job nor another L40S job is placed; the running lease goes on.
      const h200Job = await submit("H200", 4);
      const l40sJob = await submit("L40S");
      await h.loop.tick();
      const held = await hb(node.nodeKey, H200, running);
      expect(held.json.assignments).toEqual([]);
      expect(held.json.stops).toEqual([]);
      expect((await jobState(job)).state).toBe("running");
      expect((await jobState(h200Job)).state).toBe("pending");
      const waiting = await jobState(l40sJob);
      expect(waiting.state).toBe("pending");
      expect(waiting.reasons.join("; ")).toMatch(/held until an inventory change is approved/);

      // 64 GPUs is more than a node may have: the change cannot be approved, the node stays held.
      const tooBig = await call(
        h.app,
        w.operatorKey,
        "POST",
        `/v1/nodes/${node.nodeId}/inventory/approve`,
        {},
      );
      expect(tooBig.status).toBe(400);
      expect(tooBig.json.detail).toMatch(/reports 64 GPUs; a node has at most 32/);
      expect(await capacity("H200")).toEqual({ total: 0, free: 0 });
      // The node settles on 8 x H200 (a real upgrade); an approval of what was seen before is stale.
      h.clock.advance(1000);
      await hb(node.nodeKey, H200.slice(0, 8), running);
      const stale = await call(h.app, w.operatorKey, "POST", `/v1/nodes/${node.nodeId}/inventory/approve`, {
        changedAt: inv.json.changedAt,
      });
      expect(stale.status).toBe(409);
      const now8 = await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}/inventory`);
      expect(now8.json.reported).toHaveLength(8);
      const ok = await call(h.app, w.operatorKey, "POST", `/v1/nodes/${node.nodeId}/inventory/approve`, {
        changedAt: now8.json.changedAt,
      });
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({ pending: false, held: null });
      // GPU 0 still runs the L40S lease.
      expect(await capacity("H200")).toEqual({ total: 8, free: 7 });
      expect(await capacity("L40S")).toEqual({ total: 0, free: 0 });
      await h.loop.tick();
      const placed = await hb(node.nodeKey, H200.slice(0, 8), running);
      expect(placed.json.assignments.map((x: { jobId: string }) => x.jobId)).toEqual([h200Job]);
      expect(placed.json.assignments[0].gpuIndices).not.toContain(0);
      expect((await jobState(job)).state).toBe("running");

      const audit = await call(h.app, w.operatorKey, "GET", "/v1/audit?limit=1000");
      const approvals = (audit.json as { action: string; target: string; status: number }[]).filter(
        (e) => e.action === "POST /v1/nodes/:id/inventory/approve",
      );
      expect(approvals.map((e) => e.status).sort()).toEqual([200, 400, 409]);
      expect(approvals[0]!.target).toContain(node.nodeId);
    });

    it("lets only an admin approve when new operators need admin approval", async () => {
      expect(
        (await call(h.app, w.operatorKey, "PUT", "/v1/settings/inventory-approver", { approver: "admin" }))
          .status,
      ).toBe(403);
      expect(
        (await call(h.app, h.adminKey, "PUT", "/v1/settings/inventory-approver", { approver: "admin" }))
          .status,
      ).toBe(200);
      const op = await call(h.app, h.adminKey, "POST", "/v1/operators", { name: "Strict Hall" });
      expect(op.json.operator.inventoryApprover).toBe("admin");
      const key = op.json.key as string;
      const site = await call(h.app, key, "POST", "/v1/sites", {
        name: "Strict",
        country: "ES",
        lat: 40,
        lon: -3,
        powerKw: 100,
        pue: 1.2,
        cooling: "air",
      });
      const node = await enrolNode(h.app, key, site.json.id, "strict-1", simGpus("H100", 8));
      await hb(node.nodeKey, gpus("H100", 8, 95_000));
      const mine = await call(h.app, key, "POST", `/v1/nodes/${node.nodeId}/inventory/approve`, {});
      expect(mine.status).toBe(403);
      expect(mine.json.detail).toMatch(/approved by an admin/);
      const admin = await call(h.app, h.adminKey, "POST", `/v1/nodes/${node.nodeId}/inventory/approve`, {});
      expect(admin.status).toBe(200);
      expect(admin.json).toMatchObject({ pending: false, approver: "admin" });
      // The admin can hand approval back to the operator; the operator cannot take it.
      const path = `/v1/operators/${op.json.operator.id}/inventory-approver`;
      expect((await call(h.app, key, "PUT", path, { approver: "operator" })).status).toBe(403);
      expect((await call(h.app, h.adminKey, "PUT", path, { approver: "operator" })).status).toBe(200);
      await call(h.app, h.adminKey, "PUT", "/v1/settings/inventory-approver", { approver: "operator" });
    });

    it("stores node keys as HMACs; rotation keeps the old key for the overlap; a revoked key gets 401", async () => {
      const node = await enrolNode(h.app, w.operatorKey, w.sites.fi, "keyed", simGpus("H100", 2));
      const rows = await h.store.db.kysely.selectFrom("api_keys").selectAll().execute();
      const setting = await h.store.accounts.getSetting("api_key_hmac_secret");
      const sha = createHash("sha256").update(node.nodeKey).digest("hex");
      const row = rows.find((r) => r.owner_id === node.nodeId)!;
      expect(row.hash_kind).toBe("hmac");
      expect(row.key_hash).toBe(createHmac("sha256", setting!).update(sha).digest("hex"));
      for (const r of rows) {
        expect(r.hash_kind).toBe("hmac");
        expect(r.key_hash).not.toBe(sha);
        expect(JSON.stringify(r)).not.toContain(node.nodeKey.slice(8));
      }
      const list = await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}/keys`);
      expect(list.json).toHaveLength(1);
      expect(JSON.stringify(list.json)).not.toContain(node.nodeKey);
      expect((await call(h.app, w.otherOperatorKey, "GET", `/v1/nodes/${node.nodeId}/keys`)).status).toBe(
        404,
      );

      const rot = await call(h.app, w.operatorKey, "POST", `/v1/nodes/${node.nodeId}/keys/rotate`, {
        overlapS: 60,
      });
      expect(rot.status).toBe(201);
      expect(rot.json.previous[0].expiresAt).toBe(h.clock.now() + 60_000);
      const fresh = rot.json.key as string;
      expect((await hb(node.nodeKey, simGpus("H100", 2))).status).toBe(200);
      expect((await hb(fresh, simGpus("H100", 2))).status).toBe(200);
      h.clock.advance(61_000);
      expect((await hb(node.nodeKey, simGpus("H100", 2))).status).toBe(401);
      expect((await hb(fresh, simGpus("H100", 2))).status).toBe(200);

      const rev = await call(
        h.app,
        w.operatorKey,
        "DELETE",
        `/v1/nodes/${node.nodeId}/keys/${rot.json.record.id}`,
      );
      expect(rev.status).toBe(200);
      expect(rev.json.revokedAt).toBe(h.clock.now());
      const refused = await hb(fresh, simGpus("H100", 2));
      expect(refused.status).toBe(401);
      expect(refused.json.detail).toMatch(/revoked/);

      const actions = (await call(h.app, w.operatorKey, "GET", "/v1/audit?limit=1000")).json.map(
        (e: { action: string }) => e.action,
      );
      expect(actions).toContain("POST /v1/nodes/:id/keys/rotate");
      expect(actions).toContain("DELETE /v1/nodes/:id/keys/:keyId");
    });

    it("keeps legacy (plain SHA-256) keys working and rewrites them as HMACs", async () => {
      const secret = "zk_tenant_legacy-key-from-before-the-hmac-change";
      await h.store.db.kysely
        .insertInto("api_keys")
        .values({
          id: "key_legacy",
          key_hash: createHash("sha256").update(secret).digest("hex"),
          hash_kind: "sha256",
          prefix: "zk_tenant_lega",
          role: "tenant",
          owner_id: w.tenantId,
          name: "legacy",
          created_at: h.clock.now(),
          expires_at: null,
          revoked_at: null,
        })
        .execute();
      expect((await call(h.app, secret, "GET", "/v1/me")).status).toBe(200);
      expect(await h.store.accounts.upgradeKeyHashes()).toBe(1);
      const row = await h.store.db.kysely
        .selectFrom("api_keys")
        .selectAll()
        .where("id", "=", "key_legacy")
        .executeTakeFirstOrThrow();
      expect(row.hash_kind).toBe("hmac");
      expect((await call(h.app, secret, "GET", "/v1/me")).status).toBe(200);
    });

    it("removes a node: its lease ends as lost, billed to its last accepted usage; its key gets 401", async () => {
      const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "doomed", simGpus("H100", 8));
      const job = await submit("H100");
      await hb(node.nodeKey, simGpus("H100", 8));
      await h.loop.tick();
      const a = (await hb(node.nodeKey, simGpus("H100", 8))).json.assignments.find(
        (x: { jobId: string }) => x.jobId === job,
      ) as { leaseId: string };
      const t = h.clock.now();
      await hb(node.nodeKey, simGpus("H100", 8), [{ leaseId: a.leaseId, phase: "running", startedAt: t }]);
      h.clock.advance(30_000);
      const usage = await call(h.app, node.nodeKey, "POST", "/v1/agent/usage", {
        records: [
          {
            nodeId: node.nodeId,
            seq: 1,
            leaseId: a.leaseId,
            fromMs: t,
            toMs: t + 12_000,
            gpuMs: 12_000,
            energyMwh: 0,
            energySource: "modelled",
          },
        ],
      });
      expect(usage.json).toMatchObject({ accepted: 1, clipped: 0 });
      expect((await call(h.app, w.otherOperatorKey, "DELETE", `/v1/nodes/${node.nodeId}`)).status).toBe(404);
      const del = await call(h.app, w.operatorKey, "DELETE", `/v1/nodes/${node.nodeId}`);
      expect(del.status).toBe(200);
      expect(del.json).toEqual({ nodeId: node.nodeId, keysRevoked: 1, leasesLost: [a.leaseId] });
      expect((await hb(node.nodeKey, simGpus("H100", 8))).status).toBe(401);
      expect((await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}`)).status).toBe(404);
      const j = await jobState(job);
      expect(j.state).toBe("preempted");
      expect(j.leases[0].state).toBe("ended");
      const inv = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
      const line = (inv.json.lines as { leaseId: string; gpuSeconds: number }[]).filter(
        (l) => l.leaseId === a.leaseId,
      );
      expect(line.reduce((s, l) => s + l.gpuSeconds, 0)).toBe(12);
      const actions = (await call(h.app, w.operatorKey, "GET", "/v1/audit?limit=1000")).json.map(
        (e: { action: string }) => e.action,
      );
      expect(actions).toContain("DELETE /v1/nodes/:id");
    });

    it("puts each node's anomalies and reliability on the payout statement; payout and invoice bill accepted usage only", async () => {
      const node = await enrolNode(h.app, w.operatorKey, w.sites.py, "py-rogue", simGpus("H100", 1));
      const r = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: ["H100"],
        countries: ["PY"],
        command: ["train"],
        gpus: 1,
      });
      await hb(node.nodeKey, simGpus("H100", 1));
      await h.loop.tick();
      const a = (await hb(node.nodeKey, simGpus("H100", 1))).json.assignments.find(
        (x: { jobId: string }) => x.jobId === r.json.id,
      ) as { leaseId: string };
      const t = h.clock.now();
      await hb(node.nodeKey, simGpus("H100", 1), [{ leaseId: a.leaseId, phase: "running", startedAt: t }]);
      h.clock.advance(3000);
      const rec = (seq: number, from: number, gpuMs: number) => ({
        nodeId: node.nodeId,
        seq,
        leaseId: a.leaseId,
        fromMs: from,
        toMs: from + 1000,
        gpuMs,
        energyMwh: 0,
        energySource: "modelled",
      });
      const u = await call(h.app, node.nodeKey, "POST", "/v1/agent/usage", {
        records: [rec(1, t + 1000, 1e12), rec(2, t + 2000, 1000)],
      });
      expect(u.json).toMatchObject({ accepted: 2, clipped: 1 });
      await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: a.leaseId, phase: "succeeded", exitCode: 0, endedAt: h.clock.now() }],
      });
      const p = await call(h.app, w.operatorKey, "GET", "/v1/payouts/2026-11");
      expect(p.status).toBe(200);
      expect(p.json.nodes).toContainEqual({
        nodeId: node.nodeId,
        recordsTaken: 1,
        anomalies: 1,
        reliability: 0.5,
      });
      const row = (p.json.rows as { siteId: string; gpuSeconds: number }[]).find(
        (x) => x.siteId === w.sites.py,
      )!;
      expect(row.gpuSeconds).toBe(2);
      const inv = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
      const lines = (inv.json.lines as { leaseId: string; gpuSeconds: number }[]).filter(
        (l) => l.leaseId === a.leaseId,
      );
      expect(lines.reduce((x, l) => x + l.gpuSeconds, 0)).toBe(2);
      const csv = await h.app.inject({
        method: "GET",
        url: "/v1/payouts/2026-11?format=csv",
        headers: { authorization: `Bearer ${w.operatorKey}` },
      });
      expect(csv.body).toContain(`node,${node.nodeId},,,records taken 1,anomalies 1,reliability 0.5,\r\n`);
      const sum = await call(h.app, w.operatorKey, "GET", "/v1/operator/summary");
      const view = (sum.json.sites as { nodes: { id: string; anomalies: number; reliability: number }[] }[])
        .flatMap((x) => x.nodes)
        .find((n) => n.id === node.nodeId)!;
      expect(view).toMatchObject({ anomalies: 1, reliability: 0.5 });
    });

    it("an agent picks up a rotated key installed in its state folder, without a restart", async () => {
      const dir = mkdtempSync(join(tmpdir(), "zumbido-rotate-"));
      dirs.push(dir);
      const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
      const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.py}/enrolment-tokens`);
      const stateDir = join(dir, "agent");
      const agent = new Agent({
        server: url,
        token: tok.json.token as string,
        name: "rotating",
        stateDir,
        executor: new LocalExecutor({
          stateDir: join(dir, "w"),
          now: () => h.clock.now(),
          unsafeHostProcesses: true,
        }),
        gpus: simulatedGpuSource("H100x2"),
        meter: new ModelledEnergyMeter(),
        clock: h.clock,
      });
      try {
        const { nodeId } = await agent.init();
        await agent.tick();
        const rot = await call(h.app, w.operatorKey, "POST", `/v1/nodes/${nodeId}/keys/rotate`, {
          overlapS: 0,
        });
        expect(rot.status).toBe(201);
        installNodeKey(stateDir, rot.json.key as string);
        const before = (await call(h.app, w.operatorKey, "GET", `/v1/nodes/${nodeId}`)).json.lastHeartbeatAt;
        h.clock.advance(2000);
        await agent.tick(); // 401 with the old key; picks up the installed one
        h.clock.advance(2000);
        await agent.tick();
        const after = (await call(h.app, w.operatorKey, "GET", `/v1/nodes/${nodeId}`)).json.lastHeartbeatAt;
        expect(after).toBe(before + 4000);
      } finally {
        await agent.stop();
      }
    });
  });
}
