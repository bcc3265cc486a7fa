import type { Fleet } from "./fleet.js";
import { replay } from "./engine.js";
import type { SimRun } from "./engine.js";
import { checkReplay } from "./checker.js";
import type { SimPolicyName } from "./policies.js";
import { SIM_POLICIES } from "./policies.js";
import { summarise } from "./result.js";
import type { SimResult } from "./result.js";
import type { TraceJob } from "./trace.js";

/** What one `zumbido sim` invocation asks for. */
export interface SimRequest {
  trace: TraceJob[];
  fleet: Fleet;
  policies: SimPolicyName[];
  onProgress?: (policy: SimPolicyName, finished: number, total: number) => void;
}

/** Checks a policy name; throws a message listing the valid ones. */
export function parsePolicy(p: string): SimPolicyName {
  if (!(SIM_POLICIES as readonly string[]).includes(p))
    throw new Error(`unknown policy "${p}"; use one of ${SIM_POLICIES.join(", ")}`);
  return p as SimPolicyName;
}

/** Replays the trace once per policy, checks each replay, and summarises it. */
export function runSimulation(req: SimRequest): { result: SimResult; run: SimRun }[] {
  return req.policies.map((policy) => {
    const run = replay(req.trace, req.fleet, {
      policy,
      onProgress: (f, t) => req.onProgress?.(policy, f, t),
    });
    const violations = checkReplay(req.fleet, req.trace, run.log);
    return { result: summarise(run, violations.length), run };
  });
}
