/**
 * The checked usage ingest on PostgreSQL: its statements and steps (usage-pg-queue.ts runs them).
 *
 * A node's batches are bounded one after the other, each against what was stored and what the
 * batches decided before it take. The deciding transaction holds an advisory lock per node (that
 * keeps replicas apart) and reads the stored seqs and the leases' accepted intervals; a `View`
 * adds what this process decided under that lock and has not necessarily committed yet. Batches
 * are written by `commitAfter`, each committing only after the batch before it committed.
 */
import type pg from "pg";
import type { UsageRecord } from "../domain/index.js";
import type { Interval, LeaseUsageBounds, StoredUsage } from "../ledger/index.js";
import {
  STORED_COLS,
  USAGE_COLS,
  anomalyRow,
  coveredIntervalsSql,
  leaseSpans,
  mergedIntervals,
  planIngest,
  rememberPlanned,
  seqSpan,
  storedBySeq,
  type IngestPlan,
  type IngestResult,
  type IntervalRow,
  type StoredRow,
} from "./usage-ingest.js";

/** One batch waiting for its node's turn. */
export interface Pending {
  records: UsageRecord[];
  at: number;
  bounds: ReadonlyMap<string, LeaseUsageBounds>;
  operatorId: string;
  resolve: (r: IngestResult) => void;
  reject: (e: unknown) => void;
}

// Named (prepared once per connection) statements.
const STORED_RANGE = {
  name: "zumbido_usage_stored_range",
  text: `SELECT ${STORED_COLS} FROM usage WHERE node_id = $1 AND seq >= $2 AND seq <= $3`,
};
const STORED_LIST = {
  name: "zumbido_usage_stored_list",
  text: `SELECT ${STORED_COLS} FROM usage WHERE node_id = $1 AND seq = ANY($2::bigint[])`,
};
const COVERED = {
  name: "zumbido_usage_covered",
  text: coveredIntervalsSql((p) => ({ lease: "$1", from: "$2", to: "$3" })[p]),
};
/** Rows stored as sent: the node and the time received once, the rest as arrays. */
const INSERT = {
  name: "zumbido_usage_insert_checked",
  text: `INSERT INTO usage (${USAGE_COLS})
    SELECT $1::text, u.*, $9::bigint FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bigint[],
                                                  $6::bigint[], $7::bigint[], $8::text[]) AS u
    ON CONFLICT (node_id, seq) DO NOTHING`,
};
/** Clipped rows, with their claims. */
const INSERT_CLIPPED = {
  name: "zumbido_usage_insert_clipped",
  text: `INSERT INTO usage (${USAGE_COLS}, claim_json)
    SELECT $1::text, u.seq, u.lease, u.f, u.t, u.g, u.e, u.s, $9::bigint, u.c
    FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[],
                $10::text[]) AS u(seq, lease, f, t, g, e, s, c)
    ON CONFLICT (node_id, seq) DO NOTHING`,
};
const ANOMALIES = {
  name: "zumbido_usage_anomalies",
  text: `INSERT INTO anomalies (at, node_id, operator_id, lease_id, seq, kind, message, claim_json, accepted_json)
    SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                         $8::text[], $9::text[])`,
};

/** The values of INSERT (or, with the claims, INSERT_CLIPPED) for rows of one node received at `at`. */
function rowValues(nodeId: string, at: number, rows: readonly UsageRecord[], claims?: string[]): unknown[] {
  const n = rows.length;
  const seq = new Array<number>(n);
  const lease = new Array<string>(n);
  const from = new Array<number>(n);
  const to = new Array<number>(n);
  const gpu = new Array<number>(n);
  const milliWh = new Array<number>(n);
  const src = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    seq[i] = r.seq;
    lease[i] = r.leaseId;
    from[i] = r.fromMs;
    to[i] = r.toMs;
    gpu[i] = r.gpuMs;
    milliWh[i] = r.energyMilliWh;
    src[i] = r.energySource;
  }
  const v: unknown[] = [nodeId, seq, lease, from, to, gpu, milliWh, src, at];
  if (claims) v.push(claims);
  return v;
}

/** A batch decided: what to write, and its answer once written. */
export interface Planned {
  nodeId: string;
  at: number;
  plan: IngestPlan;
}

/** What the deciding transaction knows of a node beyond what it reads: what it decided itself. */
export class View {
  /** Per lease, the accepted intervals read and decided under this lock (sorted, disjoint). */
  readonly covered = new Map<string, Interval[]>();
  /** The batches decided under this lock (stored or to be stored), with their seq ranges. */
  readonly decided: { min: number; max: number; plan: IngestPlan }[] = [];
}

/** Takes the node's advisory lock in a new transaction on `c` (held until it ends). */
export async function lockNode(c: pg.PoolClient, nodeId: string): Promise<void> {
  await c.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext(${c.escapeLiteral(`usage:${nodeId}`)}))`);
}

/**
 * Bounds a group of a node's batches in arrival order (the node's lock held on `c`): one read of
 * the stored seqs, one per lease of its accepted intervals, both joined with what `view` holds,
 * which then holds these batches too.
 */
export async function decide(
  c: pg.PoolClient,
  nodeId: string,
  view: View,
  group: readonly Pending[],
): Promise<Planned[]> {
  const all = group.length === 1 ? group[0]!.records : group.flatMap((g) => g.records);
  const span = seqSpan(all);
  const storedRows = span.dense
    ? await c.query<StoredRow>({ ...STORED_RANGE, values: [nodeId, span.min, span.max] })
    : await c.query<StoredRow>({ ...STORED_LIST, values: [nodeId, [...new Set(all.map((r) => r.seq))]] });
  const stored: Map<number, StoredUsage> = storedBySeq(storedRows.rows);
  for (const [lease, sp] of leaseSpans(all)) {
    const read = mergedIntervals(
      (await c.query<IntervalRow>({ ...COVERED, values: [lease, sp.from, sp.to] })).rows,
    );
    const mine = view.covered.get(lease);
    view.covered.set(lease, mine ? joined(read, mine) : read);
  }
  return group.map((g) => {
    // Seqs decided under this lock that this batch may replay (not necessarily committed yet).
    const s = group.length === 1 ? span : seqSpan(g.records);
    for (const d of view.decided) if (d.max >= s.min && d.min <= s.max) rememberPlanned(d.plan, stored);
    const plan = planIngest(g.records, g.bounds, stored, view.covered, g.operatorId, g.at);
    view.decided.push({ min: s.min, max: s.max, plan });
    return { nodeId, at: g.at, plan };
  });
}

/** The union of two sorted disjoint interval sets, sorted and disjoint (touching ones merged). */
function joined(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const all = [...a, ...b].sort((x, y) => x.from - y.from);
  return mergedIntervals(all.map((x) => ({ from_ms: x.from, to_ms: x.to })));
}

/** Writes one batch's rows and anomalies. */
export async function write(c: pg.PoolClient, p: Planned): Promise<void> {
  const { clean, clippedRows, anomalies } = p.plan;
  if (clean.length > 0) await c.query({ ...INSERT, values: rowValues(p.nodeId, p.at, clean) });
  if (clippedRows.length > 0)
    await c.query({
      ...INSERT_CLIPPED,
      values: rowValues(
        p.nodeId,
        p.at,
        clippedRows.map((x) => x.r),
        clippedRows.map((x) => x.claim),
      ),
    });
  if (anomalies.length === 0) return;
  const cols: unknown[][] = Array.from({ length: 9 }, () => []);
  for (const a of anomalies) {
    const x = anomalyRow(a);
    const v = [
      x.at,
      x.node_id,
      x.operator_id,
      x.lease_id,
      x.seq,
      x.kind,
      x.message,
      x.claim_json,
      x.accepted_json,
    ];
    for (let i = 0; i < v.length; i++) cols[i]!.push(v[i]);
  }
  await c.query({ ...ANOMALIES, values: cols });
}

/** Rolls back and gives the connection back (or drops it when it cannot roll back). */
export async function rollback(c: pg.PoolClient): Promise<void> {
  await c.query("ROLLBACK").then(
    () => c.release(),
    (e: Error) => c.release(e),
  );
}

/**
 * Writes a batch on its own connection and commits it once the batch before it has committed
 * (`before` true); rolls back if that one did not. Never rejects: false when not committed.
 */
export async function commitAfter(c: pg.PoolClient, p: Planned, before: Promise<boolean>): Promise<boolean> {
  try {
    await c.query("BEGIN");
    await write(c, p);
    if (await before) {
      await c.query("COMMIT");
      c.release();
      return true;
    }
  } catch {
    // Not committed: the batch is tried again alone, which reports its error if it has one.
  }
  await before;
  await rollback(c);
  return false;
}
