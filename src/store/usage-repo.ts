import { sql, type Kysely } from "kysely";
import type { UsageRecord } from "../domain/index.js";
import type { LeaseUsageBounds } from "../ledger/index.js";
import { rawHandlesOf, type Db } from "./db.js";
import type { Database } from "./schema.js";
import { anomalyRow, type AnomalyRecord, type IngestResult } from "./usage-ingest.js";
import { CHUNK, ingestKysely, insertPg, insertPortable, isPostgres } from "./usage-kysely.js";
import { PgUsageIngest } from "./usage-pg-queue.js";
import { SqliteUsage, type SqliteHandle } from "./usage-sqlite.js";

export type { AnomalyRecord, IngestResult } from "./usage-ingest.js";

/** A stop time far in the future for leases still billing (safe integer, fits int64). */
const OPEN_END = 9_000_000_000_000_000;

/** Metered totals of one lease in one usage month, each record clipped to the lease's billing window. */
export interface LeaseMonthTotal {
  leaseId: string;
  /** UTC month (YYYY-MM) in which the records' intervals start. */
  usagePeriod: string;
  /** Sum over distinct records of the GPU-ms inside the billing window (clipped per record, rounded down to the ms). */
  gpuMs: number;
  /** Sum of the records' GPU-ms, unclipped. */
  meteredGpuMs: number;
  energyMilliWh: number;
  records: number;
}

/** Metered usage: idempotent on (node_id, seq). */
export class UsageRepo {
  private readonly raw: Pick<Db, "sqlite" | "pgPool">;
  private readonly sqlite: SqliteUsage | undefined;
  private readonly pgIngest: PgUsageIngest | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    raw?: Pick<Db, "sqlite" | "pgPool">,
  ) {
    this.raw = raw ?? rawHandlesOf(db);
    if (this.raw.sqlite) this.sqlite = new SqliteUsage(this.raw.sqlite as unknown as SqliteHandle, db);
    if (this.raw.pgPool) this.pgIngest = new PgUsageIngest(this.raw.pgPool);
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
    if (this.sqlite) accepted = await this.sqlite.insert(records, receivedAt);
    else if (this.raw.pgPool) accepted = await insertPg(this.raw.pgPool, records, receivedAt);
    else accepted = await insertPortable(this.db, records, receivedAt);
    return { accepted, duplicates: records.length - accepted };
  }

  /**
   * Ingests one node's batch under the server's bounds (see src/ledger/usage-bounds.ts), in one
   * transaction: replays with the same content are duplicates, replays with other content are
   * refused as conflicts, new records are stored as sent or clipped (keeping the claim), and every
   * clipped, refused or conflicting record leaves an anomaly. All records must be of `nodeId` and
   * of leases in `bounds`. Batches of one node are serialised (SQLite: one connection; PostgreSQL:
   * an advisory lock per node, and a node's concurrent batches in one process share one transaction:
   * usage-pg.ts), so two batches never both take the same interval.
   */
  async ingest(
    nodeId: string,
    operatorId: string,
    records: UsageRecord[],
    receivedAt: number,
    bounds: ReadonlyMap<string, LeaseUsageBounds>,
  ): Promise<IngestResult> {
    if (records.length === 0) return { accepted: 0, duplicates: 0, clipped: 0, conflicts: [] };
    if (this.sqlite) return this.sqlite.ingest(records, receivedAt, bounds, operatorId);
    if (this.pgIngest) return this.pgIngest.ingest(nodeId, operatorId, records, receivedAt, bounds);
    return ingestKysely(this.db, this.pg(), nodeId, operatorId, records, receivedAt, bounds);
  }

  /** Closes what the repo opened itself (PostgreSQL: the ingest's writer connections). */
  async close(): Promise<void> {
    await this.pgIngest?.close();
  }

  private pg(): boolean {
    return isPostgres(this.db, this.raw.pgPool);
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
    await this.db.insertInto("anomalies").values(anomalyRow(a)).execute();
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
      energyMilliWh: r.energy_milli_wh,
      energySource: r.energy_source as UsageRecord["energySource"],
    }));
  }

  /** Count and sums of all usage rows (for checks and the crash test). */
  async totals(): Promise<{ records: number; gpuMs: number; energyMilliWh: number }> {
    const r = await this.db
      .selectFrom("usage")
      .select((eb) => [
        eb.fn.countAll<number>().as("records"),
        eb.fn.coalesce(eb.fn.sum<number>("gpu_ms"), eb.val(0)).as("gpuMs"),
        eb.fn.coalesce(eb.fn.sum<number>("energy_milli_wh"), eb.val(0)).as("energyMilliWh"),
      ])
      .executeTakeFirstOrThrow();
    return { records: Number(r.records), gpuMs: Number(r.gpuMs), energyMilliWh: Number(r.energyMilliWh) };
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
    const pg = this.pg();
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
        milli_wh: string | number;
        n: string | number;
      }>`
        select u.lease_id as lease_id, ${month} as period, sum(${clipped}) as gpu_ms, sum(u.gpu_ms) as metered,
               sum(u.energy_milli_wh) as milli_wh, count(*) as n
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
          energyMilliWh: Number(r.milli_wh),
          records: Number(r.n),
        });
    }
    return out;
  }
}
