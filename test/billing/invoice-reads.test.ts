// Invoices served from the charge runs' state: on both stores, the served invoice equals the one built
// the old way (charge the month's leases, then meter each job on its own) for the same data: jobs at two
// sites, a job across a month's end, a cancel, late usage for an ended lease, a PPA; concurrent identical
// requests share one build, and a new charge rebuilds.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { billingRoutes } from "../../src/api/routes/billing.js";
import type { Principal } from "../../src/control/index.js";
import { ledgerServiceFor, type LedgerService } from "../../src/control/ledger-service.js";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const MIN = 60_000;

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`invoice reads: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    let ledger: LedgerService;
    let tenant: Principal;
    let cancelled: { jobId: string; leaseId: string; country: "ES" | "FI" };
    const nodes: Record<string, { nodeKey: string; nodeId: string; seq: number }> = {};

    /** Submits a 1-GPU job pinned to a country, lets the node start it, returns its lease. */
    const start = async (country: "ES" | "FI") => {
      const node = nodes[country]!;
      const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: ["H100"],
        countries: [country],
        command: ["train"],
        gpus: 1,
      });
      expect(sub.status).toBe(201);
      await heartbeat(h.app, node.nodeKey);
      await h.loop.tick();
      const a = (await heartbeat(h.app, node.nodeKey)).assignments.find((x) => x.jobId === sub.json.id)!;
      await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: a.leaseId, phase: "running", startedAt: h.clock.now() }],
      });
      return { jobId: sub.json.id as string, leaseId: a.leaseId, country };
    };
    const usage = async (l: { leaseId: string; country: string }, fromMs: number, toMs: number) => {
      const node = nodes[l.country]!;
      if (h.clock.now() < toMs) h.clock.set(toMs);
      const r = await call(h.app, node.nodeKey, "POST", "/v1/agent/usage", {
        records: [
          {
            nodeId: node.nodeId,
            seq: ++node.seq,
            leaseId: l.leaseId,
            fromMs,
            toMs,
            gpuMs: toMs - fromMs,
            energyMilliWh: Math.round((toMs - fromMs) / 10),
            energySource: "modelled",
          },
        ],
      });
      expect(r.status).toBe(200);
    };
    const end = async (l: { leaseId: string; country: string }) =>
      call(h.app, nodes[l.country]!.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: l.leaseId, phase: "succeeded", exitCode: 0, endedAt: h.clock.now() }],
      });
    const both = async (month: string) => {
      const served = await ledger.invoice(tenant, month);
      const reference = await ledger.invoiceReference(tenant, month);
      return { served, reference, again: await ledger.invoice(tenant, month) };
    };

    beforeAll(async () => {
      h = await startHarness(factory, [billingRoutes]);
      h.clock.set(Date.UTC(2026, 9, 31, 22, 0, 0));
      w = await buildWorld(h.app, h.adminKey);
      for (const c of ["ES", "FI"] as const) {
        const site = c === "ES" ? w.sites.es : w.sites.fi;
        nodes[c] = { ...(await enrolNode(h.app, w.operatorKey, site, `n-${c}`)), seq: 0 };
      }
      ledger = ledgerServiceFor(h.services.ctx);
      tenant = { role: "tenant", ownerId: w.tenantId, keyId: "t" };
    });
    afterAll(async () => h?.close());

    it("serves the same invoice as charging the month and metering each job, for jobs across sites and months", async () => {
      const t = h.clock.now();
      // A job across the end of October, one per site in November, one cancelled, one with late usage.
      const across = await start("ES");
      await usage(across, t, t + 90 * MIN);
      await usage(across, t + 120 * MIN, t + 150 * MIN);
      await end(across);
      const es = await start("ES");
      const fi = await start("FI");
      cancelled = await start("ES");
      const t1 = h.clock.now();
      await usage(es, t1, t1 + 30 * MIN);
      await usage(fi, t1, t1 + 45 * MIN);
      expect((await call(h.app, w.tenantKey, "POST", `/v1/jobs/${cancelled.jobId}/cancel`)).status).toBe(200);
      await usage(cancelled, t1, t1 + 50 * MIN);
      await end(es);
      await end(fi);
      const ppa = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/contracts`, {
        kind: "ppa",
        periodStart: Date.UTC(2026, 10, 1),
        periodEnd: Date.UTC(2026, 11, 1),
        kwh: 0.01,
      });
      expect(ppa.status).toBe(201);
      const oct = await both("2026-10");
      expect(oct.served.lines.length).toBeGreaterThan(0);
      expect(oct.served).toEqual(oct.reference);
      expect(oct.again).toEqual(oct.reference);
      const nov = await both("2026-11");
      expect(nov.served.lines.map((l) => l.jobId).sort()).toEqual(
        [across.jobId, es.jobId, fi.jobId, cancelled.jobId].sort(),
      );
      expect(nov.served.energy?.length ?? 0).toBeGreaterThanOrEqual(4);
      expect(nov.served).toEqual(nov.reference);
      expect(nov.again).toEqual(nov.reference);
      // Late usage for the long-ended FI lease: the served invoice picks it up without a full run.
      h.clock.set(h.clock.now() + 60 * MIN);
      await usage(fi, t1 + 45 * MIN, t1 + 50 * MIN);
      const late = await ledger.invoice(tenant, "2026-11");
      expect(late.totals.gpuSeconds).toBe(nov.served.totals.gpuSeconds + 300);
      expect(late).toEqual(await ledger.invoiceReference(tenant, "2026-11"));
      // The HTTP route serves the same bytes as the reference renders.
      const http = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
      expect(http.json).toEqual(JSON.parse(JSON.stringify(late)));
    });

    it("builds once for concurrent identical requests and again only when something new is charged", async () => {
      const before = ledger.invoiceBuilds;
      const four = await Promise.all([1, 2, 3, 4].map(() => ledger.invoice(tenant, "2026-11")));
      expect(ledger.invoiceBuilds - before).toBeLessThanOrEqual(1);
      for (const inv of four) expect(inv).toEqual(four[0]);
      const cached = ledger.invoiceBuilds;
      await ledger.invoice(tenant, "2026-11");
      expect(ledger.invoiceBuilds).toBe(cached);
      const l = await start("FI");
      const t = h.clock.now();
      await usage(l, t, t + 10 * MIN);
      const fresh = await ledger.invoice(tenant, "2026-11");
      expect(ledger.invoiceBuilds).toBe(cached + 1);
      expect(fresh.lines.some((x) => x.leaseId === l.leaseId)).toBe(true);
      // Meanwhile the loop ended the cancelled lease with its end at its start (before the previous
      // run): the incremental run still charges the shrunk window, as the reference does.
      expect(fresh.lines.some((x) => x.leaseId === cancelled.leaseId)).toBe(false);
      expect(fresh).toEqual(await ledger.invoiceReference(tenant, "2026-11"));
    });
  });
}
