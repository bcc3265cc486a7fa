import type { JobRequest } from "../domain/index.js";
import { effectiveImage, formatMajor, imageRefusal, inJurisdiction } from "../domain/index.js";
import type { ClusterState } from "./cluster-state.js";
import { classRuns, fabricFits, perNodeFor } from "./placement-rules.js";

const STAGES = [
  "volume",
  "jurisdiction",
  "country",
  "carbon",
  "image",
  "model",
  "runtime",
  "fabric",
  "price-missing",
  "price-cap",
  "memory",
  "size",
  "fabric-size",
  "draining",
  "free",
  "power",
] as const;
type Stage = (typeof STAGES)[number];
const at = (s: Stage): number => STAGES.indexOf(s);

/**
 * Why a request fits nowhere, in words a tenant reads verbatim: for every site, the first
 * constraint that rules it out (the furthest any of its node classes got), counted per reason.
 */
export function explainNoFit(state: ClusterState, r: JobRequest): string[] {
  const models = r.gpuModels.join(" or ");
  const perSite: Stage[] = [];
  state.sites.forEach((site, si) => {
    if (r.sites && !r.sites.includes(site.id)) return void perSite.push("volume");
    if (r.jurisdiction && !inJurisdiction(site.country, r.jurisdiction))
      return void perSite.push("jurisdiction");
    if (r.countries && r.countries.length > 0 && !r.countries.includes(site.country))
      return void perSite.push("country");
    if (
      r.maxCarbonGPerKwh !== undefined &&
      site.carbonGPerKwh !== undefined &&
      site.carbonGPerKwh > r.maxCarbonGPerKwh
    )
      return void perSite.push("carbon");
    const image = effectiveImage(site, r.image);
    if (image !== undefined && imageRefusal(site, image) !== null) return void perSite.push("image");
    let furthest = at("model");
    for (const gi of state.groupsBySite[si]!) {
      const g = state.groups[gi]!;
      if (!r.gpuModels.includes(g.model)) continue;
      furthest = Math.max(furthest, groupStage(state, gi, r));
    }
    perSite.push(STAGES[furthest]!);
  });
  const counts = new Map<Stage, number>();
  for (const s of perSite) counts.set(s, (counts.get(s) ?? 0) + 1);
  const sites = (n: number): string => `${n} site${n === 1 ? "" : "s"}`;
  const text: Record<Stage, string> = {
    volume: `not the site of its volumes (${(r.sites ?? []).join(",")}): a job with volumes runs only where they are`,
    jurisdiction: `outside ${r.jurisdiction ?? ""}`,
    country: `country not in ${(r.countries ?? []).join(",")}`,
    carbon: `grid carbon above the ${r.maxCarbonGPerKwh ?? 0} g/kWh cap`,
    image: `image ${r.image ?? "(the site's default)"} not allowed at site`,
    model: `no ${models} offered`,
    runtime: "no node runs container images",
    fabric: `no ${models} node on fabric ${r.fabric ?? ""}`,
    "price-missing": `no ${r.class} price for ${models}`,
    "price-cap": `price cap ${formatMajor(r.maxPriceMinorPerGpuHour ?? 0)} EUR/GPU-h below every offer`,
    memory: `GPU memory below ${r.minGpuMemoryGb ?? 0} GB`,
    size: r.gpusPerNode
      ? `nodes too small for ${r.gpusPerNode} GPUs per node`
      : `no node class can hold a ${r.gpus}-GPU gang`,
    "fabric-size": `no single fabric domain has enough ${models} nodes for the ${r.gpus}-GPU gang (a gang stays inside one fabric)`,
    draining:
      "no node taking new work (drained, offline, unhealthy, or held until an inventory change is approved)",
    free: `not enough free ${models} GPUs for a ${r.gpus}-GPU gang`,
    power: "site power budget would be exceeded",
  };
  if (state.sites.length === 0) return ["no sites in the federation"];
  return STAGES.filter((s) => counts.has(s)).map((s) => `${text[s]} (${sites(counts.get(s)!)})`);
}

function groupStage(state: ClusterState, gi: number, r: JobRequest): number {
  const g = state.groups[gi]!;
  const site = state.sites[g.siteIdx]!;
  if (!classRuns(site, g.images, r)) return at("runtime");
  if (!fabricFits(g.fabric, r)) return at("fabric");
  const pr = site.prices[g.model];
  if (!pr) return at("price-missing");
  const price = r.class === "interruptible" ? pr.interruptibleMinorPerGpuHour : pr.onDemandMinorPerGpuHour;
  if (r.maxPriceMinorPerGpuHour !== undefined && price > r.maxPriceMinorPerGpuHour) return at("price-cap");
  if (r.minGpuMemoryGb !== undefined && g.memGb < r.minGpuMemoryGb) return at("memory");
  const per = perNodeFor(g.cap, state.maxCapByModel.get(g.model) ?? 0, r.gpus, r.gpusPerNode);
  if (per <= 0 || per > g.cap) return at("size");
  if (Math.ceil(r.gpus / per) > g.nodes.length) {
    // Enough nodes of the class across fabrics, but not in one: the gang waits for a fabric domain.
    let across = 0;
    for (const gj of state.groupsBySite[g.siteIdx]!) {
      const o = state.groups[gj]!;
      if (o.model === g.model && o.memGb === g.memGb && o.cap === g.cap && o.images === g.images)
        across += o.nodes.length;
    }
    return Math.ceil(r.gpus / per) <= across ? at("fabric-size") : at("size");
  }
  let open = 0;
  for (let f = 0; f <= g.cap; f++) open += g.counts[f]!;
  if (open === 0) return at("draining");
  // Would it fit ignoring power? Count open nodes with enough free GPUs.
  const m = Math.ceil(r.gpus / per);
  const rem = r.gpus - per * (m - 1);
  let enough = 0;
  let enoughRem = 0;
  for (let f = 0; f <= g.cap; f++) {
    if (f >= per) enough += g.counts[f]!;
    if (f >= rem) enoughRem += g.counts[f]!;
  }
  if (m === 1 ? enoughRem < 1 : enough < m - 1 || enoughRem < m) return at("free");
  return at("power");
}
