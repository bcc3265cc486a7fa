import { gittinsRule, INDEX_LEVELS, queueRule } from "../scheduler/index.js";
import type { GittinsOptions, QueueRule } from "../scheduler/index.js";

/** A job's service as a distribution sample: its class and total GPU-seconds, not which job it is. */
export interface ServiceSample {
  tenant: string;
  gpus: number;
  serviceGpuS: number;
}

/** Simulator policies. */
export const SIM_POLICIES = [
  "fifo",
  "fifo-backfill",
  "las",
  "srtf-oracle",
  "zumbido",
  "zumbido-carbon",
  "zumbido-hindsight",
  "zumbido-clairvoyant",
] as const;
/** A simulator policy name. */
export type SimPolicyName = (typeof SIM_POLICIES)[number];

/**
 * The rule a simulator policy runs: the control plane's own rule (src/scheduler/queue-policy.ts)
 * for every policy but the bounds. srtf-oracle, the clairvoyant bound, is given the remaining
 * GPU-seconds of a job (from the trace) through `remainingGpuS`. zumbido-hindsight is the
 * zumbido rule told the whole trace's service distribution per class up front (`hindsight`: every
 * job's class and GPU-seconds, none of them tied to a job), and learning nothing more: what a
 * perfect learner of the distribution would give, still blind to which job is which.
 * zumbido-clairvoyant is the zumbido rule (margins, cost test, checkpoint alignment, return
 * margin) on srtf-oracle's levels, so also reads `remainingGpuS`: what the rule's machinery gives
 * or costs when the levels are exact.
 */
export function levelRule(
  p: SimPolicyName,
  remainingGpuS?: (job: number) => number,
  opts: Partial<GittinsOptions> = {},
  hindsight?: () => ServiceSample[],
): QueueRule {
  switch (p) {
    case "zumbido-hindsight": {
      if (!hindsight) throw new Error("zumbido-hindsight needs the trace's service distribution");
      const samples = hindsight();
      // Every sample is kept (no sliding window) and no censored sample is needed: nothing is unknown.
      const rule = gittinsRule({ ...opts, window: Math.max(1, samples.length) });
      rule.learner.addMany(samples);
      const fixed: QueueRule = { ...rule, onFinish: () => null };
      delete fixed.watchUnfinished;
      return fixed;
    }
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
    case "zumbido-clairvoyant": {
      // The zumbido rule's margins, cost test and checkpoint alignment on srtf-oracle's levels.
      const oracle = levelRule("srtf-oracle", remainingGpuS, opts);
      const told: QueueRule = {
        ...gittinsRule(opts),
        level: (v) => oracle.level(v),
        nextCheck: (v) => oracle.nextCheck(v),
        onFinish: () => null,
      };
      delete told.watchUnfinished;
      return told;
    }
    case "zumbido-carbon":
      return queueRule("zumbido", opts);
    default:
      return queueRule(p, opts);
  }
}
