/**
 * What the checked usage ingest does on every store, apart from running SQL: the rows it reads
 * (stored seqs, a lease's accepted intervals) turned into the bounds' inputs, and the bounds'
 * verdicts turned into rows and anomalies to write. SQLite (usage-sqlite.ts) and PostgreSQL or any
 * Kysely database (usage-kysely.ts) only execute it.
 */
import type { UsageRecord } from "../domain/index.js";
import {
  boundUsageBatch,
  type Interval,
  type LeaseUsageBounds,
  type StoredUsage,
  type UsageClaim,
  type UsageVerdict,
} from "../ledger/index.js";

/** Columns of a usage row as the plain insert writes them. */
export const USAGE_COLS =
  "node_id, seq, lease_id, from_ms, to_ms, gpu_ms, energy_milli_wh, energy_source, received_at";
/** Columns read back to tell a replay from a conflict. */
export const STORED_COLS =
  "seq, lease_id, from_ms, to_ms, gpu_ms, energy_milli_wh, energy_source, claim_json";

/** One usage anomaly as stored: a record refused or clipped, or a replay with other content. */
export interface AnomalyRecord {
  id: number;
  at: number;
  nodeId: string;
  operatorId: string;
  leaseId: string | null;
  seq: number | null;
  kind: string;
  message: string;
  claim: unknown;
  accepted: unknown;
}

/** What a checked ingest did with a batch. */
export interface IngestResult {
  /** New records stored (as sent or clipped). */
  accepted: number;
  /** Records already stored with the same content (idempotent replays). */
  duplicates: number;
  /** New records stored with less than claimed (interval, GPU-ms or energy clipped; possibly to zero). */
  clipped: number;
  /** Records refused: their seq was already used with other content. */
  conflicts: { seq: number; message: string }[];
}

/** A stored usage row as STORED_COLS reads it (numbers may come back as strings from PostgreSQL). */
export type StoredRow = {
  seq: number | string;
  lease_id: string;
  from_ms: number | string;
  to_ms: number | string;
  gpu_ms: number | string;
  energy_milli_wh: number | string;
  energy_source: string;
  claim_json: string | null;
};

/** A lease's accepted interval as covered intervals read it. */
export type IntervalRow = { from_ms: number | string; to_ms: number | string };

/**
 * The one query for a lease's accepted (non-empty) intervals that can meet [from, to): those
 * starting inside it and the last one starting before it; ordered by start. `ph` writes the
 * placeholder of a parameter in the store's syntax (it is called in the order of the text).
 */
export function coveredIntervalsSql(ph: (p: "lease" | "from" | "to") => string): string {
  const lease = ph("lease");
  const to = ph("to");
  const lease2 = ph("lease");
  const from = ph("from");
  const from2 = ph("from");
  return `SELECT from_ms, to_ms FROM usage
    WHERE lease_id = ${lease} AND to_ms > from_ms AND from_ms < ${to}
      AND from_ms >= coalesce((SELECT from_ms FROM usage
        WHERE lease_id = ${lease2} AND from_ms < ${from} AND to_ms > from_ms
        ORDER BY from_ms DESC LIMIT 1), ${from2})
    ORDER BY from_ms`;
}

const storedOf = (r: StoredRow): StoredUsage => ({
  accepted: {
    leaseId: r.lease_id,
    fromMs: Number(r.from_ms),
    toMs: Number(r.to_ms),
    gpuMs: Number(r.gpu_ms),
    energyMilliWh: Number(r.energy_milli_wh),
    energySource: r.energy_source as UsageClaim["energySource"],
  },
  claim: r.claim_json ? (JSON.parse(r.claim_json) as UsageClaim) : null,
});

/** Stored records by seq. */
export function storedBySeq(rows: readonly StoredRow[]): Map<number, StoredUsage> {
  const m = new Map<number, StoredUsage>();
  for (const r of rows) m.set(Number(r.seq), storedOf(r));
  return m;
}

/** Sorted disjoint intervals from rows ordered by start (overlapping or touching ones merged). */
export function mergedIntervals(rows: readonly IntervalRow[]): Interval[] {
  const set: Interval[] = [];
  for (const x of rows) {
    const from = Number(x.from_ms);
    const to = Number(x.to_ms);
    const last = set[set.length - 1];
    if (last && from <= last.to) last.to = Math.max(last.to, to);
    else set.push({ from, to });
  }
  return set;
}

/** The seqs of a batch as [min, max], and whether a range scan is cheaper than a list lookup. */
export function seqSpan(records: readonly UsageRecord[]): { min: number; max: number; dense: boolean } {
  let min = Number.MAX_SAFE_INTEGER;
  let max = 0;
  for (const r of records) {
    if (r.seq < min) min = r.seq;
    if (r.seq > max) max = r.seq;
  }
  return { min, max, dense: max - min <= 2 * records.length + 64 };
}

/** Per lease, the [min from, max to] the batch's records touch. */
export function leaseSpans(records: readonly UsageRecord[]): Map<string, { from: number; to: number }> {
  const m = new Map<string, { from: number; to: number }>();
  for (const r of records) {
    const s = m.get(r.leaseId);
    if (!s) m.set(r.leaseId, { from: r.fromMs, to: r.toMs });
    else {
      if (r.fromMs < s.from) s.from = r.fromMs;
      if (r.toMs > s.to) s.to = r.toMs;
    }
  }
  return m;
}

const claimJson = (r: UsageRecord): string =>
  JSON.stringify({
    leaseId: r.leaseId,
    fromMs: r.fromMs,
    toMs: r.toMs,
    gpuMs: r.gpuMs,
    energyMilliWh: r.energyMilliWh,
    energySource: r.energySource,
  });

/** What to write for a batch: rows as sent, clipped rows with their claim, anomalies, and the answer. */
export interface IngestPlan {
  clean: UsageRecord[];
  /** Clipped rows: the accepted record, its claim as stored (JSON) and as sent. */
  clippedRows: { r: UsageRecord; claim: string; claimed: UsageRecord }[];
  anomalies: Omit<AnomalyRecord, "id">[];
  result: IngestResult;
}

/** Bounds a batch (see src/ledger/usage-bounds.ts) and splits the verdicts into rows to store and anomalies to record. */
export function planIngest(
  records: readonly UsageRecord[],
  bounds: ReadonlyMap<string, LeaseUsageBounds>,
  stored: ReadonlyMap<number, StoredUsage>,
  covered: Map<string, Interval[]>,
  operatorId: string,
  at: number,
): IngestPlan {
  const verdicts: UsageVerdict[] = boundUsageBatch(records, bounds, stored, covered);
  const nodeId = records[0]?.nodeId ?? "";
  const clean: UsageRecord[] = [];
  const clippedRows: IngestPlan["clippedRows"] = [];
  const anomalies: Omit<AnomalyRecord, "id">[] = [];
  const result: IngestResult = { accepted: 0, duplicates: 0, clipped: 0, conflicts: [] };
  for (const v of verdicts) {
    if (v.kind === "duplicate") result.duplicates++;
    else if (v.kind === "conflict") {
      result.conflicts.push({ seq: v.seq, message: v.message });
      anomalies.push({
        at,
        nodeId,
        operatorId,
        leaseId: v.claim.leaseId,
        seq: v.seq,
        kind: "seq-conflict",
        message: v.message,
        claim: v.claim,
        accepted: v.stored,
      });
    } else if (v.claim === null) {
      result.accepted++;
      clean.push(v.record);
    } else {
      result.accepted++;
      result.clipped++;
      clippedRows.push({ r: v.record, claim: claimJson(v.claim), claimed: v.claim });
      anomalies.push({
        at,
        nodeId,
        operatorId,
        leaseId: v.record.leaseId,
        seq: v.record.seq,
        kind: v.record.gpuMs === 0 && v.claim.gpuMs > 0 ? "usage-refused" : "usage-clipped",
        message: v.message,
        claim: v.claim,
        accepted: v.record,
      });
    }
  }
  return { clean, clippedRows, anomalies, result };
}

/**
 * Adds what a plan stores to `stored`, as a read of the table after its commit would give it, so
 * that a later batch of the same transaction sees this one's seqs (replays and conflicts).
 */
export function rememberPlanned(p: IngestPlan, stored: Map<number, StoredUsage>): void {
  for (const r of p.clean) stored.set(r.seq, { accepted: r, claim: null });
  for (const x of p.clippedRows) stored.set(x.r.seq, { accepted: x.r, claim: x.claimed });
}

/** An anomaly as the anomalies table's columns. */
export const anomalyRow = (
  a: Omit<AnomalyRecord, "id">,
): {
  at: number;
  node_id: string;
  operator_id: string;
  lease_id: string | null;
  seq: number | null;
  kind: string;
  message: string;
  claim_json: string | null;
  accepted_json: string | null;
} => ({
  at: a.at,
  node_id: a.nodeId,
  operator_id: a.operatorId,
  lease_id: a.leaseId,
  seq: a.seq,
  kind: a.kind,
  message: a.message,
  claim_json: a.claim === null ? null : JSON.stringify(a.claim),
  accepted_json: a.accepted === null ? null : JSON.stringify(a.accepted),
});
