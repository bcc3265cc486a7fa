import { findGpuModel, type GpuModel } from "./gpu-models.js";
import type { Gpu } from "./types.js";

/** Board power assumed for a GPU whose limit is unknown and whose model is not in the catalogue, watts. */
export const FALLBACK_GPU_POWER_W = 700;

/** Looks a GPU model up by id (the built-in catalogue by default). */
export type GpuModelLookup = (id: string) => Pick<GpuModel, "tdpW"> | undefined;

/**
 * The one GPU power rule (budgets, spot prices, console estimates): the board limit the agent
 * reported, else the catalogue TDP of the model, else 700 W.
 */
export function gpuPowerW(
  gpu: Pick<Gpu, "model" | "powerLimitW"> | undefined,
  lookup: GpuModelLookup = findGpuModel,
): number {
  if (!gpu) return 0;
  if (gpu.powerLimitW > 0) return gpu.powerLimitW;
  return modelPowerW(gpu.model, lookup);
}

/** Catalogue power of a GPU model, watts (700 W when the model is unknown). */
export function modelPowerW(model: string, lookup: GpuModelLookup = findGpuModel): number {
  const tdp = lookup(model)?.tdpW;
  return tdp !== undefined && tdp > 0 ? tdp : FALLBACK_GPU_POWER_W;
}

/** Per-GPU power of a node (its GPUs are one model): the rule of gpuPowerW on its first GPU; 0 without GPUs. */
export function nodeGpuPowerW(
  node: { gpus: readonly Pick<Gpu, "model" | "powerLimitW">[] },
  lookup: GpuModelLookup = findGpuModel,
): number {
  return gpuPowerW(node.gpus[0], lookup);
}
