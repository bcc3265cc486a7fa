// The ledger's storage and the charging pipeline on every store (SQLite file and real PostgreSQL):
// append-only transactions with unique keys, balances in SQL, usage ingest (fast paths) and the SQL
// month sums with billing-window clipping, and charge runs that are idempotent, order-independent
// and equal to the pure core's answer.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clipGpuMs, billingWindow, sequentialIds, type Ctx } from "../../src/control/index.js";
import { LedgerService } from "../../src/control/ledger-service.js";
import { ManualClock, type UsageRecord } from "../../src/domain/index.js";
import { chargeUsage, topupTransaction, tenantAccount, type Transaction } from "../../src/ledger/index.js";
import { DEFAULT_POLICY } from "../../src/scheduler/index.js";
import type { Store } from "../../src/store/index.js";
import { STORES } from "../helpers/stores.js";

const T0 = Date.UTC(2026, 9, 31, 23, 0, 0); // 31 Oct 2026 23:00 UTC: usage straddles two months

function rec(
  nodeId: string,
  seq: number,
  leaseId: string,
  fromMs: number,
  durMs: number,
  gpuMs: number,
): UsageRecord {
  return {
    nodeId,
    seq,
    leaseId,
    fromMs,
    toMs: fromMs + durMs,
    gpuMs,
    energyMilliWh: seq % 5,
    energySource: "modelled",
  };
}

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`ledger conformance: ${factory.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let clock: ManualClock;
    let ctx: Ctx;
    beforeAll(async () => {
      ({ store, cleanup } = await factory.open());
      clock = new ManualClock(T0);
      ctx = {
        store,
        clock,
        ids: sequentialIds(),
        config: {
          currency: "EUR",
          logCapBytes: 1024,
          heartbeatTimeoutMs: 30_000,
          stopGraceS: 10,
          enrolmentTokenTtlMs: 3_600_000,
          policy: DEFAULT_POLICY,
          deferFlexible: false,
          region: "EU (ES)",
        },
        nudge: () => undefined,
      };
      await store.accounts.createOperator({ id: "op1", name: "Hall", createdAt: 1 });
      await store.accounts.createTenant({
        id: "t1",
        name: "Lab",
        country: "ES",
        vatId: null,
        creditLimitMinor: 0,
        createdAt: 1,
      });
      await store.accounts.createTenant({
        id: "t2",
        name: "GmbH",
        country: "DE",
        vatId: "DE123456789",
        creditLimitMinor: 50_000,
        createdAt: 1,
      });
      await store.fleet.createSite({
        id: "s1",
        operatorId: "op1",
        name: "Asturias",
        country: "ES",
        lat: 43,
        lon: -5,
        powerKw: 100,
        pue: 1.2,
        cooling: "air",
        nodeOverheadW: 0,
        carbonGPerKwh: null,
        createdAt: 1,
      });
      for (const [job, tenant, gpus] of [
        ["j1", "t1", [0, 1]],
        ["j2", "t2", [2, 3]],
        ["j3", "t1", [4, 5]],
      ] as const) {
        await store.jobs.createJob({
          id: job,
          tenantId: tenant,
          name: job,
          request: { gpus: 2, gpuModels: ["H100"], command: ["x"] },
          spec: { command: ["x"] },
          state: "pending",
          stateReason: null,
          reasons: [],
          submittedAt: 1,
          startedAt: null,
          endedAt: null,
          exitCode: null,
        } as never);
        const lease = `L-${job}`;
        await store.jobs.commitPlacement(
          job,
          [
            {
              id: lease,
              jobId: job,
              tenantId: tenant,
              siteId: "s1",
              operatorId: "op1",
              nodeId: "n1",
              country: "ES",
              gpuModel: "H100",
              gpuIndices: [...gpus],
              class: "on-demand",
              priceMinorPerGpuHour: 240,
              currency: "EUR",
              createdAt: T0 - 1000,
            },
          ],
          T0 - 1000,
          "placed",
        );
        await store.jobs.markLeaseRunning(lease, T0);
      }
      // L-j3 is cancelled 30 minutes in: billing stops then.
      await store.jobs.requestLeaseStop("L-j3", "cancelled by tenant", T0 + 1_800_000, T0 + 1_810_000);
    });
    afterAll(async () => cleanup?.());

    it("appends transactions once per idempotency key and refuses other content under a used key", async () => {
      const tx = topupTransaction({
        id: "topup:t1:a",
        idempotencyKey: "topup:t1:a",
        at: 5,
        tenantId: "t1",
        amountMinor: 1000,
        currency: "EUR",
      });
      expect(await store.ledger.append([tx])).toEqual({
        appended: ["topup:t1:a"],
        duplicates: [],
        conflicts: [],
      });
      expect(await store.ledger.append([{ ...tx, at: 6 }])).toEqual({
        appended: [],
        duplicates: ["topup:t1:a"],
        conflicts: [],
      });
      const other = topupTransaction({
        id: "topup:t1:a",
        idempotencyKey: "topup:t1:a",
        at: 5,
        tenantId: "t1",
        amountMinor: 999,
        currency: "EUR",
      });
      expect((await store.ledger.append([other])).conflicts).toEqual(["topup:t1:a"]);
      await expect(store.ledger.appendOne(other)).rejects.toMatchObject({ code: "conflict" });
      expect(await store.ledger.count("topup")).toBe(1);
      expect(await store.ledger.balances([tenantAccount("t1")])).toEqual([
        { account: "tenant:t1", currency: "EUR", rawMinor: -1000 },
      ]);
      const back = await store.ledger.transactions({ tenantId: "t1" });
      expect(back).toEqual([tx]);
    });

    it("ingests batches idempotently through the fast path, duplicates inside a batch included", async () => {
      const batch = Array.from({ length: 1_000 }, (_, i) =>
        rec("n1", i + 1, "L-j1", T0 + i * 7_200, 3_600, 7_200),
      );
      expect(await store.usage.insertBatch([...batch, batch[0]!, batch[999]!], 10)).toEqual({
        accepted: 1_000,
        duplicates: 2,
      });
      expect(await store.usage.insertBatch(batch.slice(500, 700), 11)).toEqual({
        accepted: 0,
        duplicates: 200,
      });
      expect((await store.usage.totals()).records).toBe(1_000);
      expect(await store.usage.maxSeq("n1")).toBe(1_000);
    });

    it("sums usage per lease and UTC month in SQL, clipping each record to the billing window as clipGpuMs does", async () => {
      // L-j3: records every 10 min for an hour; the one across the stop at +30 min is clipped pro rata.
      const recs = [0, 1, 2, 3, 4, 5].map((k) =>
        rec("n3", k + 1, "L-j3", T0 + k * 600_000 + 123, 600_000, 1_200_000 + k),
      );
      await store.usage.insertBatch(recs, 12);
      const lease = (await store.jobs.getLease("L-j3"))!;
      const w = billingWindow(lease)!;
      const expected = recs.reduce((a, r) => a + clipGpuMs(r, w), 0);
      const totals = await store.usage.monthTotals(["L-j3"]);
      expect(totals).toEqual([
        {
          leaseId: "L-j3",
          usagePeriod: "2026-10",
          gpuMs: expected,
          meteredGpuMs: recs.reduce((a, r) => a + r.gpuMs, 0),
          energyMilliWh: recs.reduce((a, r) => a + r.energyMilliWh, 0),
          records: 6,
        },
      ]);
      // L-j1's records straddle midnight: months are split by each record's start.
      const j1 = await store.usage.monthTotals(["L-j1"]);
      expect(j1.map((t) => [t.usagePeriod, t.records])).toEqual([
        ["2026-10", 500],
        ["2026-11", 500],
      ]);
    });

    it("charges exactly what the pure core charges from the raw records, once, whatever the order and duplicates", async () => {
      const svc = new LedgerService(ctx);
      clock.set(T0 + 7_200_000);
      const first = await svc.charge({ all: true });
      expect(first.posted).toBeGreaterThan(0);
      expect((await svc.charge({ all: true })).posted).toBe(0);
      const stored = await store.ledger.transactions({ leaseIds: ["L-j1", "L-j3"] });
      const leases = (await store.jobs.leasesByIds(["L-j1", "L-j3"])).map((l) => ({ ...l, feeBps: 1000 }));
      const raw = await store.usage.forLeases(["L-j1", "L-j3"]);
      // The pure core on the same records, clipped to the windows first (the store clips in SQL).
      const clipped = raw.map((r) => ({
        ...r,
        gpuMs: clipGpuMs(r, billingWindow(leases.find((l) => l.id === r.leaseId)!)!),
      }));
      const pure = chargeUsage({
        ledger: [],
        usage: clipped,
        leases,
        tenants: [{ tenantId: "t1", country: "ES", vatId: null }],
        config: { feeBps: 1000, closedPeriods: new Set() },
        at: T0 + 7_200_000,
      });
      const strip = (t: Transaction) => ({ key: t.idempotencyKey, postings: t.postings, line: t.line });
      expect(stored.map(strip)).toEqual(pure.transactions.map(strip));
      expect(await store.ledger.unbalancedTransactions()).toEqual([]);
    });

    it("property: any order, batching and duplication of the same records gives the same ledger", async () => {
      const svc = new LedgerService(ctx);
      let node = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              gpuMs: fc.integer({ min: 0, max: 5_000_000 }),
              startMin: fc.integer({ min: 0, max: 180 }),
            }),
            { minLength: 1, maxLength: 12 },
          ),
          fc.array(fc.nat(), { maxLength: 10 }),
          fc.integer({ min: 1, max: 5 }),
          async (spec, dupIdx, chunks) => {
            node += 1;
            const nodeId = `p${node}`;
            const leaseId = "L-j2";
            const recs = spec.map((s, i) =>
              rec(nodeId, i + 1, leaseId, T0 + s.startMin * 60_000, 60_000, s.gpuMs),
            );
            const before = await store.ledger.transactions({ leaseIds: [leaseId] });
            const beforeMs = before.reduce((a, t) => a + (t.line?.gpuMs ?? 0), 0);
            // Send reversed, with duplicates, in `chunks` batches, charging after each batch.
            const sent = [...recs].reverse().concat(dupIdx.map((d) => recs[d % recs.length]!));
            const size = Math.ceil(sent.length / chunks);
            for (let i = 0; i < sent.length; i += size) {
              await store.usage.insertBatch(sent.slice(i, i + size), 20);
              await svc.charge({ leaseIds: [leaseId] });
            }
            const after = await store.ledger.transactions({ leaseIds: [leaseId] });
            const addedMs = after.reduce((a, t) => a + (t.line?.gpuMs ?? 0), 0) - beforeMs;
            expect(addedMs).toBe(recs.reduce((a, r) => a + r.gpuMs, 0));
            // Per month, billed seconds are ceil(metered ms / 1000): one rounding per line.
            const totals = await store.usage.monthTotals([leaseId]);
            for (const t of totals) {
              const secs = after
                .filter((x) => x.line?.usagePeriod === t.usagePeriod)
                .reduce((a, x) => a + x.line!.gpuSeconds, 0);
              expect(secs).toBe(Math.ceil(t.gpuMs / 1000));
            }
            expect((await svc.charge({ leaseIds: [leaseId] })).posted).toBe(0);
          },
        ),
        { numRuns: factory.name === "postgres" ? 15 : 30 },
      );
      // German business at a Spanish site: reverse charge, no VAT posted.
      const vat = await store.ledger.balances(["tax:vat:ES"]);
      const t2 = await store.ledger.transactions({ tenantId: "t2" });
      expect(t2.every((t) => t.line?.vat.kind === "reverse-charge")).toBe(true);
      expect(vat.length).toBeLessThanOrEqual(1);
      expect(await store.ledger.trialBalance()).toEqual([{ currency: "EUR", sumMinor: 0 }]);
    });

    it("two replicas charging at once post each delta once (the store keeps the first of a key)", async () => {
      const a = new LedgerService(ctx);
      const b = new LedgerService(ctx);
      for (let round = 0; round < 5; round++) {
        const recs = Array.from({ length: 20 }, (_, i) =>
          rec("race", round * 20 + i + 1, "L-j1", T0 + 600_000 + i * 1_000, 1_000, 1_999 + round),
        );
        await store.usage.insertBatch(recs, 30);
        const [ra, rb] = await Promise.all([a.charge({ all: true }), b.charge({ all: true })]);
        // Whoever lost a race reports the key as a duplicate or a conflict, never posts it twice.
        expect(ra.posted + rb.posted).toBeGreaterThanOrEqual(1);
        await a.charge({ all: true });
      }
      const txs = await store.ledger.transactions({ leaseIds: ["L-j1"] });
      const totals = await store.usage.monthTotals(["L-j1"]);
      for (const t of totals) {
        const lines = txs.filter((x) => x.line?.usagePeriod === t.usagePeriod).map((x) => x.line!);
        expect(lines.reduce((s2, l) => s2 + l.gpuMs, 0)).toBe(t.gpuMs);
        expect(lines.reduce((s2, l) => s2 + l.gpuSeconds, 0)).toBe(Math.ceil(t.gpuMs / 1000));
      }
      expect(new Set(txs.map((x) => x.idempotencyKey)).size).toBe(txs.length);
      expect((await a.charge({ all: true })).posted + (await b.charge({ all: true })).posted).toBe(0);
    });

    it("closes months once and keeps the closed set", async () => {
      expect(await store.ledger.closePeriod("2026-09", 1, "k")).toBe(true);
      expect(await store.ledger.closePeriod("2026-09", 2, "k")).toBe(false);
      expect([...(await store.ledger.closedPeriods())]).toEqual(["2026-09"]);
    });
  });
}
