import { PostgresAdapter, sql, type Kysely } from "kysely";
import type { UsageRecord } from "../domain/index.js";
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

interface SqliteStmt {
  run(...params: unknown[]): { changes: number };
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

  /** better-sqlite3: prepared multi-row INSERT ... ON CONFLICT DO NOTHING in one transaction. */
  private async insertSqlite(records: UsageRecord[], receivedAt: number): Promise<number> {
    const handle = this.raw.sqlite as unknown as SqliteHandle;
    if (!this.sqliteInsert) {
      const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
      const stmt = (n: number): SqliteStmt =>
        handle.prepare(
          `INSERT INTO usage (${COLS}) VALUES ${Array.from({ length: n }, () => row).join(", ")} ON CONFLICT (node_id, seq) DO NOTHING`,
        );
      this.sqliteStmts = { many: stmt(SQLITE_ROWS), one: stmt(1) };
      const { many, one } = this.sqliteStmts;
      const params: unknown[] = new Array<unknown>(SQLITE_ROWS * 9);
      this.sqliteInsert = handle.transaction((recs: UsageRecord[], at: number): number => {
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
      });
    }
    const insert = this.sqliteInsert;
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
