import {
  capMilliW,
  classRuns,
  gpuFacilityMilliW,
  overheadFacilityMilliW,
  siteAllows,
} from "./placement-rules.js";
import type { Decision, PendingJob, Snapshot } from "./types.js";

/**
 * Independent check of one cycle's decisions against its snapshot: no GPU given twice, gangs whole
 * (all GPUs, one site, one fabric, one node when one node can hold it), no GPU held for a preemptor given to
 * another job, constraints kept, power budgets kept.
 * Returns one line per broken invariant.
 */
export function checkDecisions(snap: Snapshot, pending: PendingJob[], decisions: Decision[]): string[] {
  const out: string[] = [];
  const nodes = new Map(snap.nodes.map((n) => [n.id, n]));
  const sites = new Map(snap.sites.map((s) => [s.id, s]));
  const jobs = new Map(pending.map((j) => [j.id, j]));
  const held = new Set<string>();
  for (const l of snap.leases) for (const g of l.gpuIndices) held.add(`${l.nodeId}#${g}`);
  const busyBefore = new Map<string, number>();
  for (const l of snap.leases)
    busyBefore.set(l.nodeId, (busyBefore.get(l.nodeId) ?? 0) + l.gpuIndices.length);
  const busy = new Map(busyBefore);
  const reservedFor = new Map<string, string>();
  for (const r of snap.reservations ?? [])
    for (const g of r.gpuIndices) {
      const k = `${r.nodeId}#${g}`;
      if (!held.has(k) && !reservedFor.has(k)) reservedFor.set(k, r.jobId);
    }
  const placedSites = new Set<string>();
  for (const d of decisions) {
    if (d.kind !== "place") continue;
    const job = jobs.get(d.jobId);
    if (!job) {
      out.push(`${d.jobId}: placed but not pending`);
      continue;
    }
    const r = job.request;
    const site = sites.get(d.siteId);
    if (!site) {
      out.push(`${d.jobId}: unknown site ${d.siteId}`);
      continue;
    }
    placedSites.add(site.id);
    let total = 0;
    for (const p of d.placements) {
      const n = nodes.get(p.nodeId);
      if (!n) {
        out.push(`${d.jobId}: unknown node ${p.nodeId}`);
        continue;
      }
      if (n.siteId !== site.id) out.push(`${d.jobId}: gang spans sites (${n.siteId} and ${site.id})`);
      if (n.gpuModel !== d.gpuModel || !r.gpuModels.includes(n.gpuModel))
        out.push(`${d.jobId}: wrong GPU model ${n.gpuModel}`);
      if (!n.schedulable) out.push(`${d.jobId}: placed on node ${n.id}, which takes no new work`);
      if (!classRuns(site, n.runsImages === true, r))
        out.push(`${d.jobId}: has an image but placed on node ${n.id}, which cannot run container images`);
      if (r.minGpuMemoryGb !== undefined && n.gpuMemoryGb < r.minGpuMemoryGb)
        out.push(`${d.jobId}: GPU memory too small`);
      for (const g of p.gpuIndices) {
        const k = `${n.id}#${g}`;
        if (!n.gpuIndices.includes(g)) out.push(`${d.jobId}: GPU ${k} is not a healthy GPU of the node`);
        if (held.has(k)) out.push(`${d.jobId}: GPU ${k} given twice`);
        const owner = reservedFor.get(k);
        if (owner !== undefined && owner !== d.jobId)
          out.push(`${d.jobId}: GPU ${k} is held for job ${owner}, which preempted its last holder`);
        held.add(k);
      }
      if (r.gpusPerNode !== undefined && p.gpuIndices.length > r.gpusPerNode)
        out.push(`${d.jobId}: more than ${r.gpusPerNode} GPUs on node ${n.id}`);
      total += p.gpuIndices.length;
      busy.set(n.id, (busy.get(n.id) ?? 0) + p.gpuIndices.length);
    }
    if (total !== r.gpus) out.push(`${d.jobId}: gang not whole (${total} of ${r.gpus} GPUs)`);
    if (new Set(d.placements.map((p) => nodes.get(p.nodeId)?.fabric ?? "")).size > 1)
      out.push(`${d.jobId}: gang spans fabrics`);
    if (r.fabric !== undefined)
      for (const p of d.placements)
        if (nodes.get(p.nodeId)?.fabric !== r.fabric)
          out.push(`${d.jobId}: node ${p.nodeId} is not on the required fabric ${r.fabric}`);
    if (new Set(d.placements.map((p) => nodes.get(p.nodeId)?.runsImages === true)).size > 1)
      out.push(`${d.jobId}: gang mixes container and host-process nodes`);
    if (d.placements.length > 1 && r.gpusPerNode === undefined) {
      const fitsOne = d.placements.some((p) => (nodes.get(p.nodeId)?.gpuIndices.length ?? 0) >= r.gpus);
      if (fitsOne) out.push(`${d.jobId}: split over nodes although one node holds ${r.gpus} GPUs`);
    }
    if (!siteAllows(site, r))
      out.push(
        `${d.jobId}: site ${site.id} breaks the job's jurisdiction, country, carbon or image-policy constraint`,
      );
    const pr = site.prices[d.gpuModel];
    const price =
      r.class === "interruptible" ? pr?.interruptibleMinorPerGpuHour : pr?.onDemandMinorPerGpuHour;
    if (price !== d.priceMinorPerGpuHour)
      out.push(`${d.jobId}: price ${d.priceMinorPerGpuHour} is not the site's price ${price}`);
    if (r.maxPriceMinorPerGpuHour !== undefined && d.priceMinorPerGpuHour > r.maxPriceMinorPerGpuHour)
      out.push(`${d.jobId}: price above cap`);
  }
  for (const sid of placedSites) {
    const site = sites.get(sid)!;
    let draw = 0;
    for (const n of snap.nodes) {
      if (n.siteId !== sid) continue;
      const b = busy.get(n.id) ?? 0;
      if (b > 0) draw += b * gpuFacilityMilliW(n, site) + overheadFacilityMilliW(site);
    }
    if (draw > capMilliW(site))
      out.push(`site ${sid}: facility draw ${draw / 1e6} kW above its cap ${site.powerCapKw} kW`);
  }
  return out;
}
