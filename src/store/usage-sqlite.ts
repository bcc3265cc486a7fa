/**
 * Usage ingest on SQLite through better-sqlite3 directly: statements prepared once, multi-row
 * INSERTs, one synchronous transaction per batch (nothing else runs on the connection meanwhile).
 */
import type { Kysely } from "kysely";
import type { UsageRecord } from "../domain/index.js";
import type { Interval, LeaseUsageBounds } from "../ledger/index.js";
import {
  STORED_COLS,
  USAGE_COLS,
  anomalyRow,
  coveredIntervalsSql,
  leaseSpans,
  mergedIntervals,
  planIngest,
  seqSpan,
  storedBySeq,
  type IngestResult,
  type IntervalRow,
  type StoredRow,
} from "./usage-ingest.js";
import type { Database } from "./schema.js";

/** Rows per multi-row INSERT statement (9 parameters each; SQLite allows 32,766 per statement). */
const ROWS = 256;

/** The subset of better-sqlite3 this module uses. */
interface Stmt {
  run(...params: unknown[]): { changes: number };
  all(...params: unknown[]): unknown[];
}
/** A better-sqlite3 database handle (the subset used here). */
export interface SqliteHandle {
  prepare(source: string): Stmt;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  readonly inTransaction: boolean;
}

type Checked = (
  records: UsageRecord[],
  at: number,
  bounds: ReadonlyMap<string, LeaseUsageBounds>,
  operatorId: string,
) => IngestResult;

/** Plain and checked usage ingest on one SQLite connection; statements are prepared on first use. */
export class SqliteUsage {
  private rows: ((records: UsageRecord[], at: number) => number) | undefined;
  private plain: ((records: UsageRecord[], at: number) => number) | undefined;
  private checked: Checked | undefined;

  constructor(
    private readonly handle: SqliteHandle,
    private readonly kysely: Kysely<Database>,
  ) {}

  /** Stores the records as sent (ON CONFLICT DO NOTHING) in one transaction; returns how many were new. */
  insert(records: UsageRecord[], at: number): Promise<number> {
    const fn = (this.plain ??= this.handle.transaction(this.rowsFn()));
    return this.exclusive("usage insert", () => fn(records, at));
  }

  /** The checked ingest (see UsageRepo.ingest) in one transaction. */
  ingest(
    records: UsageRecord[],
    at: number,
    bounds: ReadonlyMap<string, LeaseUsageBounds>,
    operatorId: string,
  ): Promise<IngestResult> {
    const fn = (this.checked ??= this.checkedFn());
    return this.exclusive("usage ingest", () => fn(records, at, bounds, operatorId));
  }

  /**
   * Holds Kysely's single connection while `fn` runs, so no Kysely transaction is open on it (it
   * would turn ours into a savepoint of theirs, committed or rolled back with it).
   */
  private exclusive<T>(what: string, fn: () => T): Promise<T> {
    return this.kysely.connection().execute(async () => {
      if (this.handle.inTransaction)
        throw new Error(`${what}: the SQLite connection is inside another transaction`);
      return fn();
    });
  }

  /** The multi-row insert of rows as sent (no transaction of its own). */
  private rowsFn(): (records: UsageRecord[], at: number) => number {
    if (this.rows) return this.rows;
    const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    const stmt = (n: number): Stmt =>
      this.handle.prepare(
        `INSERT INTO usage (${USAGE_COLS}) VALUES ${Array.from({ length: n }, () => row).join(", ")} ON CONFLICT (node_id, seq) DO NOTHING`,
      );
    const many = stmt(ROWS);
    const one = stmt(1);
    const params: unknown[] = new Array<unknown>(ROWS * 9);
    this.rows = (recs: UsageRecord[], at: number): number => {
      let n = 0;
      let i = 0;
      for (; i + ROWS <= recs.length; i += ROWS) {
        for (let j = 0; j < ROWS; j++) {
          const r = recs[i + j]!;
          const o = j * 9;
          params[o] = r.nodeId;
          params[o + 1] = r.seq;
          params[o + 2] = r.leaseId;
          params[o + 3] = r.fromMs;
          params[o + 4] = r.toMs;
          params[o + 5] = r.gpuMs;
          params[o + 6] = r.energyMilliWh;
          params[o + 7] = r.energySource;
          params[o + 8] = at;
        }
        n += many.run(params).changes;
      }
      for (; i < recs.length; i++) {
        const r = recs[i]!;
        n += one.run(
          r.nodeId,
          r.seq,
          r.leaseId,
          r.fromMs,
          r.toMs,
          r.gpuMs,
          r.energyMilliWh,
          r.energySource,
          at,
        ).changes;
      }
      return n;
    };
    return this.rows;
  }

  private checkedFn(): Checked {
    const h = this.handle;
    const insertRows = this.rowsFn();
    const byRange = h.prepare(`SELECT ${STORED_COLS} FROM usage WHERE node_id = ? AND seq BETWEEN ? AND ?`);
    const byList = h.prepare(
      `SELECT ${STORED_COLS} FROM usage WHERE node_id = ? AND seq IN (SELECT value FROM json_each(?))`,
    );
    const intervals = h.prepare(coveredIntervalsSql((p) => `@${p}`));
    const insClipped = h.prepare(
      `INSERT INTO usage (${USAGE_COLS}, claim_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id, seq) DO NOTHING`,
    );
    const insAnomaly = h.prepare(
      "INSERT INTO anomalies (at, node_id, operator_id, lease_id, seq, kind, message, claim_json, accepted_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    return h.transaction((records: UsageRecord[], at: number, bounds, operatorId: string): IngestResult => {
      const nodeId = records[0]!.nodeId;
      const span = seqSpan(records);
      const rows = (
        span.dense
          ? byRange.all(nodeId, span.min, span.max)
          : byList.all(nodeId, JSON.stringify(records.map((r) => r.seq)))
      ) as StoredRow[];
      const covered = new Map<string, Interval[]>();
      for (const [lease, sp] of leaseSpans(records))
        covered.set(
          lease,
          mergedIntervals(intervals.all({ lease, from: sp.from, to: sp.to }) as IntervalRow[]),
        );
      const p = planIngest(records, bounds, storedBySeq(rows), covered, operatorId, at);
      insertRows(p.clean, at);
      for (const { r, claim } of p.clippedRows)
        insClipped.run(
          r.nodeId,
          r.seq,
          r.leaseId,
          r.fromMs,
          r.toMs,
          r.gpuMs,
          r.energyMilliWh,
          r.energySource,
          at,
          claim,
        );
      for (const a of p.anomalies) {
        const x = anomalyRow(a);
        insAnomaly.run(
          x.at,
          x.node_id,
          x.operator_id,
          x.lease_id,
          x.seq,
          x.kind,
          x.message,
          x.claim_json,
          x.accepted_json,
        );
      }
      return p.result;
    }) as Checked;
  }
}
