import type { JobRequest } from "../domain/index.js";
import {
  capMilliW,
  classRuns,
  fabricFits,
  gpuFacilityMilliW,
  overheadFacilityMilliW,
  perNodeFor,
  siteAllows,
  staticScore,
} from "./placement-rules.js";
import type { Decision, NodeView, PendingJob, Policy, SiteView, Snapshot } from "./types.js";
import { fairShareOrder } from "./fair-share.js";
import { pickBySwitchGroup } from "./switch-groups.js";

/**
 * The reference scheduler: plain linear scans over every site and node for every job, with the
 * same placement rule as the fast one (model preference, then lowest priceWeight × price +
 * carbonWeight × carbon + packingWeight × leftover GPUs, then lowest first node index; best fit
 * inside a node class; power budget in facility milliwatts). No preemption, no backfill
 * reservation. Slow on purpose: it exists to check the fast scheduler.
 */
export function scheduleReference(
  snapshot: Snapshot,
  pending: PendingJob[],
  policy: Policy,
  _now: number,
): Decision[] {
  const free = new Map<string, Set<number>>();
  for (const n of snapshot.nodes) free.set(n.id, new Set(n.gpuIndices));
  for (const l of snapshot.leases) for (const g of l.gpuIndices) free.get(l.nodeId)?.delete(g);
  // GPUs held for a preemptor leave the pool until that job's turn (first claim wins).
  const held = new Map<string, { nodeId: string; gpu: number }[]>();
  for (const r of snapshot.reservations ?? [])
    for (const g of r.gpuIndices)
      if (free.get(r.nodeId)?.delete(g))
        held.set(r.jobId, [...(held.get(r.jobId) ?? []), { nodeId: r.nodeId, gpu: g }]);
  const decisions: Decision[] = [];
  for (const job of fairShareOrder(pending, snapshot.tenantUsageGpuS, policy.tenantWeights)) {
    for (const h of held.get(job.id) ?? []) free.get(h.nodeId)!.add(h.gpu);
    held.delete(job.id);
    const pick =
      referenceAtCheckpoint(snapshot, free, policy, job) ??
      referencePlacement(snapshot.sites, snapshot.nodes, free, policy, job.request);
    if (!pick) {
      decisions.push({ kind: "wait", jobId: job.id, reasons: ["no placement (reference scheduler)"] });
      continue;
    }
    const placements = pick.nodes.map((node, k) => {
      const f = [...free.get(node.id)!].sort(
        (a, b) => node.gpuIndices.indexOf(a) - node.gpuIndices.indexOf(b),
      );
      const take = f.slice(0, pick.takes[k]);
      for (const g of take) free.get(node.id)!.delete(g);
      return { nodeId: node.id, gpuIndices: take };
    });
    decisions.push({
      kind: "place",
      jobId: job.id,
      siteId: pick.site.id,
      gpuModel: pick.model,
      placements,
      priceMinorPerGpuHour: pick.price,
      reasons: [],
    });
  }
  return decisions;
}

/**
 * The reference rule for a requeued job: the best placement at the site holding its checkpoint,
 * moved to the checkpoint's node when that node is of the same class and takes the whole job.
 */
function referenceAtCheckpoint(
  snapshot: Snapshot,
  free: Map<string, Set<number>>,
  policy: Policy,
  job: PendingJob,
): ReturnType<typeof referencePlacement> {
  const c = job.checkpoint;
  if (!c) return null;
  const at = snapshot.sites.filter((s) => s.id === c.siteId);
  const pick = referencePlacement(at, snapshot.nodes, free, policy, job.request);
  if (!pick || pick.nodes.length !== 1 || pick.nodes[0]!.id === c.nodeId) return pick;
  const there = referencePlacement(at, snapshot.nodes, free, policy, job.request, c.nodeId);
  const same =
    there !== null &&
    there.model === pick.model &&
    there.nodes.length === 1 &&
    classKey(there.nodes[0]!, pick.site) === classKey(pick.nodes[0]!, pick.site);
  return same ? there : pick;
}

/** Node class key: same model's nodes with equal memory, power, size, runtime and fabric are interchangeable. */
function classKey(n: NodeView, site: SiteView): string {
  return `${n.gpuMemoryGb}|${gpuFacilityMilliW(n, site)}|${n.gpuIndices.length}|${n.runsImages === true}|${n.fabric ?? ""}`;
}

/** Facility draw of a site in milliwatts from scratch, given free GPUs per node. */
export function referenceDrawMilliW(
  site: SiteView,
  nodes: NodeView[],
  free: Map<string, Set<number>>,
): number {
  let d = 0;
  for (const n of nodes) {
    if (n.siteId !== site.id) continue;
    const busy = n.gpuIndices.length - free.get(n.id)!.size;
    if (busy > 0) d += busy * gpuFacilityMilliW(n, site) + overheadFacilityMilliW(site);
  }
  return d;
}

/** The reference placement for one request given free GPUs per node, or null. */
export function referencePlacement(
  sites: SiteView[],
  nodes: NodeView[],
  free: Map<string, Set<number>>,
  policy: Policy,
  r: JobRequest,
  onlyNode?: string,
): { site: SiteView; model: string; nodes: NodeView[]; takes: number[]; price: number } | null {
  const nodeIdx = new Map(nodes.map((n, i) => [n.id, i]));
  const siteById = new Map(sites.map((s) => [s.id, s]));
  const drawBySite = new Map<string, number>();
  for (const n of nodes) {
    const busy = n.gpuIndices.length - free.get(n.id)!.size;
    const s = siteById.get(n.siteId);
    if (busy > 0 && s)
      drawBySite.set(
        s.id,
        (drawBySite.get(s.id) ?? 0) + busy * gpuFacilityMilliW(n, s) + overheadFacilityMilliW(s),
      );
  }
  const nodesBySite = new Map<string, NodeView[]>();
  for (const n of nodes) {
    const list = nodesBySite.get(n.siteId);
    if (list) list.push(n);
    else nodesBySite.set(n.siteId, [n]);
  }
  for (const model of r.gpuModels) {
    let modelMax = 0;
    for (const n of nodes) if (n.gpuModel === model) modelMax = Math.max(modelMax, n.gpuIndices.length);
    let best: {
      site: SiteView;
      model: string;
      nodes: NodeView[];
      takes: number[];
      price: number;
      score: number;
      first: number;
    } | null = null;
    for (const site of sites) {
      if (!siteAllows(site, r)) continue;
      const pr = site.prices[model];
      if (!pr) continue;
      const price =
        r.class === "interruptible" ? pr.interruptibleMinorPerGpuHour : pr.onDemandMinorPerGpuHour;
      if (r.maxPriceMinorPerGpuHour !== undefined && price > r.maxPriceMinorPerGpuHour) continue;
      const draw = drawBySite.get(site.id) ?? 0;
      // Node classes: same model, memory, power, size, runtime and fabric (a gang never mixes them).
      const classes = new Map<string, NodeView[]>();
      for (const n of nodesBySite.get(site.id) ?? []) {
        if (n.gpuModel !== model || !n.schedulable) continue;
        if (onlyNode !== undefined && n.id !== onlyNode) continue;
        if (!classRuns(site, n.runsImages === true, r)) continue;
        if (r.minGpuMemoryGb !== undefined && n.gpuMemoryGb < r.minGpuMemoryGb) continue;
        if (!fabricFits(n.fabric ?? "", r)) continue;
        const key = classKey(n, site);
        classes.set(key, [...(classes.get(key) ?? []), n]);
      }
      for (const members of classes.values()) {
        const cap = members[0]!.gpuIndices.length;
        const per = perNodeFor(cap, modelMax, r.gpus, r.gpusPerNode);
        if (per > cap || per <= 0) continue;
        const m = Math.ceil(r.gpus / per);
        const rem = r.gpus - per * (m - 1);
        const sorted = [...members].sort(
          (a, b) => free.get(a.id)!.size - free.get(b.id)!.size || nodeIdx.get(a.id)! - nodeIdx.get(b.id)!,
        );
        const switched = m > 1 && members.some((n) => n.switchGroup !== undefined);
        const picked = switched
          ? pickBySwitchGroup(
              sorted.map((n, k) => ({
                node: k,
                free: free.get(n.id)!.size,
                switchGroup: n.switchGroup ?? "",
              })),
              m,
              per,
              rem,
            )
          : null;
        const chosen = picked
          ? picked.map((k) => sorted[k]!)
          : sorted.filter((n) => free.get(n.id)!.size >= per).slice(0, rem === per ? m : m - 1);
        if (chosen.length < (rem === per ? m : m - 1)) continue;
        if (!picked && rem !== per) {
          const last = sorted.find((n) => free.get(n.id)!.size >= rem && !chosen.includes(n));
          if (!last) continue;
          chosen.push(last);
        }
        const takes = chosen.map((_, k) => (k === m - 1 ? rem : per));
        let extra = 0;
        chosen.forEach((n, k) => {
          extra += takes[k]! * gpuFacilityMilliW(n, site);
          if (free.get(n.id)!.size === n.gpuIndices.length) extra += overheadFacilityMilliW(site);
        });
        if (draw + extra > capMilliW(site)) continue;
        let leftover = 0;
        chosen.forEach((n, k) => (leftover += free.get(n.id)!.size - takes[k]!));
        const score = staticScore(policy, price, site) + policy.packingWeight * leftover;
        const first = nodeIdx.get(chosen[0]!.id)!;
        if (!best || score < best.score || (score === best.score && first < best.first)) {
          best = { site, model, nodes: chosen, takes, price, score, first };
        }
      }
    }
    if (best) return best;
  }
  return null;
}
