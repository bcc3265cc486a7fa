import { findGpuModel } from "../domain/index.js";
import type { NodeView, SiteView } from "../scheduler/index.js";

/** Sites and nodes the simulator replays on. */
export interface Fleet {
  sites: SiteView[];
  nodes: NodeView[];
}

/** A fleet description file (JSON). */
export interface FleetSpec {
  sites: {
    id: string;
    name?: string;
    country?: string;
    pue?: number;
    powerCapKw?: number;
    nodeOverheadW?: number;
    carbonGPerKwh?: number;
    prices?: Record<string, { onDemand: number; interruptible: number }>;
    nodes: { count?: number; gpus: number; model: string; gpuPowerW?: number; memoryGb?: number }[];
  }[];
}

/** A fleet-file error naming the field. */
export class FleetError extends Error {}

/** N GPUs as 8-GPU nodes (the last one smaller when N is not a multiple of 8) of one model in one site. */
export function uniformFleet(gpus: number, model = "H100", pue = 1.2): Fleet {
  if (!Number.isInteger(gpus) || gpus < 1)
    throw new FleetError(`--gpus must be a whole number of at least 1, got ${gpus}`);
  const m = findGpuModel(model);
  const site: SiteView = {
    id: "sim",
    name: "sim",
    country: "ES",
    pue,
    powerCapKw: 0,
    nodeOverheadW: 0,
    prices: { [model]: { onDemandMinorPerGpuHour: 200, interruptibleMinorPerGpuHour: 100 } },
  };
  const nodes: NodeView[] = [];
  for (let left = gpus, k = 0; left > 0; k++) {
    const n = Math.min(8, left);
    left -= n;
    nodes.push({
      id: `n${String(k).padStart(5, "0")}`,
      siteId: "sim",
      gpuModel: model,
      gpuMemoryGb: m?.memoryGb ?? 80,
      gpuIndices: Array.from({ length: n }, (_, i) => i),
      gpuPowerW: m?.tdpW ?? 700,
      schedulable: true,
    });
  }
  site.powerCapKw = (gpus * (m?.tdpW ?? 700) * pue) / 1000 + 1;
  return { sites: [site], nodes };
}

/** Parses and checks a fleet description. */
export function parseFleet(json: string): Fleet {
  let spec: FleetSpec;
  try {
    spec = JSON.parse(json) as FleetSpec;
  } catch (e) {
    throw new FleetError(`fleet file is not valid JSON: ${(e as Error).message}`);
  }
  if (!spec || !Array.isArray(spec.sites) || spec.sites.length === 0)
    throw new FleetError("fleet.sites must be a non-empty array");
  const sites: SiteView[] = [];
  const nodes: NodeView[] = [];
  spec.sites.forEach((s, si) => {
    const at = `fleet.sites[${si}]`;
    if (typeof s.id !== "string" || !s.id) throw new FleetError(`${at}.id must be a non-empty string`);
    if (!Array.isArray(s.nodes) || s.nodes.length === 0)
      throw new FleetError(`${at}.nodes must be a non-empty array`);
    const pue = s.pue ?? 1.2;
    if (!(pue >= 1)) throw new FleetError(`${at}.pue must be at least 1, got ${pue}`);
    const prices: SiteView["prices"] = {};
    let fullW = 0;
    s.nodes.forEach((n, ni) => {
      const m = findGpuModel(n.model);
      if (!m) throw new FleetError(`${at}.nodes[${ni}].model "${n.model}" is not a known GPU model`);
      if (!Number.isInteger(n.gpus) || n.gpus < 1 || n.gpus > 32)
        throw new FleetError(`${at}.nodes[${ni}].gpus must be a whole number from 1 to 32`);
      const count = n.count ?? 1;
      for (let k = 0; k < count; k++) {
        nodes.push({
          id: `${s.id}-${ni}-${k}`,
          siteId: s.id,
          gpuModel: m.id,
          gpuMemoryGb: n.memoryGb ?? m.memoryGb,
          gpuIndices: Array.from({ length: n.gpus }, (_, i) => i),
          gpuPowerW: n.gpuPowerW ?? m.tdpW,
          schedulable: true,
        });
        fullW += n.gpus * (n.gpuPowerW ?? m.tdpW) + (s.nodeOverheadW ?? 0);
      }
      const p = s.prices?.[n.model] ?? s.prices?.[m.id];
      prices[m.id] = p
        ? { onDemandMinorPerGpuHour: p.onDemand, interruptibleMinorPerGpuHour: p.interruptible }
        : { onDemandMinorPerGpuHour: 200, interruptibleMinorPerGpuHour: 100 };
    });
    sites.push({
      id: s.id,
      name: s.name ?? s.id,
      country: s.country ?? "ES",
      pue,
      powerCapKw: s.powerCapKw ?? (fullW * pue) / 1000 + 1,
      nodeOverheadW: s.nodeOverheadW ?? 0,
      ...(s.carbonGPerKwh !== undefined ? { carbonGPerKwh: s.carbonGPerKwh } : {}),
      prices,
    });
  });
  return { sites, nodes };
}
