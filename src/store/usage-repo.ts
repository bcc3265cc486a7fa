import { PostgresAdapter, sql, type Kysely } from "kysely";
import type { UsageRecord } from "../domain/index.js";
import {
  boundUsageBatch,
  type Interval,
  type LeaseUsageBounds,
  type StoredUsage,
  type UsageClaim,
  type UsageVerdict,
} from "../ledger/index.js";
import { rawHandlesOf, type Db } from "./db.js";
import type { Database } from "./schema.js";

/** Rows per multi-row INSERT statement (9 parameters each; SQLite allows 32,766 per statement). */
const SQLITE_ROWS = 256;
/** Rows per statement on the portable (Kysely) path. */
const CHUNK = 500;
/** A stop time far in the future for leases still billing (safe integer, fits int64). */
const OPEN_END = 9_000_000_000_000_000;

const COLS = "node_id, seq, lease_id, from_ms, to_ms, gpu_ms, energy_mwh, energy_source, received_at";

/** Metered totals of one lease in one usage month, each record clipped to the lease's billing window. */
export interface LeaseMonthTotal {
  leaseId: string;
  /** UTC month (YYYY-MM) in which the records' intervals start. */
  usagePeriod: string;
  /** Sum over distinct records of the GPU-ms inside the billing window (clipped per record, rounded down to the ms). */
  gpuMs: number;
  /** Sum of the records' GPU-ms, unclipped. */
  meteredGpuMs: number;
  energyMwh: number;
  records: number;
}

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

type StoredRow = {
  seq: number;
  lease_id: string;
  from_ms: number;
  to_ms: number;
  gpu_ms: number;
  energy_mwh: number;
  energy_source: string;
  claim_json: string | null;
};

const storedOf = (r: StoredRow): StoredUsage => ({
  accepted: {
    leaseId: r.lease_id,
    fromMs: Number(r.from_ms),
    toMs: Number(r.to_ms),
    gpuMs: Number(r.gpu_ms),
    energyMwh: Number(r.energy_mwh),
    energySource: r.energy_source as UsageClaim["energySource"],
  },
  claim: r.claim_json ? (JSON.parse(r.claim_json) as UsageClaim) : null,
});

const claimJson = (r: UsageRecord): string =>
  JSON.stringify({
    leaseId: r.leaseId,
    fromMs: r.fromMs,
    toMs: r.toMs,
    gpuMs: r.gpuMs,
    energyMwh: r.energyMwh,
    energySource: r.energySource,
  });

/** Splits verdicts into rows to store and anomalies to record. */
function plan(
  verdicts: UsageVerdict[],
  operatorId: string,
  nodeId: string,
  at: number,
): {
  clean: UsageRecord[];
  clippedRows: { r: UsageRecord; claim: string }[];
  anomalies: Omit<AnomalyRecord, "id">[];
  result: IngestResult;
} {
  const clean: UsageRecord[] = [];
  const clippedRows: { r: UsageRecord; claim: string }[] = [];
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
      clippedRows.push({ r: v.record, claim: claimJson(v.claim) });
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

/** The seqs of a batch as [min, max], and whether a range scan is cheaper than a list lookup. */
function seqSpan(records: readonly UsageRecord[]): { min: number; max: number; dense: boolean } {
  let min = Number.MAX_SAFE_INTEGER;
  let max = 0;
  for (const r of records) {
    if (r.seq < min) min = r.seq;
    if (r.seq > max) max = r.seq;
  }
  return { min, max, dense: max - min <= 2 * records.length + 64 };
}

/** Per lease, the [min from, max to] the batch's records touch. */
function leaseSpans(records: readonly UsageRecord[]): Map<string, { from: number; to: number }> {
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

/** Appends [from, to) to a set built in ascending order, merging overlapping or touching neighbours. */
function pushMerged(set: Interval[], from: number, to: number): void {
  const last = set[set.length - 1];
  if (last && from <= last.to) last.to = Math.max(last.to, to);
  else set.push({ from, to });
}

interface SqliteStmt {
  run(...params: unknown[]): { changes: number };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}
interface SqliteHandle {
  prepare(source: string): SqliteStmt;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  readonly inTransaction: boolean;
}

/** Metered usage: idempotent on (node_id, seq). */
export class UsageRepo {
  private readonly raw: Pick<Db, "sqlite" | "pgPool">;
  private sqliteStmts: { many: SqliteStmt; one: SqliteStmt } | undefined;
  private sqliteInsert: ((records: UsageRecord[], receivedAt: number) => number) | undefined;
  private sqliteRows: ((records: UsageRecord[], receivedAt: number) => number) | undefined;
  private sqliteChecked:
    | ((
        records: UsageRecord[],
        at: number,
        bounds: ReadonlyMap<string, LeaseUsageBounds>,
        operatorId: string,
      ) => IngestResult)
    | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    raw?: Pick<Db, "sqlite" | "pgPool">,
  ) {
    this.raw = raw ?? rawHandlesOf(db);
  }

  /**
   * Inserts a batch in one transaction; records already present (same node and seq) are ignored.
   * Returns how many were new and how many were duplicates. When it returns, the transaction has
   * committed (durability as the store's synchronous setting gives: see docs/billing.md).
   */
  async insertBatch(
    records: UsageRecord[],
    receivedAt: number,
  ): Promise<{ accepted: number; duplicates: number }> {
    if (records.length === 0) return { accepted: 0, duplicates: 0 };
    let accepted: number;
    if (this.raw.sqlite) accepted = await this.insertSqlite(records, receivedAt);
    else if (this.raw.pgPool) accepted = await this.insertPg(records, receivedAt);
    else accepted = await this.insertPortable(records, receivedAt);
    return { accepted, duplicates: records.length - accepted };
  }

  /**
   * Ingests one node's batch under the server's bounds (see src/ledger/usage-bounds.ts), in one
   * transaction: replays with the same content are duplicates, replays with other content are
   * refused as conflicts, new records are stored as sent or clipped (keeping the claim), and every
   * clipped, refused or conflicting record leaves an anomaly. All records must be of `nodeId` and
   * of leases in `bounds`. Batches of one node are serialised (SQLite: one connection; PostgreSQL:
   * an advisory lock per node), so two batches never both take the same interval.
   */
  async ingest(
    nodeId: string,
    operatorId: string,
    records: UsageRecord[],
    receivedAt: number,
    bounds: ReadonlyMap<string, LeaseUsageBounds>,
  ): Promise<IngestResult> {
    if (records.length === 0) return { accepted: 0, duplicates: 0, clipped: 0, conflicts: [] };
    if (this.raw.sqlite) {
      const fn = this.sqliteCheckedFn();
      return this.db.connection().execute(async () => {
        if ((this.raw.sqlite as unknown as SqliteHandle).inTransaction)
          throw new Error("usage ingest: the SQLite connection is inside another transaction");
        return fn(records, receivedAt, bounds, operatorId);
      });
    }
    return this.ingestKysely(nodeId, operatorId, records, receivedAt, bounds);
  }

  private sqliteCheckedFn(): (
    records: UsageRecord[],
    at: number,
    bounds: ReadonlyMap<string, LeaseUsageBounds>,
    operatorId: string,
  ) => IngestResult {
    if (this.sqliteChecked) return this.sqliteChecked;
    const handle = this.raw.sqlite as unknown as SqliteHandle;
    this.insertSqliteFn(handle);
    const cols = "seq, lease_id, from_ms, to_ms, gpu_ms, energy_mwh, energy_source, claim_json";
    const byRange = handle.prepare(`SELECT ${cols} FROM usage WHERE node_id = ? AND seq BETWEEN ? AND ?`);
    const byList = handle.prepare(
      `SELECT ${cols} FROM usage WHERE node_id = ? AND seq IN (SELECT value FROM json_each(?))`,
    );
    const inSpan = handle.prepare(
      "SELECT from_ms, to_ms FROM usage WHERE lease_id = ? AND from_ms >= ? AND from_ms < ? AND to_ms > from_ms ORDER BY from_ms",
    );
    const before = handle.prepare(
      "SELECT from_ms, to_ms FROM usage WHERE lease_id = ? AND from_ms < ? AND to_ms > from_ms ORDER BY from_ms DESC LIMIT 1",
    );
    const insClipped = handle.prepare(
      `INSERT INTO usage (${COLS}, claim_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id, seq) DO NOTHING`,
    );
    const insAnomaly = handle.prepare(
      "INSERT INTO anomalies (at, node_id, operator_id, lease_id, seq, kind, message, claim_json, accepted_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const insertRows = this.sqliteRows!;
    this.sqliteChecked = handle.transaction(
      (
        records: UsageRecord[],
        at: number,
        bounds: ReadonlyMap<string, LeaseUsageBounds>,
        operatorId: string,
      ): IngestResult => {
        const nodeId = records[0]!.nodeId;
        const span = seqSpan(records);
        const rows = (
          span.dense
            ? byRange.all(nodeId, span.min, span.max)
            : byList.all(nodeId, JSON.stringify(records.map((r) => r.seq)))
        ) as StoredRow[];
        const stored = new Map<number, StoredUsage>();
        for (const r of rows) stored.set(Number(r.seq), storedOf(r));
        const covered = new Map<string, Interval[]>();
        for (const [leaseId, sp] of leaseSpans(records)) {
          const set: Interval[] = [];
          const prev = before.get(leaseId, sp.from) as { from_ms: number; to_ms: number } | undefined;
          if (prev && prev.to_ms > sp.from) set.push({ from: prev.from_ms, to: prev.to_ms });
          for (const x of inSpan.all(leaseId, sp.from, sp.to) as { from_ms: number; to_ms: number }[])
            pushMerged(set, x.from_ms, x.to_ms);
          covered.set(leaseId, set);
        }
        const p = plan(boundUsageBatch(records, bounds, stored, covered), operatorId, nodeId, at);
        insertRows(p.clean, at);
        for (const { r, claim } of p.clippedRows)
          insClipped.run(
            r.nodeId,
            r.seq,
            r.leaseId,
            r.fromMs,
            r.toMs,
            r.gpuMs,
            r.energyMwh,
            r.energySource,
            at,
            claim,
          );
        for (const a of p.anomalies)
          insAnomaly.run(
            a.at,
            a.nodeId,
            a.operatorId,
            a.leaseId,
            a.seq,
            a.kind,
            a.message,
            JSON.stringify(a.claim),
            JSON.stringify(a.accepted),
          );
        return p.result;
      },
    );
    return this.sqliteChecked;
  }

  /** PostgreSQL (and any Kysely database): the same checks in a Kysely transaction. */
  private async ingestKysely(
    nodeId: string,
    operatorId: string,
    records: UsageRecord[],
    at: number,
    bounds: ReadonlyMap<string, LeaseUsageBounds>,
  ): Promise<IngestResult> {
    const pg = this.raw.pgPool !== undefined || this.db.getExecutor().adapter instanceof PostgresAdapter;
    return this.db.transaction().execute(async (trx) => {
      if (pg) await sql`select pg_advisory_xact_lock(hashtext(${`usage:${nodeId}`}))`.execute(trx);
      const span = seqSpan(records);
      let q = trx
        .selectFrom("usage")
        .select([
          "seq",
          "lease_id",
          "from_ms",
          "to_ms",
          "gpu_ms",
          "energy_mwh",
          "energy_source",
          "claim_json",
        ])
        .where("node_id", "=", nodeId);
      q = span.dense
        ? q.where("seq", ">=", span.min).where("seq", "<=", span.max)
        : pg
          ? q.where(sql<boolean>`seq = any(${records.map((r) => r.seq)}::bigint[])`)
          : q.where("seq", "in", [...new Set(records.map((r) => r.seq))]);
      const stored = new Map<number, StoredUsage>();
      for (const r of await q.execute()) stored.set(Number(r.seq), storedOf(r as StoredRow));
      const covered = new Map<string, Interval[]>();
      for (const [leaseId, sp] of leaseSpans(records)) {
        const set: Interval[] = [];
        const prev = await trx
          .selectFrom("usage")
          .select(["from_ms", "to_ms"])
          .where("lease_id", "=", leaseId)
          .where("from_ms", "<", sp.from)
          .whereRef("to_ms", ">", "from_ms")
          .orderBy("from_ms", "desc")
          .limit(1)
          .executeTakeFirst();
        if (prev && Number(prev.to_ms) > sp.from)
          set.push({ from: Number(prev.from_ms), to: Number(prev.to_ms) });
        const inside = await trx
          .selectFrom("usage")
          .select(["from_ms", "to_ms"])
          .where("lease_id", "=", leaseId)
          .where("from_ms", ">=", sp.from)
          .where("from_ms", "<", sp.to)
          .whereRef("to_ms", ">", "from_ms")
          .orderBy("from_ms")
          .execute();
        for (const x of inside) pushMerged(set, Number(x.from_ms), Number(x.to_ms));
        covered.set(leaseId, set);
      }
      const p = plan(boundUsageBatch(records, bounds, stored, covered), operatorId, nodeId, at);
      const rows = [...p.clean.map((r) => ({ r, claim: null as string | null })), ...p.clippedRows];
      if (pg && rows.length > 0) {
        const col = <T>(f: (x: { r: UsageRecord; claim: string | null }) => T): T[] => rows.map(f);
        await sql`INSERT INTO usage (${sql.raw(COLS)}, claim_json)
             SELECT u.node_id, u.seq, u.lease_id, u.from_ms, u.to_ms, u.gpu_ms, u.energy_mwh, u.energy_source, ${at}::bigint, u.claim_json
             FROM UNNEST(${col((x) => x.r.nodeId)}::text[], ${col((x) => x.r.seq)}::bigint[], ${col((x) => x.r.leaseId)}::text[],
                         ${col((x) => x.r.fromMs)}::bigint[], ${col((x) => x.r.toMs)}::bigint[], ${col((x) => x.r.gpuMs)}::bigint[],
                         ${col((x) => x.r.energyMwh)}::bigint[], ${col((x) => x.r.energySource)}::text[], ${col((x) => x.claim)}::text[])
               AS u(node_id, seq, lease_id, from_ms, to_ms, gpu_ms, energy_mwh, energy_source, claim_json)
             ON CONFLICT (node_id, seq) DO NOTHING`.execute(trx);
      } else {
        for (let i = 0; i < rows.length; i += CHUNK)
          await trx
            .insertInto("usage")
            .values(
              rows.slice(i, i + CHUNK).map(({ r, claim }) => ({
                node_id: r.nodeId,
                seq: r.seq,
                lease_id: r.leaseId,
                from_ms: r.fromMs,
                to_ms: r.toMs,
                gpu_ms: r.gpuMs,
                energy_mwh: r.energyMwh,
                energy_source: r.energySource,
                received_at: at,
                claim_json: claim,
              })),
            )
            .onConflict((oc) => oc.columns(["node_id", "seq"]).doNothing())
            .execute();
      }
      for (let i = 0; i < p.anomalies.length; i += CHUNK)
        await trx
          .insertInto("anomalies")
          .values(
            p.anomalies.slice(i, i + CHUNK).map((a) => ({
              at: a.at,
              node_id: a.nodeId,
              operator_id: a.operatorId,
              lease_id: a.leaseId,
              seq: a.seq,
              kind: a.kind,
              message: a.message,
              claim_json: JSON.stringify(a.claim),
              accepted_json: JSON.stringify(a.accepted),
            })),
          )
          .execute();
      return p.result;
    });
  }

  /** Anomalies, newest first: of one operator's nodes, of one node, or all (admin). */
  async anomalies(
    filter: { operatorId?: string; nodeId?: string; sinceMs?: number; limit?: number } = {},
  ): Promise<AnomalyRecord[]> {
    let q = this.db.selectFrom("anomalies").selectAll();
    if (filter.operatorId) q = q.where("operator_id", "=", filter.operatorId);
    if (filter.nodeId) q = q.where("node_id", "=", filter.nodeId);
    if (filter.sinceMs !== undefined) q = q.where("at", ">=", filter.sinceMs);
    const rows = await q
      .orderBy("at", "desc")
      .orderBy("id", "desc")
      .limit(filter.limit ?? 500)
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      nodeId: r.node_id,
      operatorId: r.operator_id,
      leaseId: r.lease_id,
      seq: r.seq === null ? null : Number(r.seq),
      kind: r.kind,
      message: r.message,
      claim: r.claim_json ? (JSON.parse(r.claim_json) as unknown) : null,
      accepted: r.accepted_json ? (JSON.parse(r.accepted_json) as unknown) : null,
    }));
  }

  /** Records one anomaly that is not about a usage record (a backdated start, an inventory change). */
  async recordAnomaly(a: Omit<AnomalyRecord, "id">): Promise<void> {
    await this.db
      .insertInto("anomalies")
      .values({
        at: a.at,
        node_id: a.nodeId,
        operator_id: a.operatorId,
        lease_id: a.leaseId,
        seq: a.seq,
        kind: a.kind,
        message: a.message,
        claim_json: a.claim === null ? null : JSON.stringify(a.claim),
        accepted_json: a.accepted === null ? null : JSON.stringify(a.accepted),
      })
      .execute();
  }

  /** The end of a lease's last accepted usage interval (ms), or null when none was accepted. */
  async lastAcceptedTo(leaseId: string): Promise<number | null> {
    const r = await this.db
      .selectFrom("usage")
      .select((eb) => eb.fn.max("to_ms").as("to"))
      .where("lease_id", "=", leaseId)
      .executeTakeFirst();
    return r?.to == null ? null : Number(r.to);
  }

  /** Usage records taken as sent (not clipped) per node, received in [fromMs, toMs), of one operator's leases. */
  async takenCounts(fromMs: number, toMs: number, operatorId?: string): Promise<Map<string, number>> {
    let q = this.db
      .selectFrom("usage")
      .innerJoin("leases", "leases.id", "usage.lease_id")
      .select((eb) => ["usage.node_id as node_id", eb.fn.countAll<number>().as("n")])
      .where("usage.claim_json", "is", null)
      .where("usage.received_at", ">=", fromMs)
      .where("usage.received_at", "<", toMs);
    if (operatorId) q = q.where("leases.operator_id", "=", operatorId);
    const rows = await q.groupBy("usage.node_id").execute();
    return new Map(rows.map((r) => [r.node_id, Number(r.n)]));
  }

  /** Anomaly counts per node over [fromMs, toMs) (statements, reliability). */
  async anomalyCounts(fromMs: number, toMs: number, operatorId?: string): Promise<Map<string, number>> {
    let q = this.db
      .selectFrom("anomalies")
      .select((eb) => ["node_id", eb.fn.countAll<number>().as("n")])
      .where("at", ">=", fromMs)
      .where("at", "<", toMs);
    if (operatorId) q = q.where("operator_id", "=", operatorId);
    const rows = await q.groupBy("node_id").execute();
    return new Map(rows.map((r) => [r.node_id, Number(r.n)]));
  }

  /** Prepares the plain multi-row insert (rows as sent, no checks) and its transaction wrapper. */
  private insertSqliteFn(handle: SqliteHandle): void {
    if (!this.sqliteInsert) {
      const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
      const stmt = (n: number): SqliteStmt =>
        handle.prepare(
          `INSERT INTO usage (${COLS}) VALUES ${Array.from({ length: n }, () => row).join(", ")} ON CONFLICT (node_id, seq) DO NOTHING`,
        );
      this.sqliteStmts = { many: stmt(SQLITE_ROWS), one: stmt(1) };
      const { many, one } = this.sqliteStmts;
      const params: unknown[] = new Array<unknown>(SQLITE_ROWS * 9);
      this.sqliteRows = (recs: UsageRecord[], at: number): number => {
        let n = 0;
        let i = 0;
        for (; i + SQLITE_ROWS <= recs.length; i += SQLITE_ROWS) {
          for (let j = 0; j < SQLITE_ROWS; j++) {
            const r = recs[i + j]!;
            const o = j * 9;
            params[o] = r.nodeId;
            params[o + 1] = r.seq;
            params[o + 2] = r.leaseId;
            params[o + 3] = r.fromMs;
            params[o + 4] = r.toMs;
            params[o + 5] = r.gpuMs;
            params[o + 6] = r.energyMwh;
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
            r.energyMwh,
            r.energySource,
            at,
          ).changes;
        }
        return n;
      };
      this.sqliteInsert = handle.transaction(this.sqliteRows);
    }
  }

  /** better-sqlite3: prepared multi-row INSERT ... ON CONFLICT DO NOTHING in one transaction. */
  private async insertSqlite(records: UsageRecord[], receivedAt: number): Promise<number> {
    const handle = this.raw.sqlite as unknown as SqliteHandle;
    this.insertSqliteFn(handle);
    const insert = this.sqliteInsert!;
    // Hold Kysely's single connection so no Kysely transaction is open on it while ours runs (it
    // would turn ours into a savepoint of theirs, committed or rolled back with it).
    return this.db.connection().execute(async () => {
      if (handle.inTransaction)
        throw new Error("usage insert: the SQLite connection is inside another transaction");
      return insert(records, receivedAt);
    });
  }

  /** PostgreSQL: one INSERT ... SELECT FROM UNNEST(arrays) ON CONFLICT DO NOTHING (one statement, one transaction). */
  private async insertPg(records: UsageRecord[], receivedAt: number): Promise<number> {
    const n = records.length;
    const cols = {
      node: new Array<string>(n),
      seq: new Array<number>(n),
      lease: new Array<string>(n),
      from: new Array<number>(n),
      to: new Array<number>(n),
      gpu: new Array<number>(n),
      mwh: new Array<number>(n),
      src: new Array<string>(n),
    };
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      cols.node[i] = r.nodeId;
      cols.seq[i] = r.seq;
      cols.lease[i] = r.leaseId;
      cols.from[i] = r.fromMs;
      cols.to[i] = r.toMs;
      cols.gpu[i] = r.gpuMs;
      cols.mwh[i] = r.energyMwh;
      cols.src[i] = r.energySource;
    }
    const res = await this.raw.pgPool!.query({
      name: "zumbido_usage_insert",
      text: `INSERT INTO usage (${COLS})
             SELECT u.*, $9::bigint FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[]) AS u
             ON CONFLICT (node_id, seq) DO NOTHING`,
      values: [cols.node, cols.seq, cols.lease, cols.from, cols.to, cols.gpu, cols.mwh, cols.src, receivedAt],
    });
    return res.rowCount ?? 0;
  }

  /** Any Kysely database: chunked multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING in one transaction. */
  private async insertPortable(records: UsageRecord[], receivedAt: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      let n = 0;
      for (let i = 0; i < records.length; i += CHUNK) {
        const rows = records.slice(i, i + CHUNK).map((r) => ({
          node_id: r.nodeId,
          seq: r.seq,
          lease_id: r.leaseId,
          from_ms: r.fromMs,
          to_ms: r.toMs,
          gpu_ms: r.gpuMs,
          energy_mwh: r.energyMwh,
          energy_source: r.energySource,
          received_at: receivedAt,
        }));
        const res = await trx
          .insertInto("usage")
          .values(rows)
          .onConflict((oc) => oc.columns(["node_id", "seq"]).doNothing())
          .returning("seq")
          .execute();
        n += res.length;
      }
      return n;
    });
  }

  async forLeases(leaseIds: string[]): Promise<UsageRecord[]> {
    if (leaseIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("usage")
      .selectAll()
      .where("lease_id", "in", leaseIds)
      .orderBy("node_id")
      .orderBy("seq")
      .execute();
    return rows.map((r) => ({
      nodeId: r.node_id,
      seq: r.seq,
      leaseId: r.lease_id,
      fromMs: r.from_ms,
      toMs: r.to_ms,
      gpuMs: r.gpu_ms,
      energyMwh: r.energy_mwh,
      energySource: r.energy_source as UsageRecord["energySource"],
    }));
  }

  /** Count and sums of all usage rows (for checks and the crash test). */
  async totals(): Promise<{ records: number; gpuMs: number; energyMwh: number }> {
    const r = await this.db
      .selectFrom("usage")
      .select((eb) => [
        eb.fn.countAll<number>().as("records"),
        eb.fn.coalesce(eb.fn.sum<number>("gpu_ms"), eb.val(0)).as("gpuMs"),
        eb.fn.coalesce(eb.fn.sum<number>("energy_mwh"), eb.val(0)).as("energyMwh"),
      ])
      .executeTakeFirstOrThrow();
    return { records: Number(r.records), gpuMs: Number(r.gpuMs), energyMwh: Number(r.energyMwh) };
  }

  /** Highest seq stored for a node (the agent's outbox can trim below it). */
  async maxSeq(nodeId: string): Promise<number> {
    const r = await this.db
      .selectFrom("usage")
      .select((eb) => eb.fn.max<number>("seq").as("m"))
      .where("node_id", "=", nodeId)
      .executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  /** Leases whose billing window changed (stop requested or ended) at or after `sinceMs`. */
  async leasesWindowChangedSince(sinceMs: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("leases")
      .select("id")
      .where((eb) => eb.or([eb("stop_requested_at", ">=", sinceMs), eb("ended_at", ">=", sinceMs)]))
      .execute();
    return rows.map((r) => r.id).sort();
  }

  /** Leases with usage records received (stored) at or after `sinceMs`. */
  async leasesReceivedSince(sinceMs: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("usage")
      .select("lease_id")
      .distinct()
      .where("received_at", ">=", sinceMs)
      .execute();
    return rows.map((r) => r.lease_id).sort();
  }

  /** Every lease that has usage. */
  async leasesWithUsage(): Promise<string[]> {
    const rows = await this.db.selectFrom("usage").select("lease_id").distinct().execute();
    return rows.map((r) => r.lease_id).sort();
  }

  /**
   * Per (lease, usage month) sums over the stored (hence distinct) records, each record first
   * clipped to its lease's billing window [started_at, first of stop requested and ended): the
   * in-window share of a record's GPU-ms, pro rata, rounded down to the ms (as clipGpuMs in
   * src/control/billing.ts). A lease that never started bills nothing.
   */
  async monthTotals(leaseIds: readonly string[]): Promise<LeaseMonthTotal[]> {
    const out: LeaseMonthTotal[] = [];
    const pg = this.raw.pgPool !== undefined || this.db.getExecutor().adapter instanceof PostgresAdapter;
    const month = pg
      ? sql<string>`to_char(to_timestamp((u.from_ms / 1000)::double precision) at time zone 'UTC', 'YYYY-MM')`
      : sql<string>`strftime('%Y-%m', u.from_ms / 1000, 'unixepoch')`;
    const least = pg ? sql.raw("least") : sql.raw("min");
    const greatest = pg ? sql.raw("greatest") : sql.raw("max");
    const wEnd = sql`${least}(coalesce(l.stop_requested_at, ${sql.lit(OPEN_END)}), coalesce(l.ended_at, ${sql.lit(OPEN_END)}))`;
    const overlap = sql`(${least}(u.to_ms, ${wEnd}) - ${greatest}(u.from_ms, l.started_at))`;
    const clipped = sql`case
      when l.started_at is null then 0
      when u.to_ms <= u.from_ms then (case when u.from_ms >= l.started_at and u.from_ms < ${wEnd} then u.gpu_ms else 0 end)
      when ${overlap} <= 0 then 0
      when ${overlap} >= u.to_ms - u.from_ms then u.gpu_ms
      else (u.gpu_ms * ${overlap}) / (u.to_ms - u.from_ms)
    end`;
    for (let i = 0; i < leaseIds.length; i += CHUNK) {
      const ids = leaseIds.slice(i, i + CHUNK);
      const res = await sql<{
        lease_id: string;
        period: string;
        gpu_ms: string | number;
        metered: string | number;
        mwh: string | number;
        n: string | number;
      }>`
        select u.lease_id as lease_id, ${month} as period, sum(${clipped}) as gpu_ms, sum(u.gpu_ms) as metered,
               sum(u.energy_mwh) as mwh, count(*) as n
        from usage u join leases l on l.id = u.lease_id
        where u.lease_id in (${sql.join(ids)})
        group by u.lease_id, ${month}
        order by u.lease_id, period`.execute(this.db);
      for (const r of res.rows)
        out.push({
          leaseId: r.lease_id,
          usagePeriod: r.period,
          gpuMs: Number(r.gpu_ms),
          meteredGpuMs: Number(r.metered),
          energyMwh: Number(r.mwh),
          records: Number(r.n),
        });
    }
    return out;
  }
}
