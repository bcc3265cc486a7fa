// The checked usage ingest with a node's batches in flight at once, on every store (SQLite file and
// real PostgreSQL, where a node's concurrent batches share one transaction: src/store/usage-pg.ts).
// Whatever the batches (overlapping, inflated, backdated, replayed, conflicting), the answers, the
// stored rows and the anomalies are exactly those of the batches ingested one by one in the order
// they were sent (the pure model); a batch that fails fails alone.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UsageRecord } from "../../src/domain/index.js";
import { leaseUsageBounds, type LeaseUsageBounds } from "../../src/ledger/usage-bounds.js";
import type { IngestResult, Store } from "../../src/store/index.js";
import { STORES } from "../helpers/stores.js";
import { IngestModel } from "../helpers/usage-model.js";

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);
const LEASES = [
  { id: "L1", gpus: 2 },
  { id: "L2", gpus: 1 },
];

/** The leases' bounds (of node `node`'s leases) as the server computes them at `now`. */
const boundsAt = (now: number, node = "n-fail"): Map<string, LeaseUsageBounds> =>
  new Map(
    LEASES.map((l) => [
      `${node}-${l.id}`,
      leaseUsageBounds({ id: `${node}-${l.id}`, gpus: l.gpus, createdAt: T0, endedAt: null, tdpW: 350 }, now),
    ]),
  );

/** What the store should answer for a batch, from the model's verdicts. */
function expected(v: ReturnType<IngestModel["send"]>): IngestResult {
  const r: IngestResult = { accepted: 0, duplicates: 0, clipped: 0, conflicts: [] };
  for (const x of v)
    if (x.kind === "duplicate") r.duplicates++;
    else if (x.kind === "conflict") r.conflicts.push({ seq: x.seq, message: x.message });
    else {
      r.accepted++;
      if (x.claim) r.clipped++;
    }
  return r;
}

const record = fc.record({
  seq: fc.integer({ min: 1, max: 40 }),
  lease: fc.constantFrom("L1", "L2"),
  from: fc.integer({ min: -5_000, max: 60_000 }),
  len: fc.integer({ min: 0, max: 8_000 }),
  gpuPerMs: fc.constantFrom(0, 1, 2, 3, 1000),
  mwh: fc.constantFrom(0, 1, 10 ** 6),
});

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`usage ingest, a node's batches at once: ${factory.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await factory.open());
    });
    afterAll(async () => cleanup?.());

    let run = 0;
    it("property: concurrent batches are answered and stored exactly as one by one in the order sent", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(record, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 7 }),
          async (raw) => {
            const nodeId = `n${++run}`;
            const batches = raw.map((b, i) => ({
              at: T0 + 30_000 + i * 1_000,
              records: b.map((x): UsageRecord => ({
                nodeId,
                seq: x.seq,
                leaseId: `${nodeId}-${x.lease}`,
                fromMs: T0 + x.from,
                toMs: T0 + x.from + x.len,
                gpuMs: x.len * x.gpuPerMs,
                energyMilliWh: x.mwh,
                energySource: "modelled",
              })),
            }));
            const model = new IngestModel(boundsAt(T0, nodeId));
            const want = batches.map((b) => expected(model.send(b.records, boundsAt(b.at, nodeId))));
            const got = await Promise.all(
              batches.map((b) => store.usage.ingest(nodeId, "op1", b.records, b.at, boundsAt(b.at, nodeId))),
            );
            expect(got).toEqual(want);
            const rows = await store.db.kysely
              .selectFrom("usage")
              .select(["seq", "lease_id", "from_ms", "to_ms", "gpu_ms", "energy_milli_wh"])
              .where("node_id", "=", nodeId)
              .orderBy("seq")
              .execute();
            const stored = rows.map((r) =>
              [r.seq, r.lease_id, r.from_ms, r.to_ms, r.gpu_ms, r.energy_milli_wh].map(Number),
            );
            const modelRows = model.accepted
              .slice()
              .sort((a, b) => a.seq - b.seq)
              .map((r) => [r.seq, r.leaseId, r.fromMs, r.toMs, r.gpuMs, r.energyMilliWh].map(Number));
            expect(stored).toEqual(modelRows);
            const anomalies = await store.usage.anomalies({ nodeId, limit: 10_000 });
            const flagged = want.reduce((s, r) => s + r.clipped + r.conflicts.length, 0);
            expect(anomalies.length).toBe(flagged);
          },
        ),
        { numRuns: factory.name === "postgres" ? 40 : 80 },
      );
    });

    it("a batch that fails does not fail the node's other batches in flight", async () => {
      const nodeId = "n-fail";
      const rec = (seq: number, leaseId = "n-fail-L1"): UsageRecord => ({
        nodeId,
        seq,
        leaseId,
        fromMs: T0 + seq * 1_000,
        toMs: T0 + seq * 1_000 + 1_000,
        gpuMs: 2_000,
        energyMilliWh: 0,
        energySource: "modelled",
      });
      const bounds = boundsAt(T0 + 60_000);
      // A lease id PostgreSQL cannot store (NUL): that batch's statement fails there.
      const bad = "L\u0000x";
      const badBounds = new Map([...bounds, [bad, bounds.get("n-fail-L1")!]]);
      const sends = [
        store.usage.ingest(nodeId, "op1", [rec(1), rec(2)], T0 + 60_000, bounds),
        store.usage.ingest(nodeId, "op1", [rec(3)], T0 + 60_000, bounds),
        store.usage.ingest(nodeId, "op1", [rec(10, bad)], T0 + 60_000, badBounds),
        store.usage.ingest(nodeId, "op1", [rec(4), rec(5)], T0 + 60_000, bounds),
      ];
      const out = await Promise.allSettled(sends);
      const ok = (n: number) => ({
        status: "fulfilled",
        value: { accepted: n, duplicates: 0, clipped: 0, conflicts: [] },
      });
      expect(out[0]).toEqual(ok(2));
      expect(out[1]).toEqual(ok(1));
      expect(out[3]).toEqual(ok(2));
      if (factory.name === "postgres") expect(out[2]!.status).toBe("rejected");
      const seqs = (
        await store.db.kysely
          .selectFrom("usage")
          .select("seq")
          .where("node_id", "=", nodeId)
          .orderBy("seq")
          .execute()
      ).map((r) => Number(r.seq));
      expect(seqs).toEqual(factory.name === "postgres" ? [1, 2, 3, 4, 5] : [1, 2, 3, 4, 5, 10]);
    });
  });
}
