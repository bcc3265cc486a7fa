// One scheduling round of the one queue policy, shared by the control plane (scheduleFast) and the
// simulator (src/sim/engine.ts): the queue's order (the rule's level, then weighted fair share by
// tenant inside a level, FIFO when every tenant's share key is equal) and the walk that places
// jobs, asks for preemptions and applies the backfill switch. What a placement, a victim or a
// reservation means on real hardware is the caller's: it comes in through `PassCluster`.

import type { QueueRule } from "./queue-policy.js";

/** The job started now; it leaves the queue. */
export const PLACED = 0;
/** The job does not fit now: the pass may preempt for it; it may block the queue or get the head reservation. */
export const NO_FIT = 1;
/** Nothing more for this job this round (it already holds a claim, or its request is unusable); it keeps its place. */
export const PASSED = 2;
/** What the cluster did with a job's turn. */
export type Turn = typeof PLACED | typeof NO_FIT | typeof PASSED;

/**
 * The cluster as the pass sees it. Jobs are handles (numbers): a smaller handle is an older job
 * (submitted earlier; ties by id), so FIFO is ascending handle order.
 */
export interface PassCluster {
  /** Whether the job still waits (entries of jobs that started or left are dropped as they are met). */
  waiting(h: number): boolean;
  /**
   * Optional shortcut: true when no job of this level or a later one can be placed or preempt now.
   * The walk then stops; it must never change a decision, only save the work of reaching it.
   */
  exhausted?(level: number): boolean;
  /** Places the job now if it fits (the cluster's own placement rules: sites, power, checkpoints). */
  place(h: number): Turn;
  /** Optional: the job may preempt although the rule is not preemptive (control plane: on-demand over interruptible). */
  preemptsAnyway?(h: number): boolean;
  /**
   * Frees room for the job by preemption, with the victims of `chooseVictims` (queue-policy.ts) among
   * each node's candidates, on the node `cheaperPreemption` picks; true when it did (the job then
   * waits for them).
   */
  preempt(h: number, level: number): boolean;
  /** Optional: the job waits (it neither fits nor preempts). */
  blocked?(h: number): void;
  /** Keeps room for the first blocked job (backfill never delays it); false when the cluster declines. */
  reserveForHead(h: number): boolean;
  /** Optional: the job is not looked at because the queue stopped at `head` (strict FIFO); without it the walk ends there. */
  behind?(h: number, head: number): void;
}

/**
 * Weighted fair share inside a level: the next job is the oldest of the tenant with the least
 * (usage + GPUs ordered this round × horizonS) / weight; equal keys go to the oldest head job. With
 * no usage and horizonS 0 every key is equal and the order is FIFO, which `WaitQueue` keeps as one
 * list (the simulator's default: the Philly trace has no shares to honour).
 */
export interface FairShare {
  /** Number of tenants; handles map to 0 .. tenants - 1. */
  tenants: number;
  tenantOf(h: number): number;
  gpusOf(h: number): number;
  /** GPU-seconds each tenant has used (the starting key); read at each pass. */
  usageGpuS: ArrayLike<number>;
  /** Weight of each tenant (> 0). */
  weight: ArrayLike<number>;
  /** Nominal seconds a GPU ordered this round is charged to its tenant. */
  horizonS: number;
}

/** The waiting jobs by level and tenant, each list in FIFO (ascending handle) order. */
export class WaitQueue {
  /** q[level][tenant]: waiting handles, ascending. */
  private readonly q: number[][][];

  constructor(
    readonly levels: number,
    /** null: every tenant's key is equal (FIFO inside a level). */
    readonly fair: FairShare | null = null,
  ) {
    if (!Number.isInteger(levels) || levels < 1)
      throw new Error(`a queue needs at least 1 level, got ${levels}`);
    const groups = fair ? fair.tenants : 1;
    this.q = Array.from({ length: levels }, () => Array.from({ length: groups }, () => []));
  }

  /** Adds a waiting job at a level. */
  insert(h: number, level: number): void {
    if (!(level >= 0 && level < this.levels) || !Number.isInteger(level))
      throw new Error(`job ${h}: level ${level} is outside the rule's 0..${this.levels - 1}`);
    const q = this.q[level]![this.fair ? this.fair.tenantOf(h) : 0]!;
    if (q.length === 0 || q[q.length - 1]! < h) {
      q.push(h);
      return;
    }
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (q[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, h);
  }

  /** Moves the entries `concerns` picks to the level `levelOf` gives now (the rule learned something). */
  relevel(concerns: (h: number) => boolean, levelOf: (h: number) => number): void {
    const moved: number[] = [];
    const to: number[] = [];
    for (let l = 0; l < this.levels; l++) {
      for (const q of this.q[l]!) {
        if (q.length === 0) continue;
        let w = 0;
        for (const h of q) {
          if (concerns(h)) {
            const nl = levelOf(h);
            if (nl !== l) {
              moved.push(h);
              to.push(nl);
              continue;
            }
          }
          q[w++] = h;
        }
        if (w !== q.length) q.length = w;
      }
    }
    for (let k = 0; k < moved.length; k++) this.insert(moved[k]!, to[k]!);
  }

  /** Every entry (some may no longer wait), level by level. */
  entries(): number[] {
    return this.q.flat(2);
  }

  /** The lists of a level, one per tenant (the pass edits them in place). */
  level(l: number): number[][] {
    return this.q[l]!;
  }
}

/**
 * One scheduling round: levels in order, the fair-share (else FIFO) order inside each; for each
 * waiting job, place it, else (preemptive rule, or a job the cluster lets preempt) preempt for it,
 * else it waits: a strict rule stops the queue there, a backfilling rule keeps room for the first
 * such job. Placed jobs leave the queue; all others keep their place.
 */
export function runPass(rule: QueueRule, queue: WaitQueue, cluster: PassCluster): void {
  const fair = queue.fair;
  const load = fair ? Float64Array.from({ length: fair.tenants }, (_, k) => fair.usageGpuS[k] ?? 0) : null;
  let headReserved = false;
  let head = -1;
  let halt = false;
  /** One job's turn at level l; returns whether it stays in the queue. */
  const turn = (h: number, l: number): boolean => {
    if (head >= 0) {
      cluster.behind!(h, head);
      return true;
    }
    if (cluster.exhausted?.(l)) {
      halt = true;
      return true;
    }
    const t = cluster.place(h);
    if (t === PLACED) return false;
    if (t === PASSED) return true;
    if ((rule.preemptive || cluster.preemptsAnyway?.(h) === true) && cluster.preempt(h, l)) return true;
    cluster.blocked?.(h);
    if (rule.strict) {
      if (cluster.behind) head = h;
      else halt = true;
      return true;
    }
    if (rule.reserveHead && !headReserved && cluster.reserveForHead(h)) headReserved = true;
    return true;
  };
  for (let l = 0; l < queue.levels && !halt; l++) {
    const lists = queue.level(l);
    if (!fair || !load) {
      const q = lists[0]!;
      let w = 0;
      let r = 0;
      for (; r < q.length && !halt; r++) {
        const h = q[r]!;
        if (!cluster.waiting(h)) continue;
        if (turn(h, l)) q[w++] = h;
      }
      if (w !== r) {
        for (; r < q.length; r++) q[w++] = q[r]!;
        q.length = w;
      }
      continue;
    }
    // Weighted fair share: merge the tenants' FIFO lists by key, then oldest head.
    const n = lists.length;
    const rd = new Int32Array(n);
    const wr = new Int32Array(n);
    while (!halt) {
      let best = -1;
      let bestKey = Infinity;
      let bestHead = Infinity;
      for (let g = 0; g < n; g++) {
        const q = lists[g]!;
        let r = rd[g]!;
        while (r < q.length && !cluster.waiting(q[r]!)) r++;
        rd[g] = r;
        if (r >= q.length) continue;
        const key = load[g]! / (fair.weight[g]! > 0 ? fair.weight[g]! : 1);
        const hd = q[r]!;
        if (key < bestKey || (key === bestKey && hd < bestHead)) {
          best = g;
          bestKey = key;
          bestHead = hd;
        }
      }
      if (best < 0) break;
      const q = lists[best]!;
      const h = q[rd[best]!++]!;
      load[best]! += fair.gpusOf(h) * fair.horizonS;
      if (turn(h, l)) q[wr[best]!++] = h;
    }
    for (let g = 0; g < n; g++) {
      const q = lists[g]!;
      let w = wr[g]!;
      for (let r = rd[g]!; r < q.length; r++) q[w++] = q[r]!;
      q.length = w;
    }
  }
}
