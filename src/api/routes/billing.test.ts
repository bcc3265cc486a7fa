// The billing routes over both stores: invoices (JSON, CSV, HTML), payouts, top-ups, month closing,
// balances, roles, and the billing window (usage after a cancel is not billed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, simGpus, type World } from "../../../test/helpers/fixtures.js";
import { call, startHarness, type Harness } from "../../../test/helpers/harness.js";
import { STORES } from "../../../test/helpers/stores.js";
import { ledgerServiceFor } from "../../control/ledger-service.js";
import { billingRoutes } from "./billing.js";

const HOUR = 3_600_000;

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`billing routes: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    let node: { nodeKey: string; nodeId: string };
    let seq = 0;
    const t0 = Date.UTC(2026, 10, 2, 8, 0, 0);

    const hb = async () =>
      (
        await call(h.app, node.nodeKey, "POST", "/v1/agent/heartbeat", {
          gpus: simGpus("H100", 8),
          health: { healthy: true, reasons: [] },
          workloads: [],
        })
      ).json as { assignments: { leaseId: string; jobId: string }[] };
    const runJob = async (gpus: number) => {
      const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["train"],
        gpus,
      });
      expect(sub.status).toBe(201);
      await hb();
      await h.loop.tick();
      const a = (await hb()).assignments.find((x) => x.jobId === sub.json.id)!;
      await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: a.leaseId, phase: "running", startedAt: h.clock.now() }],
      });
      return { jobId: sub.json.id as string, leaseId: a.leaseId };
    };
    const usage = async (leaseId: string, fromMs: number, toMs: number, gpuMs: number) => {
      // An agent reports an interval once it has passed (the server refuses future-dated usage).
      if (h.clock.now() < toMs) h.clock.set(toMs);
      const r = await call(h.app, node.nodeKey, "POST", "/v1/agent/usage", {
        records: [
          {
            nodeId: node.nodeId,
            seq: ++seq,
            leaseId,
            fromMs,
            toMs,
            gpuMs,
            energyMilliWh: 1000,
            energySource: "modelled",
          },
        ],
      });
      expect(r.status).toBe(200);
    };

    beforeAll(async () => {
      h = await startHarness(factory, [billingRoutes]);
      h.clock.set(t0);
      w = await buildWorld(h.app, h.adminKey);
      node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    });
    afterAll(async () => h?.close());

    it("bills a job's metered GPU-seconds at its locked price with Spanish VAT, in JSON, CSV and HTML", async () => {
      const { jobId, leaseId } = await runJob(2);
      // 30 min on 2 GPUs = 3,600,000 GPU-ms, plus 1,500 GPU-ms more: 3,602 GPU-s billed (a started second is billed).
      await usage(leaseId, t0, t0 + HOUR / 2, HOUR);
      await usage(leaseId, t0 + HOUR / 2, t0 + HOUR / 2 + 750, 1_500);
      h.clock.set(t0 + HOUR);
      const inv = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
      expect(inv.status).toBe(200);
      expect(inv.json.lines).toHaveLength(1);
      // 3,602 GPU-s x 240 / 3600 = 240.13 -> 240 cents; VAT 21 % = 50.4 -> 50.
      expect(inv.json.lines[0]).toMatchObject({
        jobId,
        leaseId,
        gpuSeconds: 3602,
        rateMinorPerGpuHour: 240,
        amountMinor: 240,
        vatKind: "domestic",
        vatRateBps: 2100,
        vatMinor: 50,
      });
      expect(inv.json.totals).toEqual({ gpuSeconds: 3602, netMinor: 240, vatMinor: 50, totalMinor: 290 });
      const again = await h.app.inject({
        method: "GET",
        url: "/v1/invoices/2026-11",
        headers: { authorization: `Bearer ${w.tenantKey}` },
      });
      expect(again.body).toBe(`${JSON.stringify(inv.json, null, 2)}\n`);
      const csv = await h.app.inject({
        method: "GET",
        url: "/v1/invoices/2026-11?format=csv",
        headers: { authorization: `Bearer ${w.tenantKey}` },
      });
      expect(csv.headers["content-type"]).toMatch(/^text\/csv/);
      expect(csv.body.split("\r\n")[0]).toMatch(/^type,job_id,lease_id/);
      expect(csv.body).toContain(`line,${jobId},${leaseId}`);
      const html = await h.app.inject({
        method: "GET",
        url: "/v1/invoices/2026-11",
        headers: { authorization: `Bearer ${w.tenantKey}`, accept: "text/html" },
      });
      expect(html.headers["content-type"]).toMatch(/^text\/html/);
      expect(html.body).toMatch(/<html/i);
      expect(html.body).toContain("2.90");
    });

    it("stops billing when a cancel is asked for, whatever the agent reports afterwards", async () => {
      const { jobId, leaseId } = await runJob(1);
      const start = h.clock.now();
      h.clock.set(start + 600_000);
      expect((await call(h.app, w.tenantKey, "POST", `/v1/jobs/${jobId}/cancel`)).status).toBe(200);
      // One record over 20 minutes, of which only the first 10 are inside the billing window.
      await usage(leaseId, start, start + 1_200_000, 1_200_000);
      const inv = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
      const line = inv.json.lines.find((l: { leaseId: string }) => l.leaseId === leaseId);
      expect(line.gpuSeconds).toBe(600);
      expect(line.amountMinor).toBe(40);
    });

    it("lets tenants read only their own invoices and admins name the tenant", async () => {
      expect(
        (await call(h.app, w.otherTenantKey, "GET", `/v1/invoices/2026-11?tenantId=${w.tenantId}`)).status,
      ).toBe(403);
      const other = await call(h.app, w.otherTenantKey, "GET", "/v1/invoices/2026-11");
      expect(other.status).toBe(200);
      expect(other.json.lines).toEqual([]);
      expect((await call(h.app, h.adminKey, "GET", "/v1/invoices/2026-11")).status).toBe(400);
      const admin = await call(h.app, h.adminKey, "GET", `/v1/invoices/2026-11?tenantId=${w.tenantId}`);
      expect(admin.json.totals.netMinor).toBe(280);
      expect((await call(h.app, w.operatorKey, "GET", "/v1/invoices/2026-11")).status).toBe(403);
      const bad = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-13");
      expect(bad.status).toBe(400);
      expect(bad.json.detail).toMatch(/YYYY-MM/);
    });

    it("gives the operator a payout statement (gross, fee, net) and hides it from others", async () => {
      const p = await call(h.app, w.operatorKey, "GET", "/v1/payouts/2026-11");
      expect(p.status).toBe(200);
      // Fee is the platform setting (default 1000 bps = 10 %): 10 % of 240 = 24, of 40 = 4.
      expect(p.json.totals).toEqual({ gpuSeconds: 4202, grossMinor: 280, feeMinor: 28, netMinor: 252 });
      expect(
        (await call(h.app, w.otherOperatorKey, "GET", `/v1/payouts/2026-11?operatorId=${p.json.operatorId}`))
          .status,
      ).toBe(403);
      expect((await call(h.app, w.tenantKey, "GET", "/v1/payouts/2026-11")).status).toBe(403);
      const csv = await h.app.inject({
        method: "GET",
        url: "/v1/payouts/2026-11?format=csv",
        headers: { authorization: `Bearer ${w.operatorKey}` },
      });
      expect(csv.headers["content-type"]).toMatch(/^text\/csv/);
    });

    it("takes idempotent top-ups from admins only and shows balances that sum to zero", async () => {
      const url = `/v1/tenants/${w.tenantId}/topups`;
      expect((await call(h.app, w.tenantKey, "POST", url, { amountMinor: 500 })).status).toBe(403);
      expect((await call(h.app, h.adminKey, "POST", url, { amountMinor: -5 })).status).toBe(400);
      const first = await call(h.app, h.adminKey, "POST", url, {
        amountMinor: 10_000,
        idempotencyKey: "wire-1",
      });
      expect(first.status).toBe(201);
      // Charged so far: 290 + 40 + 8 VAT = 338.
      expect(first.json.balanceMinor).toBe(10_000 - 338);
      const again = await call(h.app, h.adminKey, "POST", url, {
        amountMinor: 10_000,
        idempotencyKey: "wire-1",
      });
      expect(again.status).toBe(200);
      expect(again.json.balanceMinor).toBe(10_000 - 338);
      expect(
        (await call(h.app, h.adminKey, "POST", url, { amountMinor: 9_999, idempotencyKey: "wire-1" })).status,
      ).toBe(409);
      expect(
        (await call(h.app, h.adminKey, "POST", "/v1/tenants/nobody/topups", { amountMinor: 1 })).status,
      ).toBe(404);
      const b = await call(h.app, h.adminKey, "GET", "/v1/ledger/balances");
      expect(b.status).toBe(200);
      expect(b.json.trialBalance).toEqual([{ currency: "EUR", sumMinor: 0 }]);
      expect(
        b.json.accounts.find((a: { account: string }) => a.account === "platform:fees").balanceMinor,
      ).toBe(28);
      expect((await call(h.app, w.tenantKey, "GET", "/v1/ledger/balances")).status).toBe(403);
      const bal = await ledgerServiceFor(h.services.ctx).tenantBalance({
        role: "tenant",
        ownerId: w.tenantId,
        keyId: "k",
      });
      expect(bal).toMatchObject({
        balanceMinor: 9_662,
        spentMinor: 338,
        paidInMinor: 10_000,
        creditLimitMinor: 100_000,
      });
    });

    it("closes an ended month once and bills late usage in the next month with a note", async () => {
      const { leaseId } = await runJob(1);
      const start = h.clock.now();
      expect((await call(h.app, h.adminKey, "POST", "/v1/periods/2026-11/close")).status).toBe(409);
      expect((await call(h.app, w.tenantKey, "POST", "/v1/periods/2026-10/close")).status).toBe(403);
      h.clock.set(Date.UTC(2026, 11, 1, 0, 0, 5));
      const before = (await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11")).json;
      const c = await call(h.app, h.adminKey, "POST", "/v1/periods/2026-11/close");
      expect(c.status).toBe(200);
      expect(c.json).toMatchObject({ period: "2026-11", closed: true });
      expect((await call(h.app, h.adminKey, "POST", "/v1/periods/2026-11/close")).json.alreadyClosed).toBe(
        true,
      );
      // Usage of November arrives after the close: it goes on December's invoice.
      await usage(leaseId, start, start + 60_000, 60_000);
      const nov = (await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11")).json;
      expect(nov).toEqual(before);
      const dec = (await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-12")).json;
      expect(dec.lines).toEqual([
        expect.objectContaining({
          leaseId,
          usagePeriod: "2026-11",
          gpuSeconds: 60,
          note: "late usage from 2026-11 (period closed), billed in 2026-12",
        }),
      ]);
    });

    it("decides spend and admission from the ledger balance, the credit line and the running burn", async () => {
      const ledger = ledgerServiceFor(h.services.ctx);
      const bal = await ledger.tenantBalance({ role: "tenant", ownerId: w.tenantId, keyId: "k" });
      // Running: the 2-GPU and the last 1-GPU job at 2.40/GPU-h plus 21 % VAT: (480 + 101) + (240 + 50).
      expect(bal.runningLeases).toBe(2);
      expect(bal.burnMinorPerHour).toBe(871);
      expect(bal.availableMinor).toBe(bal.balanceMinor + 100_000);
      const room = bal.availableMinor - 871;
      expect((await ledger.canAdmit(w.tenantId, room)).ok).toBe(true);
      const no = await ledger.canAdmit(w.tenantId, room + 1);
      expect(no).toMatchObject({ ok: false, availableMinor: room });
      expect(no.reason).toMatch(/top up or raise the credit limit/);
      expect(await ledger.firstHourCostMinor(w.tenantId, 2, 240, "ES")).toBe(581);
      const decisions = await ledger.spendDecisions();
      expect(decisions.find((d) => d.tenantId === w.tenantId)).toMatchObject({
        decision: "ok",
        burnMinorPerHour: 871,
      });
    });

    it("runs a charge on demand for admins and posts nothing when nothing changed", async () => {
      expect((await call(h.app, w.tenantKey, "POST", "/v1/ledger/charge")).status).toBe(403);
      const r = await call(h.app, h.adminKey, "POST", "/v1/ledger/charge?all=true");
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ full: true, posted: 0, conflicts: 0 });
      expect(await h.store.ledger.unbalancedTransactions()).toEqual([]);
    });
  });
}
