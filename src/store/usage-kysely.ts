/**
 * Usage ingest on PostgreSQL (one INSERT ... SELECT FROM UNNEST per batch, an advisory lock per
 * node) and on any other Kysely database (chunked multi-row INSERTs).
 */
import { CompiledQuery, PostgresAdapter, sql, type Kysely, type Transaction } from "kysely";
import type pg from "pg";
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

/** Rows per statement on the portable (Kysely) path. */
export const CHUNK = 500;

/** True when the Kysely database is PostgreSQL. */
export const isPostgres = (db: Kysely<Database>, pgPool?: pg.Pool): boolean =>
  pgPool !== undefined || db.getExecutor().adapter instanceof PostgresAdapter;

/** PostgreSQL: one INSERT ... SELECT FROM UNNEST(arrays) ON CONFLICT DO NOTHING (one statement, one transaction). */
export async function insertPg(pool: pg.Pool, records: UsageRecord[], receivedAt: number): Promise<number> {
  const n = records.length;
  const cols = {
    node: new Array<string>(n),
    seq: new Array<number>(n),
    lease: new Array<string>(n),
    from: new Array<number>(n),
    to: new Array<number>(n),
    gpu: new Array<number>(n),
    milliWh: new Array<number>(n),
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
    cols.milliWh[i] = r.energyMilliWh;
    cols.src[i] = r.energySource;
  }
  const res = await pool.query({
    name: "zumbido_usage_insert",
    text: `INSERT INTO usage (${USAGE_COLS})
           SELECT u.*, $9::bigint FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[]) AS u
           ON CONFLICT (node_id, seq) DO NOTHING`,
    values: [
      cols.node,
      cols.seq,
      cols.lease,
      cols.from,
      cols.to,
      cols.gpu,
      cols.milliWh,
      cols.src,
      receivedAt,
    ],
  });
  return res.rowCount ?? 0;
}

/** Rows of usage as the table's columns (claim_json null for rows stored as sent). */
const usageRows = (rows: { r: UsageRecord; claim: string | null }[], at: number) =>
  rows.map(({ r, claim }) => ({
    node_id: r.nodeId,
    seq: r.seq,
    lease_id: r.leaseId,
    from_ms: r.fromMs,
    to_ms: r.toMs,
    gpu_ms: r.gpuMs,
    energy_milli_wh: r.energyMilliWh,
    energy_source: r.energySource,
    received_at: at,
    claim_json: claim,
  }));

/** Any Kysely database: chunked multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING in one transaction. */
export async function insertPortable(
  db: Kysely<Database>,
  records: UsageRecord[],
  receivedAt: number,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let n = 0;
    for (let i = 0; i < records.length; i += CHUNK) {
      const rows = usageRows(
        records.slice(i, i + CHUNK).map((r) => ({ r, claim: null })),
        receivedAt,
      ).map(({ claim_json: _, ...row }) => row);
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

/** A lease's accepted intervals meeting [from, to), with the store's placeholders. */
async function coveredIntervals(
  trx: Transaction<Database>,
  pgSyntax: boolean,
  v: { lease: string; from: number; to: number },
): Promise<Interval[]> {
  const params: unknown[] = [];
  const text = pgSyntax
    ? coveredIntervalsSql((p) => ({ lease: "$1", from: "$2", to: "$3" })[p])
    : coveredIntervalsSql((p) => (params.push(v[p]), "?"));
  const q = CompiledQuery.raw(text, pgSyntax ? [v.lease, v.from, v.to] : params);
  return mergedIntervals((await trx.executeQuery<IntervalRow>(q)).rows);
}

/** The checked ingest (see UsageRepo.ingest) in one Kysely transaction; PostgreSQL serialises a node's batches with an advisory lock. */
export async function ingestKysely(
  db: Kysely<Database>,
  pgSyntax: boolean,
  nodeId: string,
  operatorId: string,
  records: UsageRecord[],
  at: number,
  bounds: ReadonlyMap<string, LeaseUsageBounds>,
): Promise<IngestResult> {
  return db.transaction().execute(async (trx) => {
    if (pgSyntax) await sql`select pg_advisory_xact_lock(hashtext(${`usage:${nodeId}`}))`.execute(trx);
    const span = seqSpan(records);
    const where = span.dense
      ? sql`seq >= ${span.min} and seq <= ${span.max}`
      : pgSyntax
        ? sql`seq = any(${records.map((r) => r.seq)}::bigint[])`
        : sql`seq in (${sql.join([...new Set(records.map((r) => r.seq))])})`;
    const stored =
      await sql<StoredRow>`select ${sql.raw(STORED_COLS)} from usage where node_id = ${nodeId} and ${where}`.execute(
        trx,
      );
    const covered = new Map<string, Interval[]>();
    for (const [lease, sp] of leaseSpans(records))
      covered.set(lease, await coveredIntervals(trx, pgSyntax, { lease, from: sp.from, to: sp.to }));
    const p = planIngest(records, bounds, storedBySeq(stored.rows), covered, operatorId, at);
    const rows = [...p.clean.map((r) => ({ r, claim: null as string | null })), ...p.clippedRows];
    if (pgSyntax && rows.length > 0) {
      const col = <T>(f: (x: { r: UsageRecord; claim: string | null }) => T): T[] => rows.map(f);
      await sql`INSERT INTO usage (${sql.raw(USAGE_COLS)}, claim_json)
           SELECT u.node_id, u.seq, u.lease_id, u.from_ms, u.to_ms, u.gpu_ms, u.energy_milli_wh, u.energy_source, ${at}::bigint, u.claim_json
           FROM UNNEST(${col((x) => x.r.nodeId)}::text[], ${col((x) => x.r.seq)}::bigint[], ${col((x) => x.r.leaseId)}::text[],
                       ${col((x) => x.r.fromMs)}::bigint[], ${col((x) => x.r.toMs)}::bigint[], ${col((x) => x.r.gpuMs)}::bigint[],
                       ${col((x) => x.r.energyMilliWh)}::bigint[], ${col((x) => x.r.energySource)}::text[], ${col((x) => x.claim)}::text[])
             AS u(node_id, seq, lease_id, from_ms, to_ms, gpu_ms, energy_milli_wh, energy_source, claim_json)
           ON CONFLICT (node_id, seq) DO NOTHING`.execute(trx);
    } else
      for (let i = 0; i < rows.length; i += CHUNK)
        await trx
          .insertInto("usage")
          .values(usageRows(rows.slice(i, i + CHUNK), at))
          .onConflict((oc) => oc.columns(["node_id", "seq"]).doNothing())
          .execute();
    for (let i = 0; i < p.anomalies.length; i += CHUNK)
      await trx
        .insertInto("anomalies")
        .values(p.anomalies.slice(i, i + CHUNK).map(anomalyRow))
        .execute();
    return p.result;
  });
}
