import { findGpuModel, nodeGpuPowerW, type GpuModelLookup, type Node, type Site } from "../domain/index.js";
import type { LeaseRecord } from "../store/index.js";

/**
 * A lease's share of the site's facility draw, kW: its GPUs' power (the one power rule over `lookup`,
 * the catalogue in force) plus its share of the node's overhead, times PUE.
 */
export function leaseFacilityKw(
  lease: Pick<LeaseRecord, "gpuIndices">,
  node: Pick<Node, "gpus">,
  site: Pick<Site, "pue" | "nodeOverheadW">,
  lookup: GpuModelLookup = findGpuModel,
): number {
  const n = node.gpus.length || 1;
  const share = lease.gpuIndices.length / n;
  return (
    ((lease.gpuIndices.length * nodeGpuPowerW(node, lookup) + share * site.nodeOverheadW) * site.pue) / 1000
  );
}

/** The facility draw of a site's active leases, kW (idle nodes are counted at nothing: their GPUs idle). */
export function siteDrawKw(
  site: Pick<Site, "id" | "pue" | "nodeOverheadW">,
  leases: LeaseRecord[],
  nodes: ReadonlyMap<string, Node>,
  lookup: GpuModelLookup = findGpuModel,
): number {
  let kw = 0;
  for (const l of leases) {
    if (l.siteId !== site.id || l.state === "ended") continue;
    const node = nodes.get(l.nodeId);
    if (node) kw += leaseFacilityKw(l, node, site, lookup);
  }
  return Math.round(kw * 1000) / 1000;
}
