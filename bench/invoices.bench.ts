// Invoice reads under load (issue 13): one tenant with 430 jobs in a month on SQLite, a real HTTP
// server in this process, 4 clients requesting the tenant's invoice back to back while a probe reads
// /healthz every 20 ms. Baseline (same process, same data): the invoice as built before, charging the
// month's leases and metering each job on its own per request (LedgerService.invoiceReference).
// ZUMBIDO_BENCH_INVOICE_S sets each phase's seconds (default 10).
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { TENANTS } from "../src/api/access.js";
import { who } from "../src/api/auth.js";
import { billingRoutes } from "../src/api/routes/billing.js";
import type { Services } from "../src/api/server.js";
import { ledgerServiceFor } from "../src/control/ledger-service.js";
import { buildWorld, enrolNode, heartbeat } from "../test/helpers/fixtures.js";
import { call, startHarness, type Harness } from "../test/helpers/harness.js";
import { STORES } from "../test/helpers/stores.js";

const JOBS = 430;
const CLIENTS = 4;
const MIN = 60_000;

/** The pre-cache invoice, served over HTTP like the real route (the benchmark's baseline). */
async function referenceRoute(app: FastifyInstance, services: Services): Promise<void> {
  const ledger = ledgerServiceFor(services.ctx);
  app.get<{ Params: { month: string } }>(
    "/bench/reference-invoices/:month",
    {
      config: { access: TENANTS, cost: "expensive" },
      schema: { hide: true, params: z.object({ month: z.string() }) },
    },
    async (req) => ledger.invoiceReference(who(req), req.params.month),
  );
}

/** 430 one-GPU jobs of one tenant at one site, each 40 minutes of usage in four records, in November. */
export async function seed(h: Harness): Promise<{ tenantKey: string }> {
  const w = await buildWorld(h.app, h.adminKey);
  const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
  let seq = 0;
  for (let done = 0; done < JOBS;) {
    const batch = Math.min(8, JOBS - done);
    const ids: string[] = [];
    for (let i = 0; i < batch; i++) {
      const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["train"],
        gpus: 1,
      });
      if (sub.status !== 201) throw new Error(`submit: ${JSON.stringify(sub.json)}`);
      ids.push(sub.json.id as string);
    }
    await heartbeat(h.app, node.nodeKey);
    await h.loop.tick();
    const leases = (await heartbeat(h.app, node.nodeKey)).assignments.filter((a) => ids.includes(a.jobId));
    const t = h.clock.now();
    await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: leases.map((a) => ({ leaseId: a.leaseId, phase: "running", startedAt: t })),
    });
    h.clock.set(t + 40 * MIN);
    const records = leases.flatMap((a) =>
      [0, 1, 2, 3].map((k) => ({
        nodeId: node.nodeId,
        seq: ++seq,
        leaseId: a.leaseId,
        fromMs: t + k * 10 * MIN,
        toMs: t + (k + 1) * 10 * MIN,
        gpuMs: 10 * MIN,
        energyMilliWh: 100_000,
        energySource: "modelled",
      })),
    );
    const u = await call(h.app, node.nodeKey, "POST", "/v1/agent/usage", { records });
    if (u.status !== 200) throw new Error(`usage: ${JSON.stringify(u.json)}`);
    await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
      workloads: leases.map((a) => ({
        leaseId: a.leaseId,
        phase: "succeeded",
        exitCode: 0,
        endedAt: t + 40 * MIN,
      })),
    });
    h.clock.set(t + 60 * MIN);
    done += leases.length;
  }
  return { tenantKey: w.tenantKey };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

interface Phase {
  healthP50: number;
  healthP95: number;
  probes: number;
  invoices: number;
  invoiceMeanMs: number;
}

/** 4 clients on `path` for `seconds` while a probe times /healthz. */
async function phase(base: string, key: string, path: string | null, seconds: number): Promise<Phase> {
  const until = performance.now() + seconds * 1000;
  const health: number[] = [];
  const took: number[] = [];
  const client = async (): Promise<void> => {
    while (path && performance.now() < until) {
      const t = performance.now();
      const r = await fetch(base + path, { headers: { authorization: `Bearer ${key}` } });
      await r.text();
      if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
      took.push(performance.now() - t);
    }
  };
  const probe = async (): Promise<void> => {
    while (performance.now() < until) {
      const t = performance.now();
      await (await fetch(`${base}/healthz`)).text();
      health.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all([probe(), ...Array.from({ length: CLIENTS }, client)]);
  return {
    healthP50: pct(health, 50),
    healthP95: pct(health, 95),
    probes: health.length,
    invoices: took.length,
    invoiceMeanMs: took.length ? took.reduce((a, b) => a + b, 0) / took.length : 0,
  };
}

const fmt = (p: Phase): string =>
  `/healthz p50 ${p.healthP50.toFixed(1)} ms, p95 ${p.healthP95.toFixed(1)} ms (${p.probes} probes); ` +
  `${p.invoices} invoices, mean ${p.invoiceMeanMs.toFixed(0)} ms`;

/** Seeds the tenant, then times /healthz idle, under cached invoices, and under the per-request baseline. */
export default async function invoicesBench(): Promise<void> {
  const seconds = Number(process.env.ZUMBIDO_BENCH_INVOICE_S ?? 10);
  const h = await startHarness(STORES[0]!, [billingRoutes, referenceRoute]);
  try {
    const t0 = performance.now();
    const { tenantKey } = await seed(h);
    console.log(
      `seeded ${JOBS} jobs (${JOBS * 4} usage records) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const ledger = ledgerServiceFor(h.services.ctx);
    await ledger.charge({ all: true });
    // The server's clock runs in real time from here, so cached invoices age and the charge timer fires.
    const tick = setInterval(() => h.clock.set(h.clock.now() + 100), 100);
    const base = await h.app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const ref = await call(h.app, tenantKey, "GET", "/bench/reference-invoices/2026-11");
      const served = await call(h.app, tenantKey, "GET", "/v1/invoices/2026-11");
      const same = JSON.stringify(ref.json) === JSON.stringify(served.json);
      console.log(
        `invoice: ${served.json.lines.length} lines, ${served.json.energy.length} energy rows; same as the baseline's: ${same}`,
      );
      const idle = await phase(base, tenantKey, null, Math.min(3, seconds));
      console.log(`idle: ${fmt(idle)}`);
      const builds = ledger.invoiceBuilds;
      const after = await phase(base, tenantKey, "/v1/invoices/2026-11", seconds);
      console.log(
        `served from the charge runs' state: ${fmt(after)}; ${ledger.invoiceBuilds - builds} builds`,
      );
      const before = await phase(base, tenantKey, "/bench/reference-invoices/2026-11", seconds);
      console.log(`baseline, charge run + per-job energy per request: ${fmt(before)}`);
      console.log(
        `/healthz p95 baseline/served x${(before.healthP95 / Math.max(0.001, after.healthP95)).toFixed(0)}; ` +
          `invoices per second x${(after.invoices / Math.max(1, before.invoices)).toFixed(0)}`,
      );
    } finally {
      clearInterval(tick);
    }
  } finally {
    await h.close();
  }
}
