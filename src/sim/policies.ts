import { INDEX_LEVELS, queueRule } from "../scheduler/index.js";
import type { GittinsOptions, QueueRule } from "../scheduler/index.js";

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

/**
 * The rule a simulator policy runs: the control plane's own rule (src/scheduler/queue-policy.ts)
 * for every policy but srtf-oracle, the clairvoyant bound, which alone is given the remaining
 * GPU-seconds of a job (from the trace) through `remainingGpuS`.
 */
export function levelRule(
  p: SimPolicyName,
  remainingGpuS?: (job: number) => number,
  opts: Partial<GittinsOptions> = {},
): QueueRule {
  switch (p) {
    case "srtf-oracle": {
      if (!remainingGpuS) throw new Error("srtf-oracle needs the trace's remaining GPU-seconds");
      return {
        preemptive: true,
        reserveHead: false,
        strict: false,
        levels: INDEX_LEVELS,
        preemptMargin: 1,
        minRunS: 0,
        level: (v) =>
          Math.min(INDEX_LEVELS - 1, Math.max(0, Math.floor(Math.log2(Math.max(1, remainingGpuS(v.job)))))),
        // Look again when the remaining GPU-seconds drop below the next power of two.
        nextCheck: (v) => {
          const r = remainingGpuS(v.job);
          if (r <= 1) return Infinity;
          const b = 2 ** Math.floor(Math.log2(r));
          return v.attainedGpuS + (r - (r > b ? b : b / 2)) + 1e-6;
        },
        onFinish: () => null,
      };
    }
    case "zumbido-carbon":
      return queueRule("zumbido", opts);
    default:
      return queueRule(p, opts);
  }
}
