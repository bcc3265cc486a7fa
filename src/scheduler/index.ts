export * from "./types.js";
export { scheduleBasic, freeGpus, priceAt, siteRejection } from "./basic.js";
export { ClusterState } from "./cluster-state.js";
export { siteAllows, staticScore } from "./placement-rules.js";
export type { Candidate } from "./cluster-state.js";
export {
  scheduleFast,
  stateFromSnapshot,
  requestProblem,
  planPreemption,
  reserveForHead,
} from "./schedule.js";
export { scheduleReference, referencePlacement } from "./reference.js";
export { explainNoFit } from "./explain.js";
export { fairShareOrder, FAIR_SHARE_HORIZON_S } from "./fair-share.js";
import { scheduleFast } from "./schedule.js";
import type { ScheduleFn } from "./types.js";

/** The scheduler the control plane uses: the fast indexed scheduler. */
export const schedule: ScheduleFn = scheduleFast;
export {
  QUEUE_POLICIES,
  INDEX_LEVELS,
  GITTINS_DEFAULTS,
  ServiceLearner,
  gittinsRule,
  indexLevel,
  queueRule,
  queueRuleFromHistory,
  orderByRule,
  chooseVictims,
  cheaperPreemption,
  preemptionCost,
  marginOf,
  minMarginOf,
} from "./queue-policy.js";
export type {
  QueueJobView,
  QueueRule,
  QueuePolicyName,
  GittinsOptions,
  UnfinishedJob,
  VictimView,
  PreemptionCost,
} from "./queue-policy.js";
export { runPass, WaitQueue, PLACED, NO_FIT, PASSED } from "./pass.js";
export type { PassCluster, FairShare, Turn } from "./pass.js";
