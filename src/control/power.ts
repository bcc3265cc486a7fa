import { findGpuModel, type Node, type Site } from "../domain/index.js";
import type { LeaseRecord } from "../store/index.js";

/** Per-GPU power used for budgets: the board limit the agent reported, else the catalogue TDP. */
export function gpuPowerW(node: Pick<Node, "gpus">): number {
  const g = node.gpus[0];
  if (!g) return 0;
  return g.powerLimitW > 0 ? g.powerLimitW : (findGpuModel(g.model)?.tdpW ?? 700);
}

/** A lease's share of the site's facility draw, kW: its GPUs' power plus its share of the node's overhead, times PUE. */
export function leaseFacilityKw(
  lease: Pick<LeaseRecord, "gpuIndices">,
  node: Pick<Node, "gpus">,
  site: Pick<Site, "pue" | "nodeOverheadW">,
): number {
  const n = node.gpus.length || 1;
  const share = lease.gpuIndices.length / n;
  return ((lease.gpuIndices.length * gpuPowerW(node) + share * site.nodeOverheadW) * site.pue) / 1000;
}

/** The facility draw of a site's active leases, kW (idle nodes are counted at nothing: their GPUs idle). */
export function siteDrawKw(
  site: Pick<Site, "id" | "pue" | "nodeOverheadW">,
  leases: LeaseRecord[],
  nodes: Map<string, Node>,
): number {
  let kw = 0;
  for (const l of leases) {
    if (l.siteId !== site.id || l.state === "ended") continue;
    const node = nodes.get(l.nodeId);
    if (node) kw += leaseFacilityKw(l, node, site);
  }
  return Math.round(kw * 1000) / 1000;
}
