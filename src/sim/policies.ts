/** Simulator policies. */
export const SIM_POLICIES = [
  "fifo",
  "fifo-backfill",
  "las",
  "srtf-oracle",
  "zumbido",
  "zumbido-carbon",
] as const;
/** A simulator policy name. */
export type SimPolicyName = (typeof SIM_POLICIES)[number];

/** How a policy orders and preempts, in levels (0 first; FIFO by submit inside a level). */
export interface LevelRule {
  preemptive: boolean;
  /** Reserve nodes for the first blocked job so backfill never delays it. */
  reserveHead: boolean;
  /** Stop the pass at the first job that does not fit (strict FIFO). */
  strict: boolean;
  levels: number;
  /** Level of a job from attained GPU-seconds and (oracle only) remaining GPU-seconds. */
  level(attainedGpuS: number, remainingGpuS: number): number;
  /** Attained GPU-seconds at which a job leaves `level`, or Infinity. */
  nextThreshold(level: number): number;
}

/** Tiresias's discretised 2D-LAS: queues at 1 and 10 GPU-hours of attained service, FIFO inside. */
const LAS_THRESHOLDS = [3_600, 36_000];
/** Zumbido: fine-grained LAS, levels doubling from 5 GPU-minutes, plus head reservation. */
const Z_BASE = 300;
const Z_LEVELS = 20;

/** The level rule of a policy. */
export function levelRule(p: SimPolicyName): LevelRule {
  switch (p) {
    case "fifo":
      return {
        preemptive: false,
        reserveHead: false,
        strict: true,
        levels: 1,
        level: () => 0,
        nextThreshold: () => Infinity,
      };
    case "fifo-backfill":
      return {
        preemptive: false,
        reserveHead: true,
        strict: false,
        levels: 1,
        level: () => 0,
        nextThreshold: () => Infinity,
      };
    case "las":
      return {
        preemptive: true,
        reserveHead: false,
        strict: false,
        levels: LAS_THRESHOLDS.length + 1,
        level: (a) => {
          let l = 0;
          while (l < LAS_THRESHOLDS.length && a >= LAS_THRESHOLDS[l]!) l++;
          return l;
        },
        nextThreshold: (l) => LAS_THRESHOLDS[l] ?? Infinity,
      };
    case "srtf-oracle":
      return {
        preemptive: true,
        reserveHead: false,
        strict: false,
        levels: 48,
        level: (_a, rem) => Math.min(47, Math.max(0, Math.floor(Math.log2(Math.max(1, rem))))),
        nextThreshold: () => Infinity,
      };
    case "zumbido":
    case "zumbido-carbon":
      return {
        preemptive: true,
        reserveHead: true,
        strict: false,
        levels: Z_LEVELS,
        level: (a) => (a < Z_BASE ? 0 : Math.min(Z_LEVELS - 1, Math.floor(Math.log2(a / Z_BASE)) + 1)),
        nextThreshold: (l) => (l >= Z_LEVELS - 1 ? Infinity : Z_BASE * 2 ** l),
      };
  }
}
