/**
 * Hardware catalogues of the planner: ASIC miners and GPU servers, with public spec-sheet figures.
 * Sources are the makers' published specifications (Bitmain Antminer, MicroBT Whatsminer, NVIDIA
 * DGX system power); prices are rounded public street figures and only defaults: scenarios override them.
 */

/** One ASIC miner model: hashrate and wall power as the maker publishes them. */
export interface AsicModel {
  readonly id: string;
  readonly name: string;
  /** Hashrate in TH/s. */
  readonly ths: number;
  /** Power at the wall in watts (the maker's figure, PSU losses included). */
  readonly watts: number;
}

const ASICS: readonly AsicModel[] = [
  { id: "S19j Pro", name: "Bitmain Antminer S19j Pro 104T", ths: 104, watts: 3068 },
  { id: "S19 XP", name: "Bitmain Antminer S19 XP", ths: 140, watts: 3010 },
  { id: "S21", name: "Bitmain Antminer S21", ths: 200, watts: 3500 },
  { id: "S21 Pro", name: "Bitmain Antminer S21 Pro", ths: 234, watts: 3510 },
  { id: "S21 XP", name: "Bitmain Antminer S21 XP", ths: 270, watts: 3645 },
  // MicroBT publishes efficiency bands; 100 TH/s at 34 J/TH and 186 TH/s at 18.5 J/TH.
  { id: "M30S+", name: "MicroBT Whatsminer M30S+", ths: 100, watts: 3400 },
  { id: "M60S", name: "MicroBT Whatsminer M60S", ths: 186, watts: 3441 },
];

const norm = (s: string): string => s.toLowerCase().replace(/[\s_-]+/g, "");
const ASIC_BY_KEY = new Map(ASICS.map((a) => [norm(a.id), a]));

/** All catalogue ASICs. */
export function asicModels(): readonly AsicModel[] {
  return ASICS;
}

/** The ASIC with this id ("S21", "s21-pro", "M30S+"), case and separators ignored; undefined when unknown. */
export function findAsic(id: string): AsicModel | undefined {
  return ASIC_BY_KEY.get(norm(id));
}

/** Efficiency in joules per terahash (= W per TH/s). */
export function asicJPerTh(a: Pick<AsicModel, "ths" | "watts">): number {
  return a.watts / a.ths;
}

/** One GPU model as the planner sees it: power per GPU with its server share, and default prices. */
export interface PlannerGpu {
  readonly id: string;
  /** Board power (TDP) in watts. */
  readonly tdpW: number;
  /** IT watts per GPU including its share of the server (CPUs, fans, NICs): NVIDIA DGX max system power / 8. */
  readonly itWattsPerGpu: number;
  /** Default purchase price of one GPU (USD). */
  readonly gpuUsd: number;
  /** Default share of the server chassis, CPUs, memory, storage per GPU (USD). */
  readonly serverUsdPerGpu: number;
  /** Default on-demand price per GPU-hour (USD) a small cloud can ask. */
  readonly priceUsdPerGpuHour: number;
}

const GPUS: readonly PlannerGpu[] = [
  // DGX H100 and DGX H200: 10.2 kW max for 8 GPUs -> 1,275 W per GPU.
  {
    id: "H100",
    tdpW: 700,
    itWattsPerGpu: 1275,
    gpuUsd: 25_000,
    serverUsdPerGpu: 10_000,
    priceUsdPerGpuHour: 2.2,
  },
  {
    id: "H200",
    tdpW: 700,
    itWattsPerGpu: 1275,
    gpuUsd: 30_000,
    serverUsdPerGpu: 10_000,
    priceUsdPerGpuHour: 2.8,
  },
  // DGX B200: 14.3 kW max for 8 GPUs -> 1,788 W per GPU.
  {
    id: "B200",
    tdpW: 1000,
    itWattsPerGpu: 1788,
    gpuUsd: 40_000,
    serverUsdPerGpu: 12_000,
    priceUsdPerGpuHour: 4.0,
  },
  // DGX A100: 6.5 kW max for 8 GPUs -> 813 W per GPU.
  {
    id: "A100",
    tdpW: 400,
    itWattsPerGpu: 813,
    gpuUsd: 10_000,
    serverUsdPerGpu: 5_000,
    priceUsdPerGpuHour: 1.1,
  },
];
const GPU_BY_KEY = new Map<string, PlannerGpu>(GPUS.map((g) => [norm(g.id), g]));
for (const [alias, id] of [
  ["H100 SXM", "H100"],
  ["H200 SXM", "H200"],
  ["A100 SXM", "A100"],
] as const) {
  const g = GPU_BY_KEY.get(norm(id));
  if (g) GPU_BY_KEY.set(norm(alias), g);
}

/** All GPU models the planner knows. */
export function plannerGpus(): readonly PlannerGpu[] {
  return GPUS;
}

/** The planner GPU with this id ("H100", "h100-sxm"), case and separators ignored; undefined when unknown. */
export function findPlannerGpu(id: string): PlannerGpu | undefined {
  return GPU_BY_KEY.get(norm(id));
}
