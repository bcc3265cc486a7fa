// The one queue policy of Zumbido: queue ordering (priority levels), preemption choice and the
// backfill switch, used by both the control plane's scheduler (scheduleFast) and the simulator.
// It sees only what the control plane sees: a job's tenant, GPU count, submit time and the
// GPU-seconds it has held so far (attained service). It never sees a job's run time.

/** What the policy may know about a job: exactly what the control plane has (no duration). */
export interface QueueJobView {
  /** The caller's handle for the job (an index or an id); never used to look anything up here. */
  job: number;
  tenant: string;
  gpus: number;
  submittedAt: number;
  /** GPU-seconds the job has held GPUs so far (all its leases, the running one up to now). */
  attainedGpuS: number;
}

/** How a policy orders, preempts and backfills, in levels (0 first; FIFO by submit inside a level). */
export interface QueueRule {
  preemptive: boolean;
  /** Reserve nodes for the first blocked job so backfill never delays it. */
  reserveHead: boolean;
  /** Stop the pass at the first job that does not fit (strict FIFO). */
  strict: boolean;
  levels: number;
  /** A victim's level must be at least the waiting job's level plus this (hysteresis; >= 1). */
  preemptMargin: number;
  /**
   * Optional: the margin for this waiting job when it is not `preemptMargin` (the zumbido rule's
   * return margin for a preempted gang). Never below `minMargin`.
   */
  marginFor?(v: QueueJobView): number;
  /** The smallest margin `marginFor` gives (the callers' shortcuts use it); `preemptMargin` without one. */
  minMargin?: number;
  /** A running job is not preempted until it has held its GPUs this long since it (re)started, seconds. */
  minRunS: number;
  /** Priority level of a job now. */
  level(v: QueueJobView): number;
  /** Attained GPU-seconds at which the job's level must be looked at again (> v.attainedGpuS), or Infinity. */
  nextCheck(v: QueueJobView): number;
  /**
   * A job finished having held `v.attainedGpuS` GPU-seconds. Returns null when no other job's level
   * changed, else which jobs (by tenant and GPU count) may have a new level.
   */
  onFinish(v: QueueJobView): ((tenant: string, gpus: number) => boolean) | null;
  /**
   * Optional test of a victim on top of the margin: is stopping it worth its restart cost to a
   * waiting job of `level`? (The zumbido rule; fifo and las have none.)
   */
  worthPreempting?(level: number, victim: VictimView, now: number): boolean;
  /**
   * Optional: where a learning rule reads the jobs that have not finished (waiting with service,
   * or running), as censored samples of their classes' service. The caller's jobs, read when the
   * rule relearns.
   */
  watchUnfinished?(read: () => Iterable<UnfinishedJob>): void;
}

/** The margin of a waiting job under the rule: its `marginFor`, else `preemptMargin`. */
export function marginOf(rule: QueueRule, v: QueueJobView): number {
  return rule.marginFor ? rule.marginFor(v) : rule.preemptMargin;
}

/** The smallest margin any waiting job may have under the rule (the callers' shortcuts use it). */
export function minMarginOf(rule: QueueRule): number {
  return Math.min(rule.preemptMargin, rule.minMargin ?? rule.preemptMargin);
}

/** The queue policies the control plane and the simulator share (srtf-oracle is simulator-only). */
export const QUEUE_POLICIES = ["fifo", "fifo-backfill", "las", "zumbido"] as const;
/** A shared queue policy name. */
export type QueuePolicyName = (typeof QUEUE_POLICIES)[number];

/** Tiresias's discretised 2D-LAS: queues at 1 and 10 GPU-hours of attained service, FIFO inside. */
const LAS_THRESHOLDS = [3_600, 36_000];

/** Levels of the index policies: floor(log2(expected GPU-seconds to completion)), as srtf-oracle. */
export const INDEX_LEVELS = 48;

/** Knobs of the Gittins-index policy (defaults tuned on Philly weeks other than only 2017-10-09). */
export interface GittinsOptions {
  /** First attained-service grid point, GPU-seconds; later ones grow by `gridFactor`. */
  gridBaseGpuS: number;
  gridFactor: number;
  /** Finished jobs kept per class (sliding window: the distribution follows the workload). */
  window: number;
  /** Finished jobs a class needs before its own distribution is used (else a coarser class). */
  minSamples: number;
  preemptMargin: number;
  /**
   * The margin of a waiting job that has held GPUs before (it was preempted) and needs at least
   * `returnMinGpus`: a whole node on the usual 8-GPU nodes. Such a gang's level only fell while it
   * ran, and after a preemption it needs a whole node while 1-GPU jobs take every GPU that frees;
   * with the smaller margin it takes a node back once the jobs there rank `returnMargin` levels
   * below it (and pass the cost test). Equal to `preemptMargin`: no return margin.
   */
  returnMargin: number;
  returnMinGpus: number;
  minRunS: number;
  /** Keep nodes for the first blocked job (backfill that never delays it). */
  reserveHead: boolean;
  /**
   * Cost-aware preemption: besides the margin, a victim is stopped only when its expected remaining
   * work exceeds the waiting job's by at least `victimCostK` times its restart cost (0 = no test).
   */
  victimCostK: number;
  /** The restart cost the policy assumes per victim GPU: grace + restore overhead + work since its last checkpoint. */
  graceS: number;
  restoreS: number;
  /** Seconds between checkpoints (work since the last one, estimated from the victim's start, is lost; 0 = none lost). */
  checkpointS: number;
  /**
   * Checkpoint-aligned preemption: a victim is stopped only while the work since its last
   * checkpoint (known, or estimated as above) is at most this many seconds; 0 = no bound. Bounds
   * what an interruptible job loses to the rule; a waiting job of level -∞ (the control plane's
   * on-demand jobs) is exempt.
   */
  victimMaxLostS: number;
}

/** Defaults of the zumbido policy. */
export const GITTINS_DEFAULTS: GittinsOptions = {
  gridBaseGpuS: 300,
  gridFactor: 2,
  window: 1000,
  minSamples: 16,
  preemptMargin: 3,
  returnMargin: 1,
  returnMinGpus: 8,
  minRunS: 0,
  reserveHead: false,
  victimCostK: 8,
  graceS: 30,
  restoreS: 60,
  checkpointS: 1800,
  victimMaxLostS: 600,
};

/**
 * A job that has not finished (waiting after a preemption, or running): its service so far is a
 * lower bound on its service, a right-censored sample of the class's distribution.
 */
export interface UnfinishedJob {
  tenant: string;
  gpus: number;
  attainedGpuS: number;
}

interface ClassStats {
  /** The class's tenant and GPU count (null: any). */
  tenant: string | null;
  gpus: number | null;
  ring: Float64Array;
  n: number;
  pos: number;
  sinceRefresh: number;
  /** Gittins index at each grid point (NaN: no finished job of the class got that far). */
  table: Float64Array | null;
}

/**
 * Online Gittins index over the attained-service distribution, per class: tenant and GPU count,
 * tenant, GPU count, all (the most specific class with enough finished jobs wins).
 * The index at attained service a is max over d of P(S - a <= d | S > a) / E[min(S - a, d) | S > a]
 * (completion probability per GPU-second invested), evaluated at grid points of a.
 *
 * The distribution is the Kaplan-Meier estimate from the class's recently finished jobs (events)
 * and its unfinished ones (right-censored at their service so far). Finished jobs alone are a
 * biased sample: under load the long jobs are the ones still running, so a window of finished
 * jobs holds mostly short ones and promises a long-running job an end that is not coming.
 */
export class ServiceLearner {
  readonly grid: number[];
  private readonly classes = new Map<string, ClassStats>();
  /** Per tenant and GPU count, its four classes (most specific first), without building strings per call. */
  private readonly chains = new Map<string, Map<number, ClassStats[]>>();
  /**
   * The jobs not finished now (read when tables are rebuilt): the censored samples. The simulator
   * points it at its active jobs; the control plane at the cycle's pending jobs and leases.
   */
  unfinished: () => Iterable<UnfinishedJob> = () => [];

  constructor(private readonly opts: GittinsOptions = GITTINS_DEFAULTS) {
    this.grid = [0];
    for (let g = opts.gridBaseGpuS; g < 1e12; g *= opts.gridFactor) this.grid.push(g);
  }

  private chain(tenant: string, gpus: number): ClassStats[] {
    let byGpus = this.chains.get(tenant);
    if (!byGpus) this.chains.set(tenant, (byGpus = new Map<number, ClassStats[]>()));
    let ch = byGpus.get(gpus);
    if (!ch) {
      const parts: [string | null, number | null][] = [
        [tenant, gpus],
        [tenant, null],
        [null, gpus],
        [null, null],
      ];
      ch = parts.map(([t, g]) => {
        const key = `${t ?? "*"}|${g ?? "*"}`;
        let c = this.classes.get(key);
        if (!c) {
          c = {
            tenant: t,
            gpus: g,
            ring: new Float64Array(this.opts.window),
            n: 0,
            pos: 0,
            sinceRefresh: 0,
            table: null,
          };
          this.classes.set(key, c);
        }
        return c;
      });
      byGpus.set(gpus, ch);
    }
    return ch;
  }

  /** Records many finished jobs (oldest first) and builds the tables once (the control plane, each cycle). */
  addMany(finished: { tenant: string; gpus: number; serviceGpuS: number }[]): void {
    for (const f of finished) {
      for (const c of this.chain(f.tenant, f.gpus)) {
        c.ring[c.pos] = f.serviceGpuS;
        c.pos = (c.pos + 1) % this.opts.window;
        if (c.n < this.opts.window) c.n++;
        c.sinceRefresh++;
      }
    }
    // The censored samples by class, in one pass over the unfinished jobs.
    const cens = new Map<string, number[]>();
    for (const u of this.unfinished()) {
      if (!(u.attainedGpuS > 0)) continue;
      for (const key of [`${u.tenant}|${u.gpus}`, `${u.tenant}|*`, `*|${u.gpus}`, "*|*"]) {
        const list = cens.get(key);
        if (list) list.push(u.attainedGpuS);
        else cens.set(key, [u.attainedGpuS]);
      }
    }
    for (const [key, c] of this.classes) {
      if (c.n < this.opts.minSamples || c.sinceRefresh === 0) continue;
      c.table = this.buildTable(c, cens.get(key) ?? []);
      c.sinceRefresh = 0;
    }
  }

  /** Grid index of the largest grid point <= a. */
  gridPoint(a: number): number {
    let lo = 0;
    let hi = this.grid.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.grid[mid]! <= a) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Records a finished job. Returns null when no index table changed, else which jobs (tenant, GPU
   * count) the changed tables may concern.
   */
  add(tenant: string, gpus: number, serviceGpuS: number): ((tenant: string, gpus: number) => boolean) | null {
    const changed: number[] = [];
    const ch = this.chain(tenant, gpus);
    let open: UnfinishedJob[] | null = null;
    for (let k = 0; k < ch.length; k++) {
      const c = ch[k]!;
      c.ring[c.pos] = serviceGpuS;
      c.pos = (c.pos + 1) % this.opts.window;
      if (c.n < this.opts.window) c.n++;
      c.sinceRefresh++;
      if (c.n >= this.opts.minSamples && c.sinceRefresh >= Math.max(4, Math.floor(c.n / 10))) {
        c.table = this.buildTable(c, censoredOf(c, (open ??= [...this.unfinished()])));
        c.sinceRefresh = 0;
        changed.push(k);
      }
    }
    if (changed.length === 0) return null;
    // Chain positions: 0 tenant|gpus, 1 tenant|*, 2 *|gpus, 3 *|*.
    const all = changed.includes(3);
    const sameGpus = changed.includes(2);
    const sameTenant = changed.includes(1);
    return (t, g) => all || (sameGpus && g === gpus) || (t === tenant && (sameTenant || g === gpus));
  }

  /** The Gittins index (1 / GPU-seconds) of a job of this class with `a` attained, at its grid point. */
  index(tenant: string, gpus: number, a: number): number {
    const k = this.gridPoint(a);
    for (const c of this.chain(tenant, gpus)) {
      const t = c.table;
      if (!t) continue;
      const x = t[k]!;
      if (!Number.isNaN(x)) return x;
    }
    // Nothing known about jobs that got this far: expect as much again as it has had (LAS-like).
    return 1 / (this.grid[k]! + this.opts.gridBaseGpuS);
  }

  /** The Gittins index at every grid point from the Kaplan-Meier estimate of the class's service. */
  private buildTable(c: ClassStats, cens: number[]): Float64Array {
    const f = Float64Array.from(c.ring.subarray(0, c.n)).sort();
    const u = Float64Array.from(cens).sort();
    const out = new Float64Array(this.grid.length).fill(Number.NaN);
    let fi0 = 0;
    let ui0 = 0;
    for (let k = 0; k < this.grid.length; k++) {
      const a = this.grid[k]!;
      while (fi0 < f.length && f[fi0]! <= a) fi0++;
      while (ui0 < u.length && u[ui0]! <= a) ui0++;
      // No finished job got past a: nothing to estimate from (the caller falls back to LAS-like).
      if (fi0 === f.length) break;
      // Walk the events (ends) and censorings past a in order: survival S (given S > a), the
      // expected service invested up to each point (integral of S), and the best ratio.
      let risk = f.length - fi0 + (u.length - ui0);
      let surv = 1;
      let invested = 0;
      let prev = a;
      let best = 0;
      let i = fi0;
      let j = ui0;
      while (i < f.length) {
        const v = j < u.length && u[j]! < f[i]! ? u[j]! : f[i]!;
        invested += surv * (v - prev);
        prev = v;
        let ends = 0;
        while (i < f.length && f[i] === v) {
          ends++;
          i++;
        }
        let cut = 0;
        while (j < u.length && u[j] === v) {
          cut++;
          j++;
        }
        if (ends > 0) {
          surv *= 1 - ends / risk;
          const x = invested > 0 ? (1 - surv) / invested : Infinity;
          if (x > best) best = x;
        }
        risk -= ends + cut;
      }
      out[k] = best;
    }
    return out;
  }
}

/** The service so far of the unfinished jobs of a class (jobs with none say nothing). */
function censoredOf(c: ClassStats, open: UnfinishedJob[]): number[] {
  const out: number[] = [];
  for (const u of open)
    if (
      u.attainedGpuS > 0 &&
      (c.tenant === null || u.tenant === c.tenant) &&
      (c.gpus === null || u.gpus === c.gpus)
    )
      out.push(u.attainedGpuS);
  return out;
}

/** Level of an index (1 / GPU-seconds): floor(log2(1 / index)), 0 .. INDEX_LEVELS - 1. */
export function indexLevel(index: number): number {
  if (!(index > 0)) return INDEX_LEVELS - 1;
  if (index === Infinity) return 0;
  return Math.min(INDEX_LEVELS - 1, Math.max(0, Math.floor(-Math.log2(index))));
}

/**
 * The zumbido rule: Gittins-index levels learned online, preemption with hysteresis (a smaller
 * margin for a preempted gang coming back), a cost test, optional head reservation.
 */
export function gittinsRule(opts: Partial<GittinsOptions> = {}): QueueRule & { learner: ServiceLearner } {
  const o = { ...GITTINS_DEFAULTS, ...opts };
  const learner = new ServiceLearner(o);
  return {
    learner,
    preemptive: true,
    reserveHead: o.reserveHead,
    strict: false,
    levels: INDEX_LEVELS,
    preemptMargin: o.preemptMargin,
    ...(o.returnMargin < o.preemptMargin
      ? {
          marginFor: (v: QueueJobView) =>
            v.attainedGpuS > 0 && v.gpus >= o.returnMinGpus ? o.returnMargin : o.preemptMargin,
          minMargin: o.returnMargin,
        }
      : {}),
    minRunS: o.minRunS,
    level: (v) => indexLevel(learner.index(v.tenant, v.gpus, v.attainedGpuS)),
    nextCheck: (v) => learner.grid[learner.gridPoint(v.attainedGpuS) + 1] ?? Infinity,
    onFinish: (v) => learner.add(v.tenant, v.gpus, v.attainedGpuS),
    watchUnfinished: (read) => {
      learner.unfinished = read;
    },
    ...(o.victimCostK > 0 || o.victimMaxLostS > 0
      ? { worthPreempting: (level, v, now) => worthPreempting(o, level, v, now) }
      : {}),
  };
}

/** Middle of a level's range of expected remaining GPU-seconds ([2^l, 2^(l+1))). */
const levelWork = (l: number): number => 2 ** (l + 0.5);

/**
 * Cost-aware preemption: stopping `v` for a waiting job of `level` gains about the difference of
 * their expected remaining work (the waiter runs first instead of after), and costs the victim its
 * grace period, restore overhead and the work since its last checkpoint (since `savedAt` when
 * known, else estimated from its start, as if it checkpointed every `checkpointS` since), on each
 * of its GPUs. Preempt when that work is at most `victimMaxLostS` and gain >= K x cost.
 */
function worthPreempting(o: GittinsOptions, level: number, v: VictimView, now: number): boolean {
  // A waiting job that may stop anything (the control plane's on-demand jobs) pays no such test.
  if (level === Number.NEGATIVE_INFINITY) return true;
  const sinceCkpt =
    v.savedAt !== undefined
      ? workSinceSaveS(v, now)
      : o.checkpointS > 0
        ? Math.max(0, now - v.runStart) % o.checkpointS
        : 0;
  // Checkpoint-aligned preemption: a victim far from its last checkpoint keeps running.
  if (o.victimMaxLostS > 0 && sinceCkpt > o.victimMaxLostS) return false;
  const costGpuS = v.gpus * (o.graceS + o.restoreS + sinceCkpt);
  return levelWork(v.level) - levelWork(level) >= o.victimCostK * costGpuS;
}

const never = (): null => null;

/** The rule of a shared policy (a fresh one: the zumbido rule learns as jobs finish). */
export function queueRule(p: QueuePolicyName, opts: Partial<GittinsOptions> = {}): QueueRule {
  switch (p) {
    case "fifo":
    case "fifo-backfill":
      return {
        preemptive: false,
        reserveHead: p === "fifo-backfill",
        strict: p === "fifo",
        levels: 1,
        preemptMargin: 1,
        minRunS: 0,
        level: () => 0,
        nextCheck: () => Infinity,
        onFinish: never,
      };
    case "las": {
      const level = (v: QueueJobView): number => {
        let l = 0;
        while (l < LAS_THRESHOLDS.length && v.attainedGpuS >= LAS_THRESHOLDS[l]!) l++;
        return l;
      };
      return {
        preemptive: true,
        reserveHead: false,
        strict: false,
        levels: LAS_THRESHOLDS.length + 1,
        preemptMargin: 1,
        minRunS: 0,
        level,
        nextCheck: (v) => LAS_THRESHOLDS[level(v)] ?? Infinity,
        onFinish: never,
      };
    }
    case "zumbido":
      return gittinsRule(opts);
  }
}

/** The rule the control plane runs in one cycle: the shared rule, taught the recently finished jobs. */
export function queueRuleFromHistory(
  p: QueuePolicyName,
  finished: { tenantId: string; gpus: number; serviceGpuS: number }[] = [],
  opts: Partial<GittinsOptions> = {},
  unfinished: () => Iterable<UnfinishedJob> = () => [],
): QueueRule {
  if (p !== "zumbido") return queueRule(p);
  const rule = gittinsRule(opts);
  rule.learner.unfinished = unfinished;
  rule.learner.addMany(
    finished.map((f) => ({ tenant: f.tenantId, gpus: f.gpus, serviceGpuS: f.serviceGpuS })),
  );
  return rule;
}

/** Orders waiting jobs as the rule does: level, then submit time, then the given order. */
export function orderByRule<T>(rule: QueueRule, jobs: T[], view: (j: T) => QueueJobView): T[] {
  const keyed = jobs.map((j, k) => {
    const v = view(j);
    return { j, k, l: rule.level(v), s: v.submittedAt };
  });
  keyed.sort((a, b) => a.l - b.l || a.s - b.s || a.k - b.k);
  return keyed.map((x) => x.j);
}

/** A running job as the preemption choice sees it. */
export interface VictimView {
  level: number;
  gpus: number;
  /** When it (re)started holding its GPUs. */
  runStart: number;
  /** Stable tie-break (higher goes first). */
  order: number;
  /**
   * When its work was last saved (a checkpoint written during this run, same unit as runStart);
   * a preemption loses the work since then. Absent: nothing saved since runStart.
   */
  savedAt?: number;
}

/** Seconds of a victim's work since it was last saved (its checkpoint, else its start); a report from the future counts as now. */
export function workSinceSaveS(v: VictimView, now: number): number {
  return Math.max(0, now - Math.max(v.runStart, v.savedAt ?? v.runStart));
}

/** What preempting a set of victims on one node costs. */
export interface PreemptionCost {
  /** GPUs stopped. */
  gpus: number;
  /** GPU-seconds of work lost: each victim's GPUs × the time since its work was last saved. */
  lostGpuS: number;
}

/** The cost of stopping `pick` (positions in `running`, as `chooseVictims` returns them) at `now`. */
export function preemptionCost(running: VictimView[], pick: readonly number[], now: number): PreemptionCost {
  let gpus = 0;
  let lostGpuS = 0;
  for (const k of pick) {
    const v = running[k]!;
    gpus += v.gpus;
    lostGpuS += v.gpus * workSinceSaveS(v, now);
  }
  return { gpus, lostGpuS };
}

/**
 * Which node to preempt on, the same rule in the control plane and the simulator: the node whose
 * victims (each node's `chooseVictims`) stop the fewest GPUs, then lose the least work since their
 * last checkpoints; equal costs keep the node found first. True when `a` beats the best so far.
 */
export function cheaperPreemption(a: PreemptionCost, best: PreemptionCost | null): boolean {
  return best === null || a.gpus < best.gpus || (a.gpus === best.gpus && a.lostGpuS < best.lostGpuS);
}

/**
 * The preemption choice on one node: victims (level >= level + margin, held at least minRunS, and
 * worth their restart cost when the rule says what that is),
 * lowest priority first, then the most recently started (least work since its start to lose),
 * until `need` GPUs are freed on top of `free`. `margin` is the waiting job's (the rule's
 * `marginFor`, else `preemptMargin`). Returns the victims' positions, or null.
 */
export function chooseVictims(
  rule: QueueRule,
  level: number,
  need: number,
  free: number,
  running: VictimView[],
  now: number,
  margin: number = rule.preemptMargin,
): number[] | null {
  const cands: number[] = [];
  running.forEach((v, k) => {
    if (
      v.level >= level + margin &&
      now - v.runStart >= rule.minRunS &&
      (!rule.worthPreempting || rule.worthPreempting(level, v, now))
    )
      cands.push(k);
  });
  if (cands.length === 0) return null;
  cands.sort(
    (a, b) =>
      running[b]!.level - running[a]!.level ||
      running[b]!.runStart - running[a]!.runStart ||
      running[b]!.order - running[a]!.order,
  );
  const out: number[] = [];
  let have = free;
  for (const k of cands) {
    if (have >= need) break;
    out.push(k);
    have += running[k]!.gpus;
  }
  return have >= need ? out : null;
}
