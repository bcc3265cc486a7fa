import { formatMajor, type JobRequest } from "../domain/index.js";
import { ClusterState, type Candidate } from "./cluster-state.js";
import { classRuns, fabricFits, perNodeFor, siteAllows } from "./placement-rules.js";
import { explainNoFit } from "./explain.js";
import { FAIR_SHARE_HORIZON_S } from "./fair-share.js";
import { NO_FIT, PASSED, PLACED, runPass, WaitQueue } from "./pass.js";
import {
  cheaperPreemption,
  chooseVictims,
  marginOf,
  preemptionCost,
  queueRuleFromHistory,
  type PreemptionCost,
} from "./queue-policy.js";
import type { QueueJobView, QueueRule, UnfinishedJob, VictimView } from "./queue-policy.js";
import type { Decision, LeaseView, PendingJob, Policy, Snapshot } from "./types.js";

/** Builds the incremental state for a snapshot: its sites and nodes, with every lease's GPUs taken. */
export function stateFromSnapshot(snapshot: Snapshot, policy: Policy): ClusterState {
  const sites = snapshot.sites.map((s) => ({ ...s }));
  const state = new ClusterState(sites, snapshot.nodes, policy);
  const masks = new Map<number, number>();
  for (const l of snapshot.leases) {
    const i = state.nodeIndex.get(l.nodeId);
    if (i === undefined) continue; // the node left the federation; its lease holds nothing we place on
    const node = snapshot.nodes[i]!;
    let m = masks.get(i) ?? 0;
    for (const g of l.gpuIndices) {
      const p = node.gpuIndices.indexOf(g);
      if (p < 0) continue; // an unhealthy GPU is not placeable anyway
      const bit = 1 << p;
      if (m & bit) throw new Error(`GPU ${g} of node ${l.nodeId} is held by two leases in the snapshot`);
      m |= bit;
    }
    masks.set(i, m);
  }
  for (const [i, m] of masks) state.occupyMask(i, m);
  return state;
}

/** Checks the parts of a request the scheduler relies on; returns what is wrong, or null. */
export function requestProblem(r: JobRequest): string | null {
  if (!Number.isInteger(r.gpus) || r.gpus < 1)
    return `request.gpus must be a whole number of at least 1, got ${r.gpus}`;
  if (r.gpusPerNode !== undefined && (!Number.isInteger(r.gpusPerNode) || r.gpusPerNode < 1))
    return `request.gpusPerNode must be a whole number of at least 1, got ${r.gpusPerNode}`;
  if (r.gpuModels.length === 0) return "request.gpuModels is empty: name at least one GPU model";
  if (r.fabric !== undefined && r.fabric.trim() === "")
    return "request.fabric is empty: name a fabric (e.g. ib-ndr) or leave it out";
  return null;
}

/**
 * The jobs that have not finished, once each: the pending ones (a requeued job has service) and
 * the ones holding leases (a multi-node job has one lease per node). The learning rule's censored samples.
 */
export function unfinishedJobs(pending: PendingJob[], leases: LeaseView[], now: number): UnfinishedJob[] {
  const seen = new Set<string>();
  const out: UnfinishedJob[] = [];
  for (const p of pending) {
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    out.push({ tenant: p.tenantId, gpus: p.request.gpus, attainedGpuS: p.attainedGpuS ?? 0 });
  }
  for (const l of leases) {
    if (seen.has(l.jobId)) continue;
    seen.add(l.jobId);
    out.push({
      tenant: l.tenantId,
      gpus: l.jobGpus ?? l.gpuIndices.length,
      attainedGpuS: l.attainedGpuS ?? (l.gpuIndices.length * Math.max(0, now - l.startedAt)) / 1000,
    });
  }
  return out;
}

/** Level of a lease's job under the rule (attained service: what its job has held so far). */
export function leaseLevel(rule: QueueRule, l: LeaseView, now: number): number {
  return rule.level({
    job: -1,
    tenant: l.tenantId,
    gpus: l.jobGpus ?? l.gpuIndices.length,
    submittedAt: l.startedAt,
    attainedGpuS: l.attainedGpuS ?? (l.gpuIndices.length * Math.max(0, now - l.startedAt)) / 1000,
  });
}

/**
 * The fast scheduler: the shared queue policy's order (src/scheduler/queue-policy.ts, the one the
 * simulator replays; weighted fair share inside a level), indexed best-fit gang placement under
 * power budgets, a backfill reservation for the first blocked job, and preemption of interruptible
 * leases (for on-demand jobs, and for jobs whose level the policy ranks far enough above theirs),
 * chosen by the shared preemption choice. Pure and deterministic.
 */
export function scheduleFast(
  snapshot: Snapshot,
  pending: PendingJob[],
  policy: Policy,
  now: number,
): Decision[] {
  // 1. Build the indexed state from the snapshot.
  const state = stateFromSnapshot(snapshot, policy);
  const leasesByNode = indexLeases(state, snapshot.leases);
  const stopping = new Set(snapshot.leases.filter((l) => l.stopping).map((l) => l.id));
  // 1b. GPUs vacated for a preemptor are held for it: no other job (the preempted one least of all) takes them.
  const held = holdReservations(state, snapshot);
  const decisions: Decision[] = [];
  // 2. The shared policy's rule; jobs as handles in FIFO order (submit time, then id).
  // The cost test charges a victim the grace period this control plane actually gives.
  const rule = queueRuleFromHistory(
    policy.queue ?? "zumbido",
    snapshot.finishedService,
    { graceS: policy.preemptionGraceS },
    () => unfinishedJobs(pending, snapshot.leases, now),
  );
  const jobs = [...pending].sort(bySubmit);
  const lease = new Map<string, number>();
  const leaseLevelOf = (l: LeaseView): number => {
    let x = lease.get(l.id);
    if (x === undefined) lease.set(l.id, (x = leaseLevel(rule, l, now)));
    return x;
  };
  // 3. The shared queue: the rule's levels, weighted fair share by tenant inside a level.
  const tenantIds = [...new Set(jobs.map((j) => j.tenantId))].sort();
  const tenantIdx = new Map(tenantIds.map((t, k) => [t, k]));
  const tenantOf = Int32Array.from(jobs, (j) => tenantIdx.get(j.tenantId)!);
  const queue = new WaitQueue(rule.levels, {
    tenants: tenantIds.length,
    tenantOf: (h) => tenantOf[h]!,
    gpusOf: (h) => jobs[h]!.request.gpus,
    usageGpuS: tenantIds.map((t) => snapshot.tenantUsageGpuS?.[t] ?? 0),
    weight: tenantIds.map((t) => policy.tenantWeights?.[t] ?? 1),
    horizonS: FAIR_SHARE_HORIZON_S,
  });
  const levelOf = new Int32Array(jobs.length);
  const viewOf = (h: number): QueueJobView => {
    const p = jobs[h]!;
    return {
      job: -1,
      tenant: p.tenantId,
      gpus: p.request.gpus,
      submittedAt: p.submittedAt,
      attainedGpuS: p.attainedGpuS ?? 0,
    };
  };
  jobs.forEach((_, h) => {
    levelOf[h] = rule.level(viewOf(h));
    queue.insert(h, levelOf[h]!);
  });
  // 4. The shared pass, on this side of the cluster: sites, power, checkpoints, interruptible victims.
  runPass(rule, queue, {
    waiting: () => true,
    place: (h) => {
      const job = jobs[h]!;
      for (const x of held.get(job.id) ?? []) {
        state.releaseMask(x.node, x.mask);
        state.unreserve(x.node); // its claim came before any backfill reservation made this cycle
      }
      held.delete(job.id);
      const problem = requestProblem(job.request);
      if (problem) {
        decisions.push({ kind: "wait", jobId: job.id, reasons: [problem] });
        return PASSED;
      }
      return placeJob(state, job, decisions) ? PLACED : NO_FIT;
    },
    // On-demand work may preempt interruptible work whatever the rule; so may work the rule ranks far above it.
    preemptsAnyway: (h) => jobs[h]!.request.class === "on-demand",
    preempt: (h, level) => {
      if (!policy.preemption) return false;
      const job = jobs[h]!;
      const r = job.request;
      const plan = planPreemption(state, leasesByNode, stopping, r, now, {
        rule,
        level: r.class === "on-demand" ? Number.NEGATIVE_INFINITY : level,
        leaseLevel: leaseLevelOf,
        margin: marginOf(rule, viewOf(h)),
      });
      if (!plan) return false;
      for (const l of plan.victims) {
        stopping.add(l.id);
        decisions.push({
          kind: "preempt",
          leaseId: l.id,
          forJobId: job.id,
          graceS: policy.preemptionGraceS,
          reason: `${r.class === "on-demand" ? "on-demand" : "higher-priority"} job ${job.id} needs ${r.gpus} GPU(s) on node ${state.nodes[plan.node]!.id}; interruptible lease stopped after a ${policy.preemptionGraceS} s checkpoint notice`,
        });
      }
      state.reserve(plan.node);
      decisions.push({
        kind: "wait",
        jobId: job.id,
        reasons: [
          plan.victims.length > 0
            ? `preempting ${plan.victims.length} interruptible lease(s) on node ${state.nodes[plan.node]!.id} (checkpoint notice, ${policy.preemptionGraceS} s grace)`
            : `waiting for preempted work on node ${state.nodes[plan.node]!.id} to stop`,
        ],
      });
      return true;
    },
    // Say why it waits.
    blocked: (h) => {
      decisions.push({ kind: "wait", jobId: jobs[h]!.id, reasons: explainNoFit(state, jobs[h]!.request) });
    },
    // Keep the first blocked job's best nodes for it (backfill never delays it).
    reserveForHead: (h) => {
      if (policy.backfill === false) return false;
      reserveForHead(state, jobs[h]!.request);
      return true;
    },
    behind: (h, head) => {
      decisions.push({
        kind: "wait",
        jobId: jobs[h]!.id,
        reasons: [`queued behind job ${jobs[head]!.id} (strict FIFO)`],
      });
    },
  });
  return decisions;
}

function bySubmit(a: PendingJob, b: PendingJob): number {
  return a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Places a job where it fits best (at the site, and node, holding its checkpoint when it fits there); false when it fits nowhere. */
function placeJob(state: ClusterState, job: PendingJob, decisions: Decision[]): boolean {
  const atCheckpoint = checkpointPlacement(state, job);
  const c = atCheckpoint ?? state.findPlacement(job.request);
  if (!c) return false;
  const masks = state.commit(c);
  const site = state.sites[c.siteIdx]!;
  decisions.push({
    kind: "place",
    jobId: job.id,
    siteId: site.id,
    gpuModel: c.model,
    placements: c.nodes.map((i, k) => ({
      nodeId: state.nodes[i]!.id,
      gpuIndices: gpusOfMask(state, i, masks[k]!),
    })),
    priceMinorPerGpuHour: c.price,
    reasons: [
      atCheckpoint
        ? `${c.model} at ${site.name} (${site.country}) at ${formatMajor(c.price)}/GPU-h: the site${atCheckpoint.nodes[0] === state.nodeIndex.get(job.checkpoint!.nodeId) ? " and node" : ""} holding the job's checkpoint`
        : `${c.model} at ${site.name} (${site.country}) at ${formatMajor(c.price)}/GPU-h: best price, carbon and packing score among eligible sites`,
    ],
  });
  return true;
}

/** The placement at the site (and node) that holds a requeued job's checkpoint, or null (none, or it does not fit there). */
function checkpointPlacement(state: ClusterState, job: PendingJob): Candidate | null {
  if (!job.checkpoint) return null;
  const si = state.siteIndex.get(job.checkpoint.siteId);
  if (si === undefined) return null;
  return state.findPlacementAt(job.request, si, state.nodeIndex.get(job.checkpoint.nodeId) ?? -1);
}

/** Takes the free GPUs of each reservation out of the pool; returns them per job, to give back to that job. */
function holdReservations(
  state: ClusterState,
  snapshot: Snapshot,
): Map<string, { node: number; mask: number }[]> {
  const held = new Map<string, { node: number; mask: number }[]>();
  for (const res of snapshot.reservations ?? []) {
    const i = state.nodeIndex.get(res.nodeId);
    if (i === undefined) continue;
    const node = state.nodes[i]!;
    let m = 0;
    for (const g of res.gpuIndices) {
      const p = node.gpuIndices.indexOf(g);
      if (p >= 0) m |= 1 << p;
    }
    // GPUs still held by the stopping lease are not free yet; GPUs claimed twice go to the first claim.
    m = (m & state.nodeFreeMask[i]!) >>> 0;
    if (m === 0) continue;
    state.occupyMask(i, m);
    const list = held.get(res.jobId);
    if (list) list.push({ node: i, mask: m });
    else held.set(res.jobId, [{ node: i, mask: m }]);
  }
  return held;
}

function gpusOfMask(state: ClusterState, i: number, mask: number): number[] {
  const idx = state.nodes[i]!.gpuIndices;
  const out: number[] = [];
  for (let p = 0; p < idx.length; p++) if (mask & (1 << p)) out.push(idx[p]!);
  return out;
}

function indexLeases(state: ClusterState, leases: LeaseView[]): Map<number, LeaseView[]> {
  const m = new Map<number, LeaseView[]>();
  for (const l of leases) {
    const i = state.nodeIndex.get(l.nodeId);
    if (i === undefined) continue;
    const list = m.get(i);
    if (list) list.push(l);
    else m.set(i, [l]);
  }
  return m;
}

/**
 * Keeps, for the blocked head, the nodes of its first eligible class that are closest to fitting
 * (most free GPUs), so that later jobs backfill only elsewhere.
 */
export function reserveForHead(state: ClusterState, r: JobRequest): void {
  for (const model of r.gpuModels) {
    for (let g = 0; g < state.groups.length; g++) {
      const grp = state.groups[g]!;
      const site = state.sites[grp.siteIdx]!;
      if (grp.model !== model || !siteAllows(site, r) || !classRuns(site, grp.images, r)) continue;
      if (!fabricFits(grp.fabric, r)) continue;
      if (r.minGpuMemoryGb !== undefined && grp.memGb < r.minGpuMemoryGb) continue;
      // Only classes the head could run on once capacity frees: priced, and within its price cap.
      const pr = state.sites[grp.siteIdx]!.prices[model];
      const price =
        pr && (r.class === "interruptible" ? pr.interruptibleMinorPerGpuHour : pr.onDemandMinorPerGpuHour);
      if (
        price === undefined ||
        (r.maxPriceMinorPerGpuHour !== undefined && price > r.maxPriceMinorPerGpuHour)
      )
        continue;
      const per = perNodeFor(grp.cap, state.maxCapByModel.get(grp.model) ?? 0, r.gpus, r.gpusPerNode);
      if (per <= 0 || per > grp.cap) continue;
      const m = Math.ceil(r.gpus / per);
      if (m > grp.nodes.length) continue;
      const open = grp.nodes.filter((i) => state.nodeOpen[i] === 1);
      if (open.length < m) continue;
      open.sort((a, b) => state.nodeFree[b]! - state.nodeFree[a]! || a - b);
      for (const i of open.slice(0, m)) state.reserve(i);
      return;
    }
  }
}

/**
 * Where to preempt for a single-node request: on each node the shared policy's victims
 * (`chooseVictims`) among interruptible leases, across nodes the shared node choice
 * (`cheaperPreemption`: fewest GPUs stopped, then least work lost since each victim's last
 * checkpoint, `LeaseView.savedAt`), as in the simulator. Nodes already being freed by stopping
 * leases cost nothing and come first. Returns null when preemption cannot help.
 */
export function planPreemption(
  state: ClusterState,
  leasesByNode: Map<number, LeaseView[]>,
  stopping: Set<string>,
  r: JobRequest,
  now: number,
  choice: { rule: QueueRule; level: number; leaseLevel: (l: LeaseView) => number; margin?: number } = {
    rule: queueRuleFromHistory("zumbido"),
    level: Number.NEGATIVE_INFINITY,
    leaseLevel: () => 0,
  },
): { node: number; victims: LeaseView[] } | null {
  let best: { node: number; victims: LeaseView[]; cost: PreemptionCost } | null = null;
  for (const model of r.gpuModels) {
    for (const grp of state.groups) {
      if (grp.model !== model) continue;
      const site = state.sites[grp.siteIdx]!;
      if (!siteAllows(site, r) || !classRuns(site, grp.images, r)) continue;
      if (r.minGpuMemoryGb !== undefined && grp.memGb < r.minGpuMemoryGb) continue;
      if (!fabricFits(grp.fabric, r)) continue;
      const pr = site.prices[model];
      if (!pr) continue;
      if (r.maxPriceMinorPerGpuHour !== undefined && pr.onDemandMinorPerGpuHour > r.maxPriceMinorPerGpuHour)
        continue;
      if (r.gpus > grp.cap || (r.gpusPerNode !== undefined && r.gpusPerNode < r.gpus)) continue;
      for (const i of grp.nodes) {
        if (state.nodeOpen[i] !== 1) continue;
        const leases = leasesByNode.get(i) ?? [];
        let have = state.nodeFree[i]!;
        let freeing = 0;
        for (const l of leases) if (stopping.has(l.id)) freeing += l.gpuIndices.length;
        have += freeing;
        const victims: LeaseView[] = [];
        let cost: PreemptionCost = { gpus: 0, lostGpuS: 0 };
        if (have >= r.gpus && freeing === 0) continue; // fits by count already: power or a reservation blocks it, not work
        if (have < r.gpus) {
          const cands = leases
            .filter((l) => l.class === "interruptible" && !stopping.has(l.id))
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          const views: VictimView[] = cands.map((l, k) => ({
            level: choice.leaseLevel(l),
            gpus: l.gpuIndices.length,
            runStart: l.startedAt / 1000,
            order: -k,
            ...(l.savedAt !== undefined ? { savedAt: l.savedAt / 1000 } : {}),
          }));
          const pick = chooseVictims(
            choice.rule,
            choice.level,
            r.gpus,
            have,
            views,
            now / 1000,
            choice.margin ?? choice.rule.preemptMargin,
          );
          if (!pick) continue;
          for (const k of pick) {
            const l = cands[k]!;
            victims.push(l);
            have += l.gpuIndices.length;
          }
          cost = preemptionCost(views, pick, now / 1000);
        }
        // The site's budget must hold once the freed GPUs are reused (the node stays busy).
        const freed = have - state.nodeFree[i]!;
        const after = state.siteDrawMilliW[grp.siteIdx]! + (r.gpus - freed) * grp.powerMilliW;
        if (after > state.siteCapMilliW[grp.siteIdx]!) continue;
        if (cheaperPreemption(cost, best?.cost ?? null)) best = { node: i, victims, cost };
      }
    }
    const found = best as { node: number; victims: LeaseView[] } | null;
    if (found) return { node: found.node, victims: found.victims };
  }
  return null;
}
