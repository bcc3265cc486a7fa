/**
 * Server-side bounds on node-reported usage (pure: no clock, no I/O). A node's record is a claim;
 * what the bill uses is the part of it the control plane can vouch for:
 *
 * - its interval inside the lease's server-observed life (assignment to end, or to the server's
 *   "now" while the lease runs), with a small tolerance for the agent's clock-offset estimate;
 * - never overlapping an interval already accepted for the lease (the overlap is clipped, not summed);
 * - GPU-ms at most leased GPUs x interval; energy at most the GPUs' power limit x interval.
 *
 * A record clipped or refused keeps its original claim as evidence (an anomaly). A sequence number
 * seen again with the same content is a duplicate (idempotent); with other content, a conflict.
 */
import type { UsageRecord } from "../domain/index.js";

/** Slack (ms) around a lease's server-observed life: covers the agent's clock-offset estimate (half a round trip). */
export const USAGE_TOLERANCE_MS = 2_000;
/** Energy may exceed the catalogue TDP by this share (percent) before it is clipped: power limits are averages. */
export const POWER_HEADROOM_PCT = 110;

/** What the server knows of a lease when it bounds that lease's usage. */
export interface LeaseUsageBounds {
  leaseId: string;
  /** GPUs the lease holds. */
  gpus: number;
  /** Earliest instant a record may cover (server clock, epoch ms). */
  fromMs: number;
  /** Latest instant a record may cover (server clock, epoch ms). */
  toMs: number;
  /** Power limit of the lease's GPUs together (W), headroom included. */
  maxWatts: number;
}

/** The bounds of a lease from its server-side facts: assigned at `createdAt`, ended at `endedAt` (null while it runs). */
export function leaseUsageBounds(
  lease: { id: string; gpus: number; createdAt: number; endedAt: number | null; tdpW: number },
  now: number,
  toleranceMs = USAGE_TOLERANCE_MS,
): LeaseUsageBounds {
  const end = lease.endedAt ?? now;
  return {
    leaseId: lease.id,
    gpus: lease.gpus,
    fromMs: lease.createdAt - toleranceMs,
    toMs: Math.max(lease.createdAt, Math.min(end, now)) + toleranceMs,
    maxWatts: Math.ceil((lease.gpus * lease.tdpW * POWER_HEADROOM_PCT) / 100),
  };
}

/** The content of a usage record that a replay must repeat exactly. */
export type UsageClaim = Omit<UsageRecord, "nodeId" | "seq">;

/** A record already stored for this node (for replay detection): what was accepted and, if it differed, the claim. */
export interface StoredUsage {
  accepted: UsageClaim;
  claim: UsageClaim | null;
}

/** A half-open interval [from, to) of server time. */
export interface Interval {
  from: number;
  to: number;
}

/** Why a record was clipped. */
export type ClipReason = "outside-lease" | "overlap" | "gpu-ms" | "energy" | "empty-interval";

/** What happens to one record of a batch. */
export type UsageVerdict =
  | { kind: "duplicate"; seq: number }
  | { kind: "conflict"; seq: number; claim: UsageRecord; stored: UsageClaim; message: string }
  | { kind: "new"; record: UsageRecord; claim: null }
  | { kind: "new"; record: UsageRecord; claim: UsageRecord; reasons: ClipReason[]; message: string };

/** True when two claims have the same content. */
export function sameClaim(a: UsageClaim, b: UsageClaim): boolean {
  return (
    a.leaseId === b.leaseId &&
    a.fromMs === b.fromMs &&
    a.toMs === b.toMs &&
    a.gpuMs === b.gpuMs &&
    a.energyMilliWh === b.energyMilliWh &&
    a.energySource === b.energySource
  );
}

function claimOf(r: UsageClaim): UsageClaim {
  return {
    leaseId: r.leaseId,
    fromMs: r.fromMs,
    toMs: r.toMs,
    gpuMs: r.gpuMs,
    energyMilliWh: r.energyMilliWh,
    energySource: r.energySource,
  };
}

/** x * num / den rounded down, exact for any safe integers. */
function prorate(x: number, num: number, den: number): number {
  if (den <= 0) return 0;
  const p = x * num;
  if (Number.isSafeInteger(p)) return Math.floor(p / den);
  return Number((BigInt(x) * BigInt(num)) / BigInt(den));
}

/** Index of the first interval whose end is after `at` (intervals sorted, disjoint). */
function firstEndingAfter(set: Interval[], at: number): number {
  let lo = 0;
  let hi = set.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (set[mid]!.to > at) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The longest part of [a, b) not covered by `set` (the earliest on a tie); empty when all is covered. */
export function longestUncovered(set: Interval[], a: number, b: number): Interval {
  let best: Interval = { from: a, to: a };
  let cursor = a;
  for (let i = firstEndingAfter(set, a); i < set.length && set[i]!.from < b && cursor < b; i++) {
    const s = set[i]!;
    if (s.from > cursor && s.from - cursor > best.to - best.from) best = { from: cursor, to: s.from };
    cursor = Math.max(cursor, s.to);
  }
  if (b > cursor && b - cursor > best.to - best.from) best = { from: cursor, to: b };
  return best;
}

/** Adds [from, to) (uncovered) to a sorted, disjoint set, merging touching neighbours. */
export function cover(set: Interval[], from: number, to: number): void {
  if (to <= from) return;
  const i = firstEndingAfter(set, from - 1);
  // set[i - 1].to <= from - 1 < from; set[i].to >= from. Merge with a left neighbour ending exactly at `from`.
  const left = i < set.length && set[i]!.to === from ? i : -1;
  const rightIdx = left >= 0 ? left + 1 : i;
  const right = rightIdx < set.length && set[rightIdx]!.from === to ? rightIdx : -1;
  if (left >= 0 && right >= 0) {
    set[left]!.to = set[right]!.to;
    set.splice(right, 1);
  } else if (left >= 0) set[left]!.to = to;
  else if (right >= 0) set[right]!.from = from;
  else set.splice(i, 0, { from, to });
}

/**
 * Decides every record of a batch, in order: duplicate, conflict, or new (as sent, or clipped with
 * the reasons). `stored` maps seqs already stored for the node; `covered` holds, per lease, the
 * sorted disjoint intervals already accepted (it is updated with what this batch accepts).
 * Every record's lease must have bounds (the caller refuses leases the node does not hold).
 */
export function boundUsageBatch(
  records: readonly UsageRecord[],
  bounds: ReadonlyMap<string, LeaseUsageBounds>,
  stored: ReadonlyMap<number, StoredUsage>,
  covered: Map<string, Interval[]>,
): UsageVerdict[] {
  const out: UsageVerdict[] = new Array<UsageVerdict>(records.length);
  // Records of this batch by seq (a record carries its claim; records are never mutated), built
  // only when a seq is not above every seq before it: in a batch of increasing seqs (what agents
  // send) no seq can repeat, so no map is needed.
  let inBatch: Map<number, UsageClaim> | null = null;
  let maxSeq = -Infinity;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const before = stored.size > 0 ? stored.get(r.seq) : undefined;
    let earlier: UsageClaim | undefined = before ? (before.claim ?? before.accepted) : undefined;
    if (!before && r.seq <= maxSeq) {
      if (!inBatch) {
        inBatch = new Map();
        for (let j = 0; j < i; j++) if (out[j]!.kind === "new") inBatch.set(records[j]!.seq, records[j]!);
      }
      earlier = inBatch.get(r.seq);
    }
    if (r.seq > maxSeq) maxSeq = r.seq;
    if (earlier) {
      out[i] = sameClaim(earlier, r)
        ? { kind: "duplicate", seq: r.seq }
        : {
            kind: "conflict",
            seq: r.seq,
            claim: r,
            stored: claimOf(earlier),
            message: `seq ${r.seq} was already received with other content (${describe(earlier)}); now ${describe(r)}: refused, the first stays`,
          };
      continue;
    }
    inBatch?.set(r.seq, r);
    out[i] = bound(r, bounds.get(r.leaseId)!, covered);
  }
  return out;
}

function describe(c: UsageClaim): string {
  return `lease ${c.leaseId} [${c.fromMs}, ${c.toMs}) ${c.gpuMs} GPU-ms ${c.energyMilliWh} mWh ${c.energySource}`;
}

function bound(r: UsageRecord, b: LeaseUsageBounds, covered: Map<string, Interval[]>): UsageVerdict {
  let set = covered.get(r.leaseId);
  if (!set) covered.set(r.leaseId, (set = []));
  const len = r.toMs - r.fromMs;
  // The honest case, decided without allocating: inside the lease's life, after every interval
  // accepted so far, within GPUs and power. The same verdict as the general path below.
  const last = set.length > 0 ? set[set.length - 1]! : undefined;
  if (
    len > 0 &&
    r.fromMs >= b.fromMs &&
    r.toMs <= b.toMs &&
    (!last || last.to <= r.fromMs) &&
    r.gpuMs <= b.gpus * len &&
    r.energyMilliWh <= prorate(b.maxWatts, len, 3600)
  ) {
    if (last && last.to === r.fromMs) last.to = r.toMs;
    else set.push({ from: r.fromMs, to: r.toMs });
    return { kind: "new", record: r, claim: null };
  }
  const reasons: ClipReason[] = [];
  // 1. Inside the lease's server-observed life.
  let a = Math.max(r.fromMs, b.fromMs);
  let z = Math.min(r.toMs, b.toMs);
  if (a > r.fromMs || z < r.toMs) reasons.push("outside-lease");
  if (z < a) z = a = Math.min(Math.max(r.fromMs, b.fromMs), b.toMs);
  // 2. Not over an interval already accepted.
  if (z > a && set.length > 0) {
    const piece = longestUncovered(set, a, z);
    if (piece.from !== a || piece.to !== z) {
      reasons.push("overlap");
      a = piece.from;
      z = piece.to;
    }
  }
  const kept = z - a;
  // 3. GPU-ms and energy, pro rata to the kept interval, then capped by GPUs and power limit.
  let gpuMs = len > 0 ? (kept === len ? r.gpuMs : prorate(r.gpuMs, kept, len)) : 0;
  let energyMilliWh = len > 0 ? (kept === len ? r.energyMilliWh : prorate(r.energyMilliWh, kept, len)) : 0;
  if (len === 0 && (r.gpuMs > 0 || r.energyMilliWh > 0)) reasons.push("empty-interval");
  const maxGpuMs = b.gpus * kept;
  if (gpuMs > maxGpuMs) {
    reasons.push("gpu-ms");
    gpuMs = maxGpuMs;
  }
  const maxMilliWh = prorate(b.maxWatts, kept, 3600);
  if (energyMilliWh > maxMilliWh) {
    reasons.push("energy");
    energyMilliWh = maxMilliWh;
  }
  cover(set, a, z);
  if (reasons.length === 0) return { kind: "new", record: r, claim: null };
  const record: UsageRecord = { ...r, fromMs: a, toMs: z, gpuMs, energyMilliWh };
  return {
    kind: "new",
    record,
    claim: r,
    reasons,
    message: `seq ${r.seq} (${reasons.join(", ")}): claimed ${describe(r)} on a ${b.gpus}-GPU lease whose server-observed life is [${b.fromMs}, ${b.toMs}); accepted [${a}, ${z}) ${gpuMs} GPU-ms ${energyMilliWh} mWh`,
  };
}
