/**
 * The fleet bench's safety checks, read straight from the store after a run (no server is asked):
 * jobs placed twice, GPUs leased twice, usage records lost. They look at the rows themselves, so a
 * double booking that a server never noticed (two leaders committing onto one GPU) is counted.
 */
import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.js";

/** A usage record a simulated node sent: (node, seq) is its identity in the store. */
export interface SentUsage {
  nodeId: string;
  seq: number;
}

/** What the checks found; `examples` names the first few offenders of each kind. */
export interface FleetCheck {
  /** Jobs with two placements alive at once (events: two "scheduled" with no requeue between; leases: one rank's leases alive at once). */
  jobsPlacedTwice: number;
  /** Pairs of leases that held the same GPU of the same node at the same time. */
  gpuDoubleLeased: number;
  /** Usage records the nodes sent that are not in the store. */
  lostUsageRecords: number;
  /** Jobs with a lease (placed at least once). */
  jobsPlaced: number;
  /** Each job's first lease commit time (ms), for the bench's latency figures. */
  firstLeaseAt: Map<string, number>;
  examples: string[];
}

interface Span {
  id: string;
  from: number;
  to: number;
}

/** Sorted spans [from, to) that overlap their predecessor still running (a span ends at `to`). */
function overlaps(spans: Span[]): [Span, Span][] {
  const s = [...spans].sort((a, b) => a.from - b.from || a.id.localeCompare(b.id));
  const out: [Span, Span][] = [];
  // Compare with the latest-ending span so far: A [0,10), B [1,2), C [5,6) is two overlaps with A.
  let open: Span | undefined;
  for (const x of s) {
    if (open && x.from < open.to) out.push([open, x]);
    if (!open || x.to > open.to) open = x;
  }
  return out;
}

/** Runs the checks on a bench database (SQLite or PostgreSQL) after the servers have stopped writing. */
export async function checkFleetStore(db: Kysely<Database>, sent: Iterable<SentUsage>): Promise<FleetCheck> {
  const examples: string[] = [];
  const note = (s: string): void => {
    if (examples.length < 10) examples.push(s);
  };

  // 1. Jobs placed twice. By events: a job's "scheduled" must follow a requeue ("preempted") once it
  //    has been scheduled; by leases: two leases of the same job and gang rank alive at once.
  const twice = new Set<string>();
  const ev = await db
    .selectFrom("job_events")
    .select(["id", "job_id", "at", "state"])
    .where("state", "in", ["scheduled", "preempted"])
    .execute();
  ev.sort((a, b) => Number(a.at) - Number(b.at) || Number(a.id) - Number(b.id));
  const placedNow = new Map<string, boolean>();
  for (const e of ev) {
    if (e.state === "preempted") placedNow.set(e.job_id, false);
    else if (placedNow.get(e.job_id) === true) {
      if (!twice.has(e.job_id)) note(`job ${e.job_id}: scheduled again at ${e.at} without a requeue`);
      twice.add(e.job_id);
    } else placedNow.set(e.job_id, true);
  }
  const leases = await db
    .selectFrom("leases")
    .select([
      "id",
      "job_id",
      "node_id",
      "gpu_indices_json",
      "gang_rank",
      "created_at",
      "ended_at",
      "stop_requested_at",
    ])
    .execute();
  // A lease holds its GPUs until it ends; it holds its job's place until it is asked to stop (a
  // requeued gang may be placed again while its old ranks finish their grace period).
  const span = (l: (typeof leases)[number], untilStop = false): Span => {
    const ends = [l.ended_at, untilStop ? l.stop_requested_at : null].filter((x) => x !== null);
    return { id: l.id, from: Number(l.created_at), to: Math.min(Infinity, ...ends.map(Number)) };
  };
  const byRank = new Map<string, Span[]>();
  const firstLeaseAt = new Map<string, number>();
  for (const l of leases) {
    const k = `${l.job_id}#${l.gang_rank ?? 0}`;
    const list = byRank.get(k) ?? [];
    list.push(span(l, true));
    byRank.set(k, list);
    firstLeaseAt.set(l.job_id, Math.min(firstLeaseAt.get(l.job_id) ?? Infinity, Number(l.created_at)));
  }
  for (const [k, spans] of byRank)
    for (const [a, b] of overlaps(spans)) {
      const job = k.slice(0, k.lastIndexOf("#"));
      if (!twice.has(job)) note(`job ${job}: leases ${a.id} and ${b.id} alive at once`);
      twice.add(job);
    }

  // 2. GPUs leased twice: two leases on one (node, GPU) whose [created, ended) overlap.
  const byGpu = new Map<string, Span[]>();
  for (const l of leases)
    for (const g of JSON.parse(l.gpu_indices_json) as number[]) {
      const k = `${l.node_id}/${g}`;
      const list = byGpu.get(k) ?? [];
      list.push(span(l));
      byGpu.set(k, list);
    }
  let gpuDoubleLeased = 0;
  for (const [k, spans] of byGpu)
    for (const [a, b] of overlaps(spans)) {
      gpuDoubleLeased++;
      note(`GPU ${k}: leases ${a.id} and ${b.id} at once`);
    }

  // 3. Usage lost: every record a node sent must be in the store, by its (node, seq).
  const stored = new Set(
    (await db.selectFrom("usage").select(["node_id", "seq"]).execute()).map((u) => `${u.node_id}/${u.seq}`),
  );
  let lostUsageRecords = 0;
  for (const u of sent)
    if (!stored.has(`${u.nodeId}/${u.seq}`)) {
      lostUsageRecords++;
      note(`usage ${u.nodeId}/${u.seq} not in the store`);
    }

  return {
    jobsPlacedTwice: twice.size,
    gpuDoubleLeased,
    lostUsageRecords,
    jobsPlaced: firstLeaseAt.size,
    firstLeaseAt,
    examples,
  };
}
