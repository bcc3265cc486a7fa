// Server-side bounds on node-reported usage: examples of each rogue case of issue 12, and a
// fast-check property over arbitrary streams (inflated, overlapping, backdated, future-dated,
// replayed, reordered, duplicated) and clock offsets.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { billingWindow, chargeForLease, clipGpuMs } from "./billing.js";
import type { UsageRecord } from "../domain/index.js";
import type { LeaseRecord } from "../store/index.js";
import {
  cover,
  leaseUsageBounds,
  longestUncovered,
  USAGE_TOLERANCE_MS,
  type Interval,
} from "../ledger/usage-bounds.js";
import { IngestModel as Ingest } from "../../test/helpers/usage-model.js";

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

const rec = (seq: number, fromMs: number, toMs: number, gpuMs: number, energyMilliWh = 0): UsageRecord => ({
  nodeId: "n1",
  seq,
  leaseId: "L1",
  fromMs,
  toMs,
  gpuMs,
  energyMilliWh,
  energySource: "modelled",
});

function lease(gpus: number, createdAt: number, endedAt: number | null): LeaseRecord {
  return {
    id: "L1",
    jobId: "J1",
    tenantId: "t",
    siteId: "s",
    operatorId: "o",
    nodeId: "n1",
    country: "ES",
    gpuModel: "L40S",
    gpuIndices: Array.from({ length: gpus }, (_, i) => i),
    class: "on-demand",
    priceMinorPerGpuHour: 100,
    currency: "EUR",
    state: endedAt === null ? "running" : "ended",
    createdAt,
    startedAt: createdAt,
    endedAt,
    stopReason: null,
    stopRequestedAt: null,
    stopDeadlineAt: null,
  } as LeaseRecord;
}

const boundsOf = (gpus: number, createdAt: number, endedAt: number | null, now: number) =>
  new Map([["L1", leaseUsageBounds({ id: "L1", gpus, createdAt, endedAt, tdpW: 350 }, now)]]);

describe("usage bounds: the cases of issue 12", () => {
  it("caps GPU-ms at leased GPUs x interval (10^12 GPU-ms over 1 s on 1 GPU -> 1,000)", () => {
    const ing = new Ingest(boundsOf(1, T0, null, T0 + 3000));
    const [v] = ing.send([rec(1, T0 + 1000, T0 + 2000, 1e12)]);
    expect(v).toMatchObject({ kind: "new", record: { gpuMs: 1000 }, reasons: ["gpu-ms"] });
  });

  it("bills 50 overlapping copies of one interval once (clipped, not summed)", () => {
    const ing = new Ingest(boundsOf(1, T0, null, T0 + 5000));
    ing.send(Array.from({ length: 50 }, (_, i) => rec(100 + i, T0 + 1000, T0 + 2000, 1000)));
    expect(ing.accepted.reduce((s, r) => s + r.gpuMs, 0)).toBe(1000);
    expect(ing.verdicts.filter((v) => v.kind === "new" && v.claim !== null)).toHaveLength(49);
  });

  it("refuses an interval backdated 30 days before the lease was assigned", () => {
    const ing = new Ingest(boundsOf(1, T0, null, T0 + 5000));
    const [v] = ing.send([rec(1, T0 - 30 * 86_400_000, T0 + 5000, 30 * 86_400_000 + 5000)]);
    expect(v).toMatchObject({ kind: "new", reasons: ["outside-lease"] });
    if (v?.kind === "new") {
      expect(v.record.fromMs).toBe(T0 - USAGE_TOLERANCE_MS);
      expect(v.record.gpuMs).toBeLessThanOrEqual(5000 + USAGE_TOLERANCE_MS);
    }
  });

  it("refuses a future-dated interval (after the server's now)", () => {
    const ing = new Ingest(boundsOf(4, T0, null, T0 + 60_000));
    const [v] = ing.send([rec(1, T0 + 600_000, T0 + 660_000, 240_000)]);
    expect(v).toMatchObject({ kind: "new", record: { gpuMs: 0 }, reasons: ["outside-lease"] });
  });

  it("calls a replayed seq with other content a conflict, and an identical replay a duplicate", () => {
    const ing = new Ingest(boundsOf(1, T0, null, T0 + 5000));
    ing.send([rec(1, T0, T0 + 1000, 1000)]);
    const [same, other] = ing.send([rec(1, T0, T0 + 1000, 1000), rec(1, T0 + 2000, T0 + 3000, 5)]);
    expect(same).toEqual({ kind: "duplicate", seq: 1 });
    expect(other).toMatchObject({ kind: "conflict", seq: 1 });
    // A clipped record's replay compares with the claim, not with what was accepted.
    const [clipped] = ing.send([rec(2, T0 + 1000, T0 + 2000, 9999)]);
    expect(clipped).toMatchObject({ kind: "new", record: { gpuMs: 1000 } });
    expect(ing.send([rec(2, T0 + 1000, T0 + 2000, 9999)])[0]).toEqual({ kind: "duplicate", seq: 2 });
  });

  it("caps energy at the GPUs' power limit (TDP + 10 %) over the interval", () => {
    const ing = new Ingest(boundsOf(2, T0, null, T0 + 3_600_000));
    // 2 x 350 W x 1.1 = 770 W for one hour = 770 Wh = 770,000 mWh.
    const [v] = ing.send([rec(1, T0, T0 + 3_600_000, 7_200_000, 5_000_000)]);
    expect(v).toMatchObject({
      kind: "new",
      record: { energyMilliWh: 770_000, gpuMs: 7_200_000 },
      reasons: ["energy"],
    });
  });

  it("keeps the longest uncovered piece and merges touching intervals", () => {
    const set: Interval[] = [];
    cover(set, 10, 20);
    cover(set, 30, 40);
    cover(set, 20, 30);
    expect(set).toEqual([{ from: 10, to: 40 }]);
    cover(set, 50, 60);
    expect(longestUncovered(set, 0, 100)).toEqual({ from: 60, to: 100 });
    expect(longestUncovered(set, 15, 35)).toEqual({ from: 15, to: 15 });
    expect(longestUncovered(set, 35, 55)).toEqual({ from: 40, to: 50 });
  });
});

/** An honest agent's stream: contiguous records from start to end, GPU-ms = GPUs x length. */
function honestStream(gpus: number, start: number, cuts: number[], offset: number): UsageRecord[] {
  const points = [start, ...cuts.map((c) => start + c).sort((a, b) => a - b)];
  const out: UsageRecord[] = [];
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1]!, points[i]!];
    if (b > a)
      out.push(
        rec(
          out.length + 1,
          a + offset,
          b + offset,
          gpus * (b - a),
          Math.floor((gpus * 300 * (b - a)) / 3600),
        ),
      );
  }
  return out;
}

function batches<T>(xs: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (let k = 0; i < xs.length; k++) {
    const n = Math.max(1, sizes[k % Math.max(1, sizes.length)] ?? 1);
    out.push(xs.slice(i, i + n));
    i += n;
  }
  return out;
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("inflate" as const), i: fc.nat(), factor: fc.integer({ min: 2, max: 1e6 }) }),
  fc.record({ kind: fc.constant("copy" as const), i: fc.nat(), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({
    kind: fc.constant("shift" as const),
    i: fc.nat(),
    by: fc.integer({ min: -40 * 86_400_000, max: 40 * 86_400_000 }),
  }),
  fc.record({ kind: fc.constant("replay" as const), i: fc.nat(), gpuMs: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate" as const), i: fc.nat() }),
  fc.record({ kind: fc.constant("energy" as const), i: fc.nat(), mwh: fc.integer({ min: 0, max: 2 ** 40 }) }),
);

describe("usage bounds: property over arbitrary streams", () => {
  it("never bills more than leased GPUs x server-observed lease time, and bills an honest stream exactly as before", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1_000, max: 4 * 3_600_000 }),
        fc.array(fc.integer({ min: 1, max: 4 * 3_600_000 }), { maxLength: 30 }),
        fc.integer({ min: -USAGE_TOLERANCE_MS, max: USAGE_TOLERANCE_MS }),
        fc.array(mutation, { maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (gpus, life, rawCuts, clockError, muts, sizes, reorder) => {
          const start = T0 + 500;
          const end = T0 + life;
          const cuts = rawCuts.filter((c) => c < life - 500).concat([life - 500]);
          // The agent's clock-offset estimate is off by at most half a round trip (here: the tolerance).
          const honest = honestStream(gpus, start, cuts, clockError);
          const l = lease(gpus, T0, end);
          l.startedAt = start;

          // 1. Honest, in order, any batching: nothing is clipped; billed as the unbounded core bills it.
          const ok = new Ingest(boundsOf(gpus, T0, end, end + 10_000));
          for (const b of batches(honest, sizes)) ok.send(b);
          expect(ok.verdicts.every((v) => v.kind === "new" && v.claim === null)).toBe(true);
          expect(chargeForLease(l, ok.accepted)).toEqual(chargeForLease(l, honest));

          // 2. The same stream, mutated by a rogue node, reordered and batched: bounded.
          let seq = honest.length;
          const rogue: UsageRecord[] = [...honest];
          for (const m of muts) {
            const base = rogue[m.i % rogue.length]!;
            if (m.kind === "inflate") rogue.push({ ...base, seq: ++seq, gpuMs: base.gpuMs * m.factor });
            else if (m.kind === "copy") for (let k = 0; k < m.n; k++) rogue.push({ ...base, seq: ++seq });
            else if (m.kind === "shift")
              rogue.push({ ...base, seq: ++seq, fromMs: base.fromMs + m.by, toMs: base.toMs + m.by });
            else if (m.kind === "replay") rogue.push({ ...base, gpuMs: m.gpuMs });
            else if (m.kind === "duplicate") rogue.push({ ...base });
            else rogue.push({ ...base, seq: ++seq, energyMilliWh: m.mwh });
          }
          if (reorder) rogue.reverse();
          const bad = new Ingest(boundsOf(gpus, T0, end, end + 10_000));
          for (const b of batches(rogue, sizes)) bad.send(b);
          const w = billingWindow(l)!;
          const billed = bad.accepted.reduce((s, r) => s + clipGpuMs(r, w), 0);
          expect(billed).toBeLessThanOrEqual(gpus * (w.to - w.from));
          const accepted = bad.accepted.reduce((s, r) => s + r.gpuMs, 0);
          expect(accepted).toBeLessThanOrEqual(gpus * (end - T0 + 2 * USAGE_TOLERANCE_MS));
          const energy = bad.accepted.reduce((s, r) => s + r.energyMilliWh, 0);
          expect(energy).toBeLessThanOrEqual(
            Math.ceil((gpus * 385 * (end - T0 + 2 * USAGE_TOLERANCE_MS)) / 3600),
          );
          // Each seq is accepted at most once.
          expect(new Set(bad.accepted.map((r) => r.seq)).size).toBe(bad.accepted.length);
        },
      ),
      { numRuns: 400 },
    );
  });
});
