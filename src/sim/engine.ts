import type { JobRequest } from "../domain/index.js";
import {
  cheaperPreemption,
  chooseVictims,
  preemptionCost,
  marginOf,
  minMarginOf,
  ClusterState,
  DEFAULT_POLICY,
  FAIR_SHARE_HORIZON_S,
  NO_FIT,
  PASSED,
  PLACED,
  reserveForHead,
  runPass,
  WaitQueue,
} from "../scheduler/index.js";
import type {
  FairShare,
  GittinsOptions,
  PassCluster,
  Policy,
  PreemptionCost,
  QueueJobView,
  VictimView,
} from "../scheduler/index.js";
import type { Fleet } from "./fleet.js";
import { EventHeap } from "./heap.js";
import { levelRule } from "./policies.js";
import type { SimPolicyName } from "./policies.js";
import type { TraceJob } from "./trace.js";

/** One GPU hand-over in the replay, for the independent checker. */
export interface LogEntry {
  t: number;
  job: number;
  start: boolean;
  nodes: number[];
  masks: number[];
}

/** Hooks the energy layer plugs into the replay (all optional). */
export interface SimHooks {
  /** Called before a pass: may change site carbon (ordering) and power caps. */
  beforePass?(t: number, state: ClusterState): void;
  /** May hold a waiting job back at time t (carbon-aware deferral). */
  defer?(job: number, t: number, remainingS: number): boolean;
  /** Next time at which a deferred job should be looked at again, after t. */
  nextWake?(t: number): number;
  /** Called whenever busy GPUs of a site change, with the time (for energy integration). */
  onBusyChange?(t: number, siteIdx: number, busyGpuPowerMilliW: number): void;
  /** Extra event times the engine must wake at (curtailment starts, ends). */
  wakeTimes?: number[];
  /** Called at each wake time: may stop jobs through `stop`. */
  onWake?(t: number, ctl: SimControl): void;
}

/** What a hook may do to the running replay. */
export interface SimControl {
  state: ClusterState;
  /** Nodes a running job holds. */
  jobNodes(job: number): number[];
  /** Jobs running now. */
  running(): number[];
  /** Stops a running job now; its GPUs are freed at once. */
  stopNow(job: number, t: number): void;
  /** Gives a running job its checkpoint notice now; its GPUs are freed after the grace period. */
  preemptWithNotice(job: number, t: number): void;
  /** GPUs of a job. */
  jobGpus(job: number): number;
  /** Run time a job still needs (its estimate; in the simulator the trace duration). */
  remainingS(job: number, t: number): number;
  isInterruptible(job: number): boolean;
}

/** Options of one replay. */
export interface SimOptions {
  policy: SimPolicyName;
  /** Checkpoint notice given on preemption; the GPUs stay held (and wasted) that long. */
  graceS?: number;
  /** GPU time a resumed job spends reloading its checkpoint and warming up, no progress (default 60 s). */
  restoreOverheadS?: number;
  /** Seconds of progress between a job's checkpoints; a preempted job loses the work since its last one (default 1800; 0 = perfect checkpoints). */
  checkpointIntervalS?: number;
  /**
   * Order inside a level as the control plane does: weighted fair share by tenant (equal weights, no
   * past usage, as the control loop's snapshot has today; each GPU ordered in a round charges its
   * tenant 1 h). Default false: FIFO inside a level, the equal-keys case of the same rule.
   */
  fairShare?: boolean;
  /** Knobs of the zumbido policy (tuning experiments only; the defaults are the product's). */
  gittins?: Partial<GittinsOptions>;
  /** Number of time-series samples for the report. */
  samples?: number;
  /** Job classes (interruptible may be preempted by on-demand in the control plane; all are preemptible in the sim). */
  interruptible?: Uint8Array;
  hooks?: SimHooks;
  onProgress?: (finished: number, total: number) => void;
  /** Tests only: turn off the pass's shortcuts (they must never change a decision, only save work). */
  noShortcuts?: boolean;
  /**
   * Breaks the preemption choice's ties another way (0 or absent: the product's order, the latest
   * submitted victim first and the first node found). A seed orders equal victims by a hash of
   * the job and scans the nodes from a seeded offset: a neutral change, to measure how much of a
   * result is the luck of ties (scripts/sim-weeks.ts --replicas).
   */
  tieSeed?: number;
}

/** A well-mixed 32-bit hash of a job index under a tie seed (the seed's tie-break key). */
export function tieKey(j: number, seed: number): number {
  let h = Math.imul(j ^ Math.imul(seed, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Raw outcome of a replay. */
export interface SimRun {
  policy: SimPolicyName;
  jobs: TraceJob[];
  totalGpus: number;
  start: Float64Array;
  finish: Float64Array;
  preemptions: number;
  /** GPU-seconds that made no progress: grace periods, restore overheads and work lost since the last checkpoint. */
  wastedGpuS: number;
  /** The parts of wastedGpuS. */
  wasted: { graceGpuS: number; restoreGpuS: number; lostGpuS: number };
  busyGpuS: number;
  log: LogEntry[];
  series: { t: number[]; queue: number[]; busy: number[] };
  wallS: number;
}

/** Default restore overhead of a resumed job, seconds. */
export const DEFAULT_RESTORE_OVERHEAD_S = 60;
/** Default checkpoint interval, seconds of progress. */
export const DEFAULT_CHECKPOINT_INTERVAL_S = 1800;

const FINISH = 0;
const FREE = 1;
const PRIO = 2;
const WAKE = 3;

/** The control plane's fair share over a trace's tenants: equal weights, no past usage, 1 h per GPU ordered. */
function traceFairShare(trace: TraceJob[]): FairShare {
  const ids = [...new Set(trace.map((j) => j.tenant))].sort();
  const idx = new Map(ids.map((t, k) => [t, k]));
  const tenantOf = Int32Array.from(trace, (j) => idx.get(j.tenant)!);
  return {
    tenants: ids.length,
    tenantOf: (j) => tenantOf[j]!,
    gpusOf: (j) => trace[j]!.gpus,
    usageGpuS: new Float64Array(ids.length),
    weight: new Float64Array(ids.length).fill(1),
    horizonS: FAIR_SHARE_HORIZON_S,
  };
}

/** Replays a trace on a fleet through the scheduler's ClusterState, in simulated time. */
export function replay(trace: TraceJob[], fleet: Fleet, opts: SimOptions): SimRun {
  const t0 = performance.now();
  let now = 0;
  const grace = opts.graceS ?? DEFAULT_POLICY.preemptionGraceS;
  // As in the control plane, the rule's cost test charges the grace period actually given.
  const rule = levelRule(
    opts.policy,
    (j) => remaining(j, now),
    { graceS: grace, ...opts.gittins },
    () => trace.map((j) => ({ tenant: j.tenant, gpus: j.gpus, serviceGpuS: j.gpus * j.durationS })),
  );
  const restoreS = opts.restoreOverheadS ?? DEFAULT_RESTORE_OVERHEAD_S;
  const ckptS = opts.checkpointIntervalS ?? DEFAULT_CHECKPOINT_INTERVAL_S;
  if (!(restoreS >= 0)) throw new Error(`restore overhead must be >= 0 seconds, got ${restoreS}`);
  if (!(ckptS >= 0)) throw new Error(`checkpoint interval must be >= 0 seconds, got ${ckptS}`);
  const policy: Policy = { ...DEFAULT_POLICY, preemptionGraceS: grace };
  const tieSeed = opts.tieSeed ?? 0;
  if (!Number.isInteger(tieSeed) || tieSeed < 0)
    throw new Error(`tie seed must be a whole number >= 0, got ${tieSeed}`);
  // Where the preemption's node scan starts (equal costs keep the node found first).
  const scanFrom = tieSeed && fleet.nodes.length > 0 ? tieKey(0x5eed, tieSeed) % fleet.nodes.length : 0;
  const sites = fleet.sites.map((s) => ({ ...s, prices: { ...s.prices } }));
  const state = new ClusterState(sites, fleet.nodes, policy);
  const n = trace.length;
  const models = [...new Set(fleet.nodes.map((x) => x.gpuModel))];
  const totalGpus = fleet.nodes.reduce((a, x) => a + x.gpuIndices.length, 0);
  const maxCap = Math.max(...fleet.nodes.map((x) => x.gpuIndices.length));
  const reqs: JobRequest[] = trace.map((j) => ({
    gpuModels: j.gpuModel ? [j.gpuModel] : models,
    gpus: j.gpus,
    class: j.class ?? "on-demand",
  }));
  const st = new Uint8Array(n); // 0 future, 1 waiting, 2 running, 3 stopping, 4 done
  const done = new Float64Array(n); // progress (seconds of the job's work) saved so far
  const held = new Float64Array(n); // seconds the job held its GPUs in finished stints
  const restoreOf = new Float64Array(n); // restore overhead of the current stint
  const runStart = new Float64Array(n);
  const start = new Float64Array(n).fill(-1);
  const finish = new Float64Array(n).fill(-1);
  const ver = new Int32Array(n);
  const runLevel = new Int32Array(n);
  const claimOf = new Int32Array(n).fill(-1);
  const nodeClaim = new Int32Array(fleet.nodes.length).fill(-1);
  const jobNodes: number[][] = new Array<number[]>(n);
  const jobMasks: number[][] = new Array<number[]>(n);
  const nodeJobs: number[][] = fleet.nodes.map(() => []);
  const runningGpusByLevel = new Float64Array(rule.levels);
  // The shared queue (src/scheduler/pass.ts): levels, FIFO inside unless asked for fair share.
  const queue = new WaitQueue(rule.levels, opts.fairShare ? traceFairShare(trace) : null);
  const runningSet = new Set<number>();
  // Jobs submitted and not finished: a learning rule's censored samples (service so far, no durations).
  const activeSet = new Set<number>();
  rule.watchUnfinished?.(function* () {
    for (const j of activeSet)
      yield { tenant: trace[j]!.tenant, gpus: trace[j]!.gpus, attainedGpuS: attained(j, now) };
  });
  const heap = new EventHeap();
  const evJob: number[] = [];
  const evType: number[] = [];
  const evVer: number[] = [];
  const push = (t: number, job: number, type: number): void => {
    evJob.push(job);
    evType.push(type);
    evVer.push(job >= 0 ? ver[job]! : 0);
    heap.push(t, evJob.length - 1);
  };
  const log: LogEntry[] = [];
  const hooks = opts.hooks ?? {};
  for (const w of hooks.wakeTimes ?? []) push(w, -1, WAKE);
  let waiting = 0;
  let finished = 0;
  let preemptions = 0;
  const wasted = { graceGpuS: 0, restoreGpuS: 0, lostGpuS: 0 };
  let busyGpuS = 0;
  let lastT = trace[0]?.submitS ?? 0;
  let busy = 0;
  const series = { t: [] as number[], queue: [] as number[], busy: [] as number[] };
  const span = n > 0 ? Math.max(1, trace[n - 1]!.submitS - trace[0]!.submitS) : 1;
  const sampleEvery = span / (opts.samples ?? 300);
  let nextSample = lastT;

  // What the policy may see: attained service is GPU time held, as the control plane bills it.
  const attained = (j: number, t: number): number =>
    trace[j]!.gpus * (held[j]! + (st[j] === 2 ? t - runStart[j]! : 0));
  const progress = (j: number, t: number): number =>
    st[j] === 2 ? Math.max(0, t - runStart[j]! - restoreOf[j]!) : 0;
  // Oracle only (srtf-oracle's rule reads it through its closure).
  function remaining(j: number, t: number): number {
    return trace[j]!.gpus * (trace[j]!.durationS - done[j]! - progress(j, t));
  }
  const view = (j: number, t: number): QueueJobView => ({
    job: j,
    tenant: trace[j]!.tenant,
    gpus: trace[j]!.gpus,
    submittedAt: trace[j]!.submitS,
    attainedGpuS: attained(j, t),
  });
  const levelOf = (j: number, t: number): number => {
    now = t;
    return rule.level(view(j, t));
  };
  const pushCheck = (j: number, t: number): void => {
    now = t;
    const th = rule.nextCheck(view(j, t));
    if (th !== Infinity) push(t + Math.max(1e-9, (th - attained(j, t)) / trace[j]!.gpus), j, PRIO);
  };

  const siteBusyChanged = (t: number, nodes: number[]): void => {
    if (!hooks.onBusyChange) return;
    const seen = new Set<number>();
    for (const i of nodes) seen.add(state.groups[state.groupOf(i)]!.siteIdx);
    for (const si of seen) hooks.onBusyChange(t, si, state.siteDrawMilliW[si]!);
  };

  // Waiting jobs with a margin below the rule's (preempted gangs), for the pass's shortcut.
  const smallMargin = new Set<number>();
  const enqueue = (j: number, t: number): void => {
    activeSet.add(j);
    if (marginOf(rule, view(j, t)) < rule.preemptMargin) smallMargin.add(j);
    queue.insert(j, levelOf(j, t));
    st[j] = 1;
    waiting++;
  };
  /** The learned distribution changed: the waiting and running jobs it concerns get their level anew. */
  const relevel = (t: number, concerns: (tenant: string, gpus: number) => boolean): void => {
    queue.relevel(
      (j) => st[j] === 1 && concerns(trace[j]!.tenant, trace[j]!.gpus),
      (j) => levelOf(j, t),
    );
    for (const j of runningSet) {
      if (!concerns(trace[j]!.tenant, trace[j]!.gpus)) continue;
      const nl = levelOf(j, t);
      if (nl === runLevel[j]) continue;
      runningGpusByLevel[runLevel[j]!]! -= trace[j]!.gpus;
      runLevel[j] = nl;
      runningGpusByLevel[nl]! += trace[j]!.gpus;
    }
  };

  const startJob = (j: number, t: number, nodes: number[], masks: number[]): void => {
    st[j] = 2;
    smallMargin.delete(j);
    waiting--;
    runStart[j] = t;
    restoreOf[j] = start[j]! < 0 ? 0 : restoreS;
    if (start[j]! < 0) start[j] = t;
    jobNodes[j] = nodes;
    jobMasks[j] = masks;
    for (const i of nodes) nodeJobs[i]!.push(j);
    runningSet.add(j);
    busy += trace[j]!.gpus;
    const l = levelOf(j, t);
    runLevel[j] = l;
    runningGpusByLevel[l]! += trace[j]!.gpus;
    ver[j]!++;
    push(t + restoreOf[j]! + (trace[j]!.durationS - done[j]!), j, FINISH);
    pushCheck(j, t);
    if (claimOf[j]! >= 0) {
      nodeClaim[claimOf[j]!] = -1;
      claimOf[j] = -1;
    }
    log.push({ t, job: j, start: true, nodes, masks });
    siteBusyChanged(t, nodes);
  };

  const releaseJob = (j: number, t: number): void => {
    const nodes = jobNodes[j]!;
    const masks = jobMasks[j]!;
    nodes.forEach((i, k) => {
      state.releaseMask(i, masks[k]!);
      const list = nodeJobs[i]!;
      list.splice(list.indexOf(j), 1);
    });
    busy -= trace[j]!.gpus;
    log.push({ t, job: j, start: false, nodes, masks });
    siteBusyChanged(t, nodes);
  };

  /** Progress a preempted job keeps: its last checkpoint (every ckptS of progress), never less than before this run. */
  const savedOf = (j: number, reached: number): number =>
    ckptS > 0 ? Math.max(done[j]!, Math.floor(reached / ckptS + 1e-9) * ckptS) : reached;

  /** Ends a stint: restore time is wasted; a preempted job keeps only the progress up to its last checkpoint. */
  const leaveRunning = (j: number, t: number, preempted: boolean): void => {
    const g = trace[j]!.gpus;
    const stint = t - runStart[j]!;
    const prog = progress(j, t);
    runningSet.delete(j);
    runningGpusByLevel[runLevel[j]!]! -= g;
    wasted.restoreGpuS += g * Math.min(stint, restoreOf[j]!);
    held[j]! += stint;
    const reached = done[j]! + prog;
    if (preempted) {
      const saved = savedOf(j, reached);
      wasted.lostGpuS += g * (reached - saved);
      done[j] = saved;
    } else done[j] = reached;
    ver[j]!++;
  };

  const preempt = (j: number, t: number): void => {
    leaveRunning(j, t, true);
    st[j] = 3;
    preemptions++;
    wasted.graceGpuS += trace[j]!.gpus * grace;
    push(t + grace, j, FREE);
  };

  const ctl: SimControl = {
    state,
    jobNodes: (j) => jobNodes[j] ?? [],
    running: () => [...runningSet].sort((a, b) => a - b),
    stopNow: (j, t) => {
      if (st[j] !== 2) return;
      leaveRunning(j, t, true);
      preemptions++;
      releaseJob(j, t);
      enqueue(j, t);
    },
    preemptWithNotice: (j, t) => {
      if (st[j] === 2) preempt(j, t);
    },
    jobGpus: (j) => trace[j]!.gpus,
    remainingS: (j, t) => trace[j]!.durationS - done[j]! - progress(j, t),
    isInterruptible: (j) => (opts.interruptible ? opts.interruptible[j] === 1 : false),
  };

  const tryPlace = (j: number, t: number): boolean => {
    if (hooks.defer?.(j, t, trace[j]!.durationS - done[j]!)) return false;
    const c = state.findPlacement(reqs[j]!);
    if (!c) return false;
    startJob(j, t, c.nodes, state.commit(c));
    return true;
  };

  /**
   * Node-aware preemption for a single-node job: on each node the shared victim choice, across nodes
   * the shared node choice (`cheaperPreemption`: fewest GPUs stopped, then least work lost).
   */
  const planPreempt = (j: number, l: number, t: number, margin: number): boolean => {
    const g = trace[j]!.gpus;
    if (g > maxCap) return false;
    let bestNode = -1;
    let bestVictims: number[] = [];
    let best: PreemptionCost | null = null;
    for (let k = 0; k < fleet.nodes.length; k++) {
      const i = (k + scanFrom) % fleet.nodes.length;
      if (nodeClaim[i] !== -1 || state.nodeOpen[i] !== 1 || state.nodeCap[i]! < g) continue;
      if (!reqs[j]!.gpuModels.includes(fleet.nodes[i]!.gpuModel)) continue;
      const have = state.nodeFree[i]!;
      if (have >= g) continue;
      const on = nodeJobs[i]!.filter((v) => st[v] === 2 && jobNodes[v]!.length === 1);
      if (on.length === 0) continue;
      const views: VictimView[] = on.map((v) => {
        // The work a preemption would lose is the progress since its last checkpoint.
        const reached = done[v]! + progress(v, t);
        return {
          level: runLevel[v]!,
          gpus: trace[v]!.gpus,
          runStart: runStart[v]!,
          order: tieSeed ? tieKey(v, tieSeed) : v,
          savedAt: t - (reached - savedOf(v, reached)),
        };
      });
      const pick = chooseVictims(rule, l, g, have, views, t, margin);
      if (!pick) continue;
      const cost = preemptionCost(views, pick, t);
      if (!cheaperPreemption(cost, best)) continue;
      bestNode = i;
      bestVictims = pick.map((k) => on[k]!);
      best = cost;
      if (cost.gpus === 1 && cost.lostGpuS === 0) break; // nothing can cost less
    }
    if (bestNode < 0) return false;
    for (const v of bestVictims) preempt(v, t);
    nodeClaim[bestNode] = j;
    claimOf[j] = bestNode;
    return true;
  };

  // The simulator's side of the shared pass: its fleet (one ClusterState), its claims, its clock.
  let passT = 0;
  // The smallest margin any waiting job has (a preempted gang's return margin) bounds the shortcuts.
  const minMargin = minMarginOf(rule);
  // The highest level of a waiting job with a smaller margin, at the pass's start (-1: none).
  let smallTop = -1;
  // GPUs running at levels a job of level l may preempt (l + margin and beyond), at the pass's start.
  const below = new Float64Array(rule.levels + rule.preemptMargin + 1);
  // Preemption failed for this many GPUs this pass: bigger (and later, lower-priority) jobs fail too.
  let failPreemptFrom = Infinity;
  // The same for the jobs with a smaller margin (preempted gangs), among themselves.
  let failSmallFrom = Infinity;
  const deferred = (j: number): boolean => hooks.defer?.(j, passT, trace[j]!.durationS - done[j]!) === true;
  const simCluster: PassCluster = {
    waiting: (j) => st[j] === 1,
    // No free GPU, and no job of level l or later can preempt: jobs at the rule's margin need running
    // work at l + margin or beyond, preempted gangs (levels up to smallTop) at l + minMargin.
    exhausted: (l) =>
      !opts.noShortcuts &&
      state.maxOpenFree() === 0 &&
      (!rule.preemptive ||
        (below[l + rule.preemptMargin]! <= 0 && (smallTop < l || below[l + minMargin]! <= 0))),
    place: (j) => {
      if (claimOf[j]! >= 0) return PASSED; // placed in step 1
      const mof = state.maxOpenFree();
      const g = trace[j]!.gpus;
      if (g <= maxCap ? mof < g : mof < maxCap) return NO_FIT;
      return tryPlace(j, passT) ? PLACED : NO_FIT;
    },
    preempt: (j, l) => {
      const g = trace[j]!.gpus;
      const margin = marginOf(rule, view(j, passT));
      // A failure at the rule's margin says nothing about a job with a smaller one; a failure at
      // the smaller margin holds for every later job at least as large.
      const usual = margin >= rule.preemptMargin;
      const failFrom = usual ? failPreemptFrom : failSmallFrom;
      if (!opts.noShortcuts && (below[l + margin]! <= 0 || g >= failFrom)) return false;
      if (deferred(j)) return false;
      if (planPreempt(j, l, passT, margin)) {
        claimants.push(j);
        state.reserve(claimOf[j]!);
        return true;
      }
      if (usual) failPreemptFrom = g;
      else {
        failSmallFrom = g;
        failPreemptFrom = Math.min(failPreemptFrom, g);
      }
      return false;
    },
    reserveForHead: (j) => {
      if (deferred(j)) return false;
      reserveForHead(state, reqs[j]!);
      return true;
    },
  };

  const claimants: number[] = [];
  const pass = (t: number): void => {
    hooks.beforePass?.(t, state);
    // 1. Jobs that preempted work go first, on any node (their claimed node is kept for them).
    for (let k = claimants.length - 1; k >= 0; k--) {
      const j = claimants[k]!;
      if (st[j] !== 1 || claimOf[j]! < 0) {
        claimants.splice(k, 1);
        continue;
      }
      if (tryPlace(j, t)) claimants.splice(k, 1);
      else if (!nodeJobs[claimOf[j]!]!.some((v) => st[v] === 3)) {
        nodeClaim[claimOf[j]!] = -1;
        claimOf[j] = -1;
        claimants.splice(k, 1);
      }
    }
    for (const j of claimants) state.reserve(claimOf[j]!);
    // 2. The shared pass: levels in order, FIFO inside; preempt lower levels when the policy says so.
    passT = t;
    for (let l = rule.levels - 1; l >= 0; l--) below[l] = below[l + 1]! + runningGpusByLevel[l]!;
    failPreemptFrom = Infinity;
    failSmallFrom = Infinity;
    smallTop = -1;
    for (const j of smallMargin) if (st[j] === 1) smallTop = Math.max(smallTop, levelOf(j, t));
    runPass(rule, queue, simCluster);
    state.clearReservations();
  };

  let next = 0;
  let lastProgress = 0;
  const queuedWakes = new Set<number>();
  const wakeHeapTimes = (t: number): void => {
    const w = hooks.nextWake?.(t);
    if (w !== undefined && w > t && w !== Infinity && !queuedWakes.has(w)) {
      queuedWakes.add(w);
      push(w, -1, WAKE);
    }
  };
  while (next < n || heap.size > 0) {
    const ta = next < n ? trace[next]!.submitS : Infinity;
    const t = Math.min(ta, heap.peekTime());
    busyGpuS += busy * (t - lastT);
    lastT = t;
    // A pass runs only when something happened: stale events (of a preempted stint) wake nothing, so
    // decisions never depend on when a job would have finished.
    let acted = false;
    while (next < n && trace[next]!.submitS === t) {
      enqueue(next++, t);
      acted = true;
    }
    let woke = false;
    while (heap.size > 0 && heap.peekTime() === t) {
      const e = heap.pop();
      const j = evJob[e]!;
      const type = evType[e]!;
      if (type === WAKE) {
        queuedWakes.delete(t);
        woke = true;
        continue;
      }
      if (evVer[e] !== ver[j]) continue;
      acted = true;
      if (type === FINISH) {
        leaveRunning(j, t, false);
        st[j] = 4;
        activeSet.delete(j);
        finish[j] = t;
        finished++;
        releaseJob(j, t);
        now = t;
        const concerns = rule.onFinish(view(j, t));
        if (concerns) relevel(t, concerns);
      } else if (type === FREE) {
        releaseJob(j, t);
        enqueue(j, t);
      } else if (type === PRIO) {
        const l = levelOf(j, t);
        runningGpusByLevel[runLevel[j]!]! -= trace[j]!.gpus;
        runLevel[j] = l;
        runningGpusByLevel[l]! += trace[j]!.gpus;
        pushCheck(j, t);
      }
    }
    if (woke) hooks.onWake?.(t, ctl);
    if (acted || woke) pass(t);
    if (waiting > 0 || runningSet.size > 0) wakeHeapTimes(t);
    if (t >= nextSample) {
      series.t.push(t);
      series.queue.push(waiting);
      series.busy.push(busy);
      nextSample = t + sampleEvery;
    }
    if (opts.onProgress && finished - lastProgress >= 2000) {
      lastProgress = finished;
      opts.onProgress(finished, n);
    }
    if (next >= n && heap.size === 0 && waiting > 0) {
      // Nothing left to wake the queue: jobs that can never fit.
      const stuck = queue.entries().filter((j) => st[j] === 1);
      throw new Error(
        `${stuck.length} job(s) can never be placed on this fleet (e.g. ${trace[stuck[0]!]?.id} needs ${trace[stuck[0]!]?.gpus} GPUs)`,
      );
    }
  }
  opts.onProgress?.(finished, n);
  return {
    policy: opts.policy,
    jobs: trace,
    totalGpus,
    start,
    finish,
    preemptions,
    wastedGpuS: wasted.graceGpuS + wasted.restoreGpuS + wasted.lostGpuS,
    wasted,
    busyGpuS,
    log,
    series,
    wallS: (performance.now() - t0) / 1000,
  };
}
