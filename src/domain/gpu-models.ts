/** Who makes a GPU. */
export type GpuVendor = "nvidia" | "amd" | "intel";

/** One GPU model of the catalogue: what placement, pricing and energy need to know. */
export interface GpuModel {
  /** Canonical id used everywhere in the API, e.g. "H100". */
  readonly id: string;
  readonly vendor: GpuVendor;
  /** Human name as vendors write it. */
  readonly name: string;
  readonly memoryGb: number;
  /** Board power limit (TDP) in watts, the figure the power budget uses when nothing is measured. */
  readonly tdpW: number;
  /** Throughput relative to an A100 (1.0) on dense bf16 training; used to compare offers. */
  readonly relThroughput: number;
  /** Lower-case substrings that identify this model in `nvidia-smi --query-gpu=name` output. */
  readonly smiPatterns: readonly string[];
}

const MODELS: readonly GpuModel[] = [
  {
    id: "H200",
    vendor: "nvidia",
    name: "NVIDIA H200 SXM 141GB",
    memoryGb: 141,
    tdpW: 700,
    relThroughput: 3.3,
    smiPatterns: ["h200"],
  },
  {
    id: "H100",
    vendor: "nvidia",
    name: "NVIDIA H100 SXM 80GB",
    memoryGb: 80,
    tdpW: 700,
    relThroughput: 3.0,
    smiPatterns: ["h100 80gb hbm3", "h100 sxm", "h100-sxm"],
  },
  {
    id: "H100-PCIE",
    vendor: "nvidia",
    name: "NVIDIA H100 PCIe 80GB",
    memoryGb: 80,
    tdpW: 350,
    relThroughput: 2.3,
    smiPatterns: ["h100 pcie", "h100-pcie", "h100 nvl"],
  },
  {
    id: "B200",
    vendor: "nvidia",
    name: "NVIDIA B200 180GB",
    memoryGb: 180,
    tdpW: 1000,
    relThroughput: 6.0,
    smiPatterns: ["b200"],
  },
  {
    id: "A100",
    vendor: "nvidia",
    name: "NVIDIA A100 SXM 80GB",
    memoryGb: 80,
    tdpW: 400,
    relThroughput: 1.0,
    smiPatterns: ["a100-sxm4-80gb", "a100 80gb", "a100-sxm", "a100"],
  },
  {
    id: "A100-40",
    vendor: "nvidia",
    name: "NVIDIA A100 40GB",
    memoryGb: 40,
    tdpW: 400,
    relThroughput: 1.0,
    smiPatterns: ["a100-sxm4-40gb", "a100-pcie-40gb", "a100 40gb"],
  },
  {
    id: "L40S",
    vendor: "nvidia",
    name: "NVIDIA L40S 48GB",
    memoryGb: 48,
    tdpW: 350,
    relThroughput: 1.1,
    smiPatterns: ["l40s"],
  },
  {
    id: "A10",
    vendor: "nvidia",
    name: "NVIDIA A10 24GB",
    memoryGb: 24,
    tdpW: 150,
    relThroughput: 0.4,
    smiPatterns: ["a10"],
  },
  {
    id: "RTX4090",
    vendor: "nvidia",
    name: "NVIDIA GeForce RTX 4090 24GB",
    memoryGb: 24,
    tdpW: 450,
    relThroughput: 0.8,
    smiPatterns: ["rtx 4090"],
  },
  {
    id: "RTX3090",
    vendor: "nvidia",
    name: "NVIDIA GeForce RTX 3090 24GB",
    memoryGb: 24,
    tdpW: 350,
    relThroughput: 0.45,
    smiPatterns: ["rtx 3090"],
  },
  {
    id: "V100",
    vendor: "nvidia",
    name: "NVIDIA Tesla V100 32GB",
    memoryGb: 32,
    tdpW: 300,
    relThroughput: 0.35,
    smiPatterns: ["v100"],
  },
];

const BY_ID = new Map(MODELS.map((m) => [m.id, m]));
const BY_LOWER = new Map(MODELS.map((m) => [m.id.toLowerCase(), m]));

/** All known GPU models, most capable first. */
export function gpuModels(): readonly GpuModel[] {
  return MODELS;
}

/** The model with this id (case-insensitive), or undefined. */
export function findGpuModel(id: string): GpuModel | undefined {
  return BY_ID.get(id) ?? BY_LOWER.get(id.toLowerCase());
}

/** The model with this id; throws a list of valid ids when unknown. */
export function gpuModel(id: string): GpuModel {
  const m = findGpuModel(id);
  if (!m) throw new Error(`unknown GPU model "${id}"; known models: ${MODELS.map((x) => x.id).join(", ")}`);
  return m;
}

/** Maps an nvidia-smi product name (e.g. "NVIDIA H100 80GB HBM3") to a catalogue id, or undefined. */
export function gpuModelFromSmiName(name: string): GpuModel | undefined {
  const best = longestMatch(MODELS, name);
  if (best) return best;
  if (name.toLowerCase().includes("h100")) return BY_ID.get("H100");
  return undefined;
}

/** The model whose longest pattern occurs in the name, so "a100-sxm4-40gb" wins over "a100". */
function longestMatch(models: readonly GpuModel[], name: string): GpuModel | undefined {
  const lower = name.toLowerCase();
  let best: { m: GpuModel; len: number } | undefined;
  for (const m of models) {
    for (const p of m.smiPatterns) {
      if (lower.includes(p) && (!best || p.length > best.len)) best = { m, len: p.length };
    }
  }
  return best?.m;
}

/** The GPU catalogue in force: the built-in models plus the operator-defined ones an admin approved. */
export interface GpuCatalogue {
  /** Every model, built-in first. */
  all: () => readonly GpuModel[];
  /** The model with this id (case-insensitive), or undefined. */
  find: (id: string) => GpuModel | undefined;
  /** The model a driver's product name names: built-in patterns first, then approved ones. */
  fromDeviceName: (name: string) => GpuModel | undefined;
}

/** The catalogue of the built-in models and these approved operator-defined ones (built-in ids win). */
export function gpuCatalogue(approved: readonly GpuModel[] = []): GpuCatalogue {
  const extra = approved.filter((m) => !findGpuModel(m.id));
  const byLower = new Map(extra.map((m) => [m.id.toLowerCase(), m]));
  const all = [...MODELS, ...extra];
  return {
    all: () => all,
    find: (id) => findGpuModel(id) ?? byLower.get(id.toLowerCase()),
    fromDeviceName: (name) => gpuModelFromSmiName(name) ?? longestMatch(extra, name),
  };
}
