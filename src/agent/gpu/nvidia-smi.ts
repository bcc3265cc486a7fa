import { gpuModel, gpuModelFromSmiName } from "../../domain/index.js";
import { parseSmiCsv, runSmi, smiNumber } from "./smi-run.js";
import type { SmiResult } from "./smi-run.js";

/** The fields discovery asks for, in this order. */
export const DISCOVERY_FIELDS = [
  "index",
  "uuid",
  "name",
  "memory.total",
  "power.limit",
  "driver_version",
  "pci.bus_id",
] as const;

/** One GPU of this node as the agent reports it. */
export interface GpuInfo {
  index: number;
  uuid: string;
  /** Product name as nvidia-smi prints it, e.g. "NVIDIA H100 80GB HBM3". */
  name: string;
  /** Catalogue id ("H100", "L40S"), or undefined when the catalogue does not know the card. */
  modelId?: string;
  memoryMiB?: number;
  /** Board power limit in W; undefined where the card does not report one ([N/A]). */
  powerLimitW?: number;
  driverVersion?: string;
  pciBusId?: string;
  /** True for GPUs made up by simulatedGpus(). */
  simulated?: boolean;
}

/** GPUs found, plus lines that could not be read (with the reason). */
export interface Discovery {
  gpus: GpuInfo[];
  warnings: string[];
}

const text = (f: string | undefined): string | undefined =>
  f === undefined || f === "" || f.startsWith("[") ? undefined : f;

/** Parses `nvidia-smi --query-gpu=<DISCOVERY_FIELDS> --format=csv,noheader,nounits` output. */
export function parseDiscovery(csv: string): Discovery {
  const gpus: GpuInfo[] = [];
  const warnings: string[] = [];
  for (const row of parseSmiCsv(csv)) {
    // A product name never holds a comma, so a row has exactly 7 fields.
    if (row.length !== DISCOVERY_FIELDS.length) {
      warnings.push(
        `skipped a line with ${row.length} fields instead of ${DISCOVERY_FIELDS.length}: "${row.join(", ")}"`,
      );
      continue;
    }
    const [idx, uuid, name, mem, plimit, driver, bus] = row;
    const index = smiNumber(idx);
    if (index === undefined || !Number.isInteger(index) || !uuid || !name) {
      warnings.push(`skipped a line without index, uuid or name: "${row.join(", ")}"`);
      continue;
    }
    const model = gpuModelFromSmiName(name);
    if (!model)
      warnings.push(`GPU ${index} "${name}" is not in the catalogue; it is reported without a model id`);
    gpus.push({
      index,
      uuid,
      name,
      modelId: model?.id,
      memoryMiB: smiNumber(mem),
      powerLimitW: smiNumber(plimit),
      driverVersion: text(driver),
      pciBusId: text(bus),
    });
  }
  gpus.sort((a, b) => a.index - b.index);
  return { gpus, warnings };
}

/** Runs nvidia-smi discovery; "absent" means no NVIDIA driver here, which is not an error for a CPU node. */
export async function discoverGpus(
  opts: { bin?: string; timeoutMs?: number } = {},
): Promise<{ ok: true; discovery: Discovery } | Extract<SmiResult, { ok: false }>> {
  const r = await runSmi(
    [`--query-gpu=${DISCOVERY_FIELDS.join(",")}`, "--format=csv,noheader,nounits"],
    opts,
  );
  if (!r.ok) return r;
  return { ok: true, discovery: parseDiscovery(r.stdout) };
}

/**
 * Made-up GPUs for nodes without NVIDIA hardware (demos, tests, the simulator): "H100x8" or
 * "A100x4,L40Sx2" (catalogue ids, case-insensitive). Indices run on across groups; uuids are stable.
 */
export function simulatedGpus(spec: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const part of spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(.+?)x(\d+)$/i.exec(part);
    if (!m)
      throw new Error(`simulated GPUs "${spec}": write <model>x<count>, e.g. "H100x8" or "A100x4,L40Sx2"`);
    const model = gpuModel(m[1]!); // throws listing the known ids
    const count = Number(m[2]);
    if (count < 1 || count > 64) throw new Error(`simulated GPUs "${part}": count must be 1..64`);
    for (let i = 0; i < count; i++) {
      const index = out.length;
      const hex = index.toString(16).padStart(2, "0");
      out.push({
        index,
        uuid: `GPU-51a0b7ed-0000-4000-8000-0000000000${hex}`,
        name: model.name,
        modelId: model.id,
        memoryMiB: model.memoryGb * 1024,
        powerLimitW: model.tdpW,
        driverVersion: "simulated",
        pciBusId: `00000000:${hex}:00.0`,
        simulated: true,
      });
    }
  }
  if (out.length === 0) throw new Error(`simulated GPUs "${spec}": give at least one group, e.g. "H100x8"`);
  return out;
}
