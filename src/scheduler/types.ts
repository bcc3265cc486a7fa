import type { JobClass, JobRequest, Minor } from "../domain/index.js";
import type { QueuePolicyName } from "./queue-policy.js";

/** A site as the scheduler sees it in one cycle. */
export interface SiteView {
  id: string;
  name: string;
  country: string;
  pue: number;
  /** Facility power the site may draw now, kW (contracted minus curtailment). */
  powerCapKw: number;
  /** Per-node IT overhead in watts. */
  nodeOverheadW: number;
  /** Grid carbon intensity now, gCO2e/kWh (undefined when unknown). */
  carbonGPerKwh?: number;
  /** Prices per GPU model id. */
  prices: Record<string, { onDemandMinorPerGpuHour: Minor; interruptibleMinorPerGpuHour: Minor }>;
  /** Image a job that names none runs in here (undefined: none). */
  defaultImage?: string;
  /** Glob patterns: when non-empty, only matching images run here. */
  allowImages?: string[];
  /** Glob patterns of images that never run here. */
  denyImages?: string[];
}

/** A node as the scheduler sees it. */
export interface NodeView {
  id: string;
  siteId: string;
  gpuModel: string;
  gpuMemoryGb: number;
  /** GPU indices on the node that are healthy. */
  gpuIndices: number[];
  /** Per-GPU power used for budgets, watts (TDP or measured). */
  gpuPowerW: number;
  /** False when draining, offline or unhealthy: no new work. */
  schedulable: boolean;
  /** The node's executor runs container images (podman, Kubernetes); false or absent: host processes only. */
  runsImages?: boolean;
  /** Cluster-network fabric label; a gang spanning nodes stays inside one fabric (absent: unlabelled). */
  fabric?: string;
  /** Switch group on that fabric; a gang prefers fewer switch groups. */
  switchGroup?: string;
}

/** A running (or assigned) lease. */
export interface LeaseView {
  id: string;
  jobId: string;
  tenantId: string;
  nodeId: string;
  siteId: string;
  gpuIndices: number[];
  class: JobClass;
  priceMinorPerGpuHour: Minor;
  startedAt: number;
  /** A stop was already requested (preemption notice sent). */
  stopping?: boolean;
  /** GPU-seconds the lease's job has held so far, all its leases (default: this lease since startedAt). */
  attainedGpuS?: number;
  /** GPUs of the lease's whole job (default: this lease's GPUs). */
  jobGpus?: number;
  /**
   * When this lease last saved the job's work (its newest checkpoint, written during this lease;
   * epoch ms, at most now). A preemption loses the work since then; absent: since startedAt.
   */
  savedAt?: number;
}

/** GPUs being vacated for a preemptor: only that job may take them (a preempted job never retakes them). */
export interface ReservationView {
  jobId: string;
  nodeId: string;
  gpuIndices: number[];
}

/** Everything one cycle decides on; a copy, never mutated by the scheduler. */
export interface Snapshot {
  sites: SiteView[];
  nodes: NodeView[];
  leases: LeaseView[];
  /** GPUs held for the pending jobs that preempted their last holders. */
  reservations?: ReservationView[];
  /** GPU-seconds used so far per tenant (fair share), optional. */
  tenantUsageGpuS?: Record<string, number>;
  /** Recently finished jobs (oldest first) and the GPU-seconds each held: the queue policy learns from them. */
  finishedService?: { tenantId: string; gpus: number; serviceGpuS: number }[];
}

/** A job waiting for placement. */
export interface PendingJob {
  id: string;
  tenantId: string;
  submittedAt: number;
  request: JobRequest;
  /** GPU-seconds it held before it was preempted and requeued (0 for a new job). */
  attainedGpuS?: number;
  /**
   * Where the job's last checkpoint is (a requeued job): its site is preferred when it fits there,
   * and that node inside it. A soft preference: the job's own constraints still decide where it may run.
   */
  checkpoint?: { siteId: string; nodeId: string };
}

/** Scheduling policy knobs. */
export interface Policy {
  /** Weight of price in site choice (higher: cheaper wins). */
  priceWeight: number;
  /** Weight of carbon intensity in site choice. */
  carbonWeight: number;
  /** Weight of packing (best fit) in node choice. */
  packingWeight: number;
  /** Allow on-demand work to preempt interruptible work. */
  preemption: boolean;
  /** Grace period given with a checkpoint notice, seconds. */
  preemptionGraceS: number;
  /** Tenant weights for fair share (default 1). */
  tenantWeights?: Record<string, number>;
  /** Keep the first blocked job's nodes for it so later jobs backfill only elsewhere (default true). */
  backfill?: boolean;
  /** Queue policy (src/scheduler/queue-policy.ts, the one the simulator runs; default "zumbido"). */
  queue?: QueuePolicyName;
}

/** The policy the control plane uses unless configured otherwise. */
export const DEFAULT_POLICY: Policy = {
  priceWeight: 1,
  carbonWeight: 0.2,
  packingWeight: 0.5,
  preemption: true,
  preemptionGraceS: 30,
};

/** GPUs of one node given to a job. */
export interface NodePlacement {
  nodeId: string;
  gpuIndices: number[];
}

/** The scheduler's answer for one job. */
export type Decision =
  | {
      kind: "place";
      jobId: string;
      siteId: string;
      gpuModel: string;
      placements: NodePlacement[];
      priceMinorPerGpuHour: Minor;
      /** Why this site and these GPUs, in words. */
      reasons: string[];
    }
  | {
      kind: "preempt";
      /** The lease to stop (with a checkpoint notice). */
      leaseId: string;
      /** The job that needs its GPUs. */
      forJobId: string;
      graceS: number;
      reason: string;
    }
  | {
      kind: "wait";
      jobId: string;
      /** Why nothing fits, in words a tenant reads verbatim. */
      reasons: string[];
    };

/** The scheduler interface: pure, deterministic. */
export type ScheduleFn = (
  snapshot: Snapshot,
  pending: PendingJob[],
  policy: Policy,
  now: number,
) => Decision[];
