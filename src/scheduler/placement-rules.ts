/**
 * The scheduler's per-site and per-class rules, shared by the fast state (cluster-state.ts), the
 * linear-scan reference and the invariant checker: facility power in integer milliwatts, a site's
 * constraints, a class's runtime and fabric, GPUs per node of a gang.
 */
import { effectiveImage, imageRefusal, inJurisdiction } from "../domain/index.js";
import type { JobRequest } from "../domain/index.js";
import type { Policy, NodeView, SiteView } from "./types.js";

/**
 * Power is kept in integer milliwatts so that incremental sums and fresh sums agree exactly:
 * per-GPU facility draw = round(gpuPowerW × pue × 1000), node overhead = round(nodeOverheadW × pue × 1000),
 * site cap = round(powerCapKw × 1e6).
 */
export function gpuFacilityMilliW(node: NodeView, site: SiteView): number {
  return Math.round(node.gpuPowerW * site.pue * 1000);
}
/** Facility milliwatts of one busy node's overhead. */
export function overheadFacilityMilliW(site: SiteView): number {
  return Math.round(site.nodeOverheadW * site.pue * 1000);
}
/** A site's cap in facility milliwatts. */
export function capMilliW(site: SiteView): number {
  return Math.round(site.powerCapKw * 1e6);
}

/**
 * GPUs per node for a gang in a node class of `cap` GPUs: as asked, else all on one node when the
 * job fits the model's largest node (it never splits then), else whole nodes of the class.
 * Returns 0 when the class cannot take the job.
 */
export function perNodeFor(
  cap: number,
  modelMaxCap: number,
  gpus: number,
  gpusPerNode: number | undefined,
): number {
  if (gpusPerNode !== undefined) return gpusPerNode;
  if (gpus <= cap) return gpus;
  return gpus <= modelMaxCap ? 0 : cap;
}

/** Site score before packing: priceWeight × price + carbonWeight × carbon (unknown carbon counts 0). */
export function staticScore(policy: Policy, price: number, site: SiteView): number {
  return policy.priceWeight * price + policy.carbonWeight * (site.carbonGPerKwh ?? 0);
}

/** True when the site passes the request's volume-site, jurisdiction, country, carbon and image-policy constraints. */
export function siteAllows(site: SiteView, r: JobRequest): boolean {
  if (r.sites && !r.sites.includes(site.id)) return false;
  if (r.jurisdiction && !inJurisdiction(site.country, r.jurisdiction)) return false;
  if (r.countries && r.countries.length > 0 && !r.countries.includes(site.country)) return false;
  if (
    r.maxCarbonGPerKwh !== undefined &&
    site.carbonGPerKwh !== undefined &&
    site.carbonGPerKwh > r.maxCarbonGPerKwh
  )
    return false;
  const image = effectiveImage(site, r.image);
  if (image !== undefined && imageRefusal(site, image) !== null) return false;
  return true;
}

/**
 * True when a node class that does (`images`) or does not run container images can run the
 * request at the site: a job with an image (its own or the site's default) needs an image-running
 * node; a job with neither runs anywhere (as a host process, or in the agent's own default image).
 */
export function classRuns(site: SiteView, images: boolean, r: JobRequest): boolean {
  return images || effectiveImage(site, r.image) === undefined;
}

/** True when a node class on `fabric` ("" when unlabelled) is on the fabric the request requires (if any). */
export function fabricFits(fabric: string, r: JobRequest): boolean {
  return r.fabric === undefined || fabric === r.fabric;
}

/** Number of set bits. */
export function popcount(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
