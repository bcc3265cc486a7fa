import { inJurisdiction } from "../domain/index.js";
import type { Decision, NodeView, PendingJob, Policy, SiteView, Snapshot } from "./types.js";

/** Free GPU indices per node after the snapshot's leases. */
export function freeGpus(snapshot: Snapshot): Map<string, number[]> {
  const used = new Map<string, Set<number>>();
  for (const l of snapshot.leases) {
    let s = used.get(l.nodeId);
    if (!s) used.set(l.nodeId, (s = new Set()));
    for (const i of l.gpuIndices) s.add(i);
  }
  const free = new Map<string, number[]>();
  for (const n of snapshot.nodes) {
    const u = used.get(n.id);
    free.set(
      n.id,
      n.gpuIndices.filter((i) => !u?.has(i)),
    );
  }
  return free;
}

/** Price a job would pay at a site for a model, or undefined when the site does not sell it. */
export function priceAt(
  site: SiteView,
  model: string,
  cls: PendingJob["request"]["class"],
): number | undefined {
  const p = site.prices[model];
  if (!p) return undefined;
  return cls === "interruptible" ? p.interruptibleMinorPerGpuHour : p.onDemandMinorPerGpuHour;
}

/** Site-level constraint check; returns the reason it fails, or null. */
export function siteRejection(site: SiteView, job: PendingJob): string | null {
  const r = job.request;
  if (r.sites && !r.sites.includes(site.id)) return `volumes at site ${r.sites.join(",")} only`;
  if (r.jurisdiction && !inJurisdiction(site.country, r.jurisdiction))
    return `outside ${r.jurisdiction} (${site.country})`;
  if (r.countries && r.countries.length > 0 && !r.countries.includes(site.country))
    return `country ${site.country} not in ${r.countries.join(",")}`;
  if (
    r.maxCarbonGPerKwh !== undefined &&
    site.carbonGPerKwh !== undefined &&
    site.carbonGPerKwh > r.maxCarbonGPerKwh
  )
    return `carbon ${site.carbonGPerKwh} g/kWh above cap ${r.maxCarbonGPerKwh}`;
  return null;
}

/**
 * The first scheduler: single-node placement by model, count, price cap and jurisdiction,
 * cheapest site first, best-fit node. No preemption, no gangs across nodes.
 */
export function scheduleBasic(
  snapshot: Snapshot,
  pending: PendingJob[],
  _policy: Policy,
  _now: number,
): Decision[] {
  const free = freeGpus(snapshot);
  const sites = new Map(snapshot.sites.map((s) => [s.id, s]));
  const nodesBySite = new Map<string, NodeView[]>();
  for (const n of snapshot.nodes) {
    const arr = nodesBySite.get(n.siteId) ?? [];
    arr.push(n);
    nodesBySite.set(n.siteId, arr);
  }
  const decisions: Decision[] = [];
  const ordered = [...pending].sort((a, b) => a.submittedAt - b.submittedAt || a.id.localeCompare(b.id));
  for (const job of ordered) {
    const r = job.request;
    const counts = new Map<string, number>();
    const note = (reason: string): void => {
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
    };
    let best: { site: SiteView; node: NodeView; model: string; price: number; left: number } | undefined;
    for (const site of snapshot.sites) {
      const rej = siteRejection(site, job);
      if (rej) {
        note(
          rej.startsWith("volumes")
            ? "not the site of its volumes"
            : rej.startsWith("outside")
              ? `outside ${r.jurisdiction}`
              : rej.split(" ")[0] === "country"
                ? "country not allowed"
                : "carbon above cap",
        );
        continue;
      }
      for (const model of r.gpuModels) {
        const price = priceAt(site, model, r.class);
        const nodes = (nodesBySite.get(site.id) ?? []).filter((n) => n.gpuModel === model);
        if (nodes.length === 0) continue;
        if (price === undefined) {
          note(`no ${model} price`);
          continue;
        }
        if (r.maxPriceMinorPerGpuHour !== undefined && price > r.maxPriceMinorPerGpuHour) {
          note("price above cap");
          continue;
        }
        for (const node of nodes) {
          if (!node.schedulable) {
            note("node not schedulable");
            continue;
          }
          if (r.minGpuMemoryGb !== undefined && node.gpuMemoryGb < r.minGpuMemoryGb) {
            note("GPU memory too small");
            continue;
          }
          const f = free.get(node.id) ?? [];
          if (f.length < r.gpus) {
            note(node.gpuIndices.length < r.gpus ? "node too small" : "not enough free GPUs");
            continue;
          }
          const left = f.length - r.gpus;
          if (!best || price < best.price || (price === best.price && left < best.left)) {
            best = { site, node, model, price, left };
          }
        }
      }
    }
    if (!best) {
      const modelsSeen = snapshot.nodes.some((n) => r.gpuModels.includes(n.gpuModel));
      const reasons = modelsSeen ? [] : [`no site offers ${r.gpuModels.join(" or ")}`];
      for (const [reason, n] of [...counts.entries()].sort())
        reasons.push(`${reason} (${n} ${n === 1 ? "place" : "places"})`);
      decisions.push({ kind: "wait", jobId: job.id, reasons });
      continue;
    }
    const f = free.get(best.node.id) ?? [];
    const take = f.slice(0, r.gpus);
    free.set(best.node.id, f.slice(r.gpus));
    const site = sites.get(best.site.id)!;
    decisions.push({
      kind: "place",
      jobId: job.id,
      siteId: site.id,
      gpuModel: best.model,
      placements: [{ nodeId: best.node.id, gpuIndices: take }],
      priceMinorPerGpuHour: best.price,
      reasons: [`cheapest eligible offer: ${best.model} at ${site.name} (${site.country})`],
    });
  }
  return decisions;
}
