// The wire contract: the shapes the API answers with and the agent exchanges, as zod schemas, and
// their TypeScript types derived with z.infer. One source for the server (response schemas), the
// CLI, the agent and the console. This module depends on zod only, so the console may import it.
import { z } from "zod";

/** A job's class. */
export const JobClass = z.enum(["on-demand", "interruptible"]);

/** A job's state. */
export const JobState = z.enum([
  "pending",
  "scheduled",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "preempted",
]);

/** What a job asks for (placement), as stored and answered. */
export const JobRequestView = z.object({
  gpuModels: z.array(z.string()),
  gpus: z.number(),
  gpusPerNode: z.number().optional(),
  minGpuMemoryGb: z.number().optional(),
  class: JobClass,
  maxPriceMinorPerGpuHour: z.number().optional(),
  jurisdiction: z.enum(["EU", "EEA"]).optional(),
  countries: z.array(z.string()).optional(),
  maxCarbonGPerKwh: z.number().optional(),
  runtimeEstimateS: z.number().optional(),
  deadlineAt: z.number().optional(),
  image: z.string().optional(),
  fabric: z.string().optional(),
  /** Sites the job may run at only (where its volumes are). */
  sites: z.array(z.string()).optional(),
});
/** What a job asks for. */
export type JobRequestView = z.infer<typeof JobRequestView>;

/** An interactive instance's declared ports and guardrails (seconds; absent: none). */
export const InstanceSpecView = z.object({
  ports: z.array(z.number()),
  maxDurationS: z.number().optional(),
  idleStopS: z.number().optional(),
});
/** An interactive instance's declared ports and guardrails. */
export type InstanceSpecView = z.infer<typeof InstanceSpecView>;

/** A tenant's defaults for new instances (GET/PUT /v1/settings/instances); null: none. */
export const InstanceDefaultsView = z.object({
  maxDurationS: z.number().nullable(),
  idleStopS: z.number().nullable(),
});
/** A tenant's defaults for new instances. */
export type InstanceDefaultsView = z.infer<typeof InstanceDefaultsView>;

/** How a job's workload runs. */
export const JobSpecView = z.object({
  command: z.array(z.string()),
  shell: z.boolean().optional(),
  env: z.record(z.string(), z.string()).optional(),
  /** Names of the job's secret env values; the values are never answered (only the lease's node gets them). */
  secretEnvNames: z.array(z.string()).optional(),
  /** The tenant's named registry secret the image is pulled with. */
  registrySecret: z.string().optional(),
  image: z.string().optional(),
  network: z.boolean().optional(),
  gracePeriodS: z.number().optional(),
  /** OpenSSH public keys the container gets as an authorized_keys file. */
  sshAuthorizedKeys: z.array(z.string()).optional(),
  /** Volumes mounted into the container. */
  volumes: z
    .array(z.object({ volumeId: z.string(), name: z.string(), mountPath: z.string(), readOnly: z.boolean() }))
    .optional(),
  /** It may start from an empty checkpoint folder when its checkpoint cannot be copied (else it waits). */
  freshIfCheckpointLost: z.boolean().optional(),
  /** Set when the job is an interactive instance (no natural end). */
  instance: InstanceSpecView.optional(),
});
/** How a job's workload runs. */
export type JobSpecView = z.infer<typeof JobSpecView>;

/** A job as GET /v1/jobs answers it. */
export const Job = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  request: JobRequestView,
  spec: JobSpecView,
  state: JobState,
  stateReason: z.string().nullable().optional(),
  reasons: z.array(z.string()),
  submittedAt: z.number(),
  startedAt: z.number().nullable().optional(),
  endedAt: z.number().nullable().optional(),
  exitCode: z.number().nullable().optional(),
});
/** A job as GET /v1/jobs answers it. */
export type Job = z.infer<typeof Job>;

/** One bill line: a lease's metered use and cost. */
export const Charge = z.object({
  leaseId: z.string(),
  jobId: z.string(),
  siteId: z.string(),
  country: z.string(),
  gpuModel: z.string(),
  gpus: z.number(),
  class: z.string(),
  priceMinorPerGpuHour: z.number(),
  gpuSeconds: z.number(),
  costMinor: z.number(),
  energyWh: z.number(),
  energySource: z.enum(["measured", "modelled", "none"]),
});
/** One bill line. */
export type Charge = z.infer<typeof Charge>;

/** A lease as a job's view shows it. */
export const LeaseView = z.object({
  id: z.string(),
  jobId: z.string(),
  siteId: z.string(),
  nodeId: z.string(),
  country: z.string(),
  gpuModel: z.string(),
  gpuIndices: z.array(z.number()),
  class: z.string(),
  state: z.string(),
  priceMinorPerGpuHour: z.number(),
  startedAt: z.number().nullable().optional(),
  endedAt: z.number().nullable().optional(),
});
/** A lease as a job's view shows it. */
export type LeaseView = z.infer<typeof LeaseView>;

/** GET /v1/jobs/:id: the job with its leases, usage and where it ran. */
export const JobView = Job.extend({
  leases: z.array(LeaseView.passthrough()),
  usage: z.object({
    gpuSeconds: z.number(),
    costMinor: z.number(),
    energyWh: z.number(),
    currency: z.string(),
    lines: z.array(Charge),
  }),
  placements: z.array(
    z.object({
      siteId: z.string(),
      siteName: z.string(),
      country: z.string(),
      nodeId: z.string(),
      from: z.number().nullable(),
      to: z.number().nullable(),
    }),
  ),
  /** Where the job's latest checkpoint is (as its node last reported it); absent when none was seen. */
  checkpoint: z
    .object({
      nodeId: z.string(),
      siteId: z.string(),
      country: z.string(),
      sizeBytes: z.number(),
      files: z.number(),
      savedAt: z.number(),
    })
    .optional(),
});
/** GET /v1/jobs/:id */
export type JobView = z.infer<typeof JobView>;

/** GET /v1/me */
export const Me = z.object({
  role: z.enum(["admin", "operator", "tenant", "node"]),
  ownerId: z.string().nullable(),
  name: z.string().nullable(),
  keyId: z.string(),
});
/** GET /v1/me */
export type Me = z.infer<typeof Me>;

/** One row of GET /v1/capacity: a site's offer for one GPU model, at the prices a new lease pays now. */
export const CapacityOffer = z.object({
  siteId: z.string(),
  siteName: z.string(),
  country: z.string(),
  gpuModel: z.string(),
  totalGpus: z.number(),
  freeGpus: z.number(),
  onDemandMinorPerGpuHour: z.number(),
  /** The spot price when the site has a power-price series, else the operator's floor. */
  interruptibleMinorPerGpuHour: z.number(),
  currency: z.string(),
  carbonGPerKwh: z.number().nullable(),
  jurisdictions: z.array(z.enum(["EU", "EEA"])),
  pue: z.number(),
});
/** One row of GET /v1/capacity. */
export type CapacityOffer = z.infer<typeof CapacityOffer>;

/** One model of GET /v1/gpu-models. */
export const GpuModelInfo = z.object({
  id: z.string(),
  name: z.string(),
  memoryGb: z.number(),
  tdpW: z.number(),
  relThroughput: z.number(),
});
/** One model of GET /v1/gpu-models. */
export type GpuModelInfo = z.infer<typeof GpuModelInfo>;

/** An operator-defined GPU model and its review (GET /v1/gpu-models/proposals). */
export const OperatorGpuModel = z.object({
  id: z.string(),
  vendor: z.enum(["nvidia", "amd", "intel"]),
  name: z.string(),
  memoryGb: z.number(),
  tdpW: z.number(),
  relThroughput: z.number(),
  /** Lower-case substrings of the driver's product name that identify the card. */
  smiPatterns: z.array(z.string()).readonly(),
  state: z.enum(["proposed", "approved", "rejected"]),
  proposedBy: z.string().nullable(),
  proposedAt: z.number(),
  decidedAt: z.number().nullable(),
  reason: z.string().nullable(),
});
/** An operator-defined GPU model and its review. */
export type OperatorGpuModel = z.infer<typeof OperatorGpuModel>;
/** A tenant's named secret as GET /v1/secrets answers it: never its value. */
export const SecretView = z.object({
  name: z.string(),
  type: z.enum(["registry"]),
  registry: z.string(),
  createdAt: z.number(),
});
/** A tenant's named secret (no value). */
export type SecretView = z.infer<typeof SecretView>;

/** A job's state change. */
export const JobEvent = z.object({ id: z.number(), at: z.number(), state: z.string(), message: z.string() });
/** A job's state change. */
export type JobEvent = z.infer<typeof JobEvent>;

/** A chunk of a job's log. */
export const LogLine = z.object({
  id: z.number(),
  leaseId: z.string(),
  stream: z.string(),
  text: z.string(),
  at: z.number(),
});
/** A chunk of a job's log. */
export type LogLine = z.infer<typeof LogLine>;

/** A price of one GPU model at one site (minor units per GPU-hour). */
export const PriceView = z.object({
  siteId: z.string(),
  gpuModel: z.string(),
  onDemandMinorPerGpuHour: z.number(),
  interruptibleMinorPerGpuHour: z.number(),
});
/** A price of one GPU model at one site. */
export type PriceView = z.infer<typeof PriceView>;

/** One site of GET /v1/operator/summary. */
export const SiteSummary = z.object({
  id: z.string(),
  name: z.string(),
  country: z.string(),
  pue: z.number(),
  cooling: z.string(),
  carbonGPerKwh: z.number().nullable(),
  contractedKw: z.number(),
  powerDrawKw: z.number(),
  gpusTotal: z.number(),
  gpusBusy: z.number(),
  revenue: z.object({
    grossMinor: z.number(),
    feeMinor: z.number(),
    netMinor: z.number(),
    gpuSeconds: z.number(),
  }),
  nodes: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      state: z.string(),
      stateReason: z.string().nullable(),
      lastHeartbeatAt: z.number().nullable(),
      gpuModel: z.string().nullable(),
      gpus: z.array(
        z.object({
          index: z.number(),
          healthy: z.boolean(),
          busy: z.boolean(),
          jobId: z.string().nullable(),
        }),
      ),
      /** The node on the site's cluster network (multi-node jobs); null when not stated. */
      cluster: z
        .object({ address: z.string(), fabric: z.string().optional(), switchGroup: z.string().optional() })
        .nullable()
        .optional(),
      /** A GPU inventory change waiting for approval (the node takes no new work); null when none. */
      inventory: z
        .object({
          changedAt: z.number(),
          approved: z.string(),
          reported: z.string(),
          approver: z.enum(["operator", "admin"]),
          held: z.string(),
        })
        .nullable()
        .optional(),
      /** This month: usage claims the control plane clipped, refused or clamped. */
      anomalies: z.number().optional(),
      /** This month: records taken as sent / (taken + anomalies); 1 with neither. */
      reliability: z.number().optional(),
    }),
  ),
});
/** One site of GET /v1/operator/summary. */
export type SiteSummary = z.infer<typeof SiteSummary>;

/** GET /v1/operator/summary */
export const OperatorSummary = z.object({
  at: z.number(),
  month: z.string(),
  currency: z.string(),
  feeBps: z.number(),
  sites: z.array(SiteSummary),
  totals: z.object({
    gpusTotal: z.number(),
    gpusBusy: z.number(),
    powerDrawKw: z.number(),
    contractedKw: z.number(),
    revenueGrossMinor: z.number(),
    revenueNetMinor: z.number(),
  }),
});
/** GET /v1/operator/summary */
export type OperatorSummary = z.infer<typeof OperatorSummary>;

/** One bucket of a site's utilisation series. */
export const UtilisationPoint = z.object({
  /** Start of the bucket (ms). */
  at: z.number(),
  /** Most GPUs busy at once within the bucket. */
  busyPeak: z.number(),
  /** Time-weighted mean of busy GPUs within the bucket. */
  busyAvg: z.number(),
  /** Estimated facility draw, kW: (busy GPUs x GPU power + busy nodes' overhead) x PUE, time-weighted. */
  powerKw: z.number(),
});
/** One bucket of a site's utilisation series. */
export type UtilisationPoint = z.infer<typeof UtilisationPoint>;

/** GET /v1/sites/:id/utilisation */
export const Utilisation = z.object({
  siteId: z.string(),
  from: z.number(),
  to: z.number(),
  stepMs: z.number(),
  totalGpus: z.number(),
  contractedKw: z.number(),
  points: z.array(UtilisationPoint),
});
/** GET /v1/sites/:id/utilisation */
export type Utilisation = z.infer<typeof Utilisation>;

// ---- The node side: what the agent reports and what the control plane answers. ----

/** A workload's phase, as the agent reports it. */
export const WorkloadPhase = z.enum(["starting", "running", "succeeded", "failed", "cancelled"]);
/** A workload's phase. */
export type WorkloadPhase = z.infer<typeof WorkloadPhase>;

/** What the agent reports of a workload. */
export const WorkloadReport = z.object({
  leaseId: z.string(),
  phase: WorkloadPhase,
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  reason: z.string().optional(),
  /** What kind of failure `reason` describes; "image-pull": the image could not be pulled or loaded. */
  cause: z.enum(["image-pull"]).optional(),
  startedAt: z.number().int().optional(),
  endedAt: z.number().int().optional(),
  /** A multi-node rank is prepared and waits at the start barrier for the control plane's go. */
  ready: z.boolean().optional(),
  /** Instances: the highest utilisation (percent) of the lease's GPUs since the last report; absent where not measured. */
  gpuUtilPct: z.number().int().min(0).max(100).optional(),
  /** The job's checkpoint folder on this node: bytes, files and newest save time (epoch ms). */
  checkpoint: z
    .object({
      bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
      files: z.number().int().min(1).max(10_000_000),
      savedAt: z.number().int().min(0),
    })
    .optional(),
});
/** What the agent reports of a workload. */
export type WorkloadReport = z.infer<typeof WorkloadReport>;

/** A multi-node job's rendezvous, as each rank's assignment carries it (torch.distributed conventions). */
export const GangAssignment = z.object({
  /** This node's rank in the gang (0: the master). */
  nodeRank: z.number().int().min(0),
  /** Nodes in the gang. */
  nnodes: z.number().int().min(2),
  /** The rank-0 node's address on the site's cluster network. */
  masterAddr: z.string(),
  /** The port the gang rendezvous on at masterAddr (chosen per job). */
  masterPort: z.number().int().min(1).max(65535),
  /** GPUs of the whole gang (torch.distributed's world when one process drives one GPU). */
  worldSize: z.number().int().min(1),
  /** Global rank of this node's first process: GPUs held by lower node ranks. */
  rank: z.number().int().min(0),
  /** GPUs (processes) on this node. */
  localWorldSize: z.number().int().min(1),
  /** Every rank's node as "address slots=GPUs", by node rank (OpenMPI/DeepSpeed hostfile lines). */
  hosts: z.array(z.string()),
  /** True once every rank is ready: the agent starts the command; false: prepare and report ready. */
  go: z.boolean(),
});
/** A multi-node job's rendezvous for one rank. */
export type GangAssignment = z.infer<typeof GangAssignment>;

/** A lease the agent must run, with the workload spec. */
export const Assignment = z.object({
  leaseId: z.string(),
  jobId: z.string(),
  gpuModel: z.string(),
  gpuIndices: z.array(z.number()),
  /** Per-GPU watts by the power rule (the node's reported limit, else the catalogue's TDP, approved models included): the agent's modelled energy. */
  gpuPowerW: z.number().positive().optional(),
  spec: JobSpecView,
  /** The image to run: the job's own, else the site's default; absent when neither names one. */
  image: z.string().optional(),
  /** Whether the workload gets network access: the job asked for it and the site allows it. */
  network: z.boolean(),
  /** Private-registry login for the pull (from the tenant's secret; never logged or stored by the agent). */
  registryAuth: z.object({ server: z.string(), username: z.string(), password: z.string() }).optional(),
  /** Host folder for the workload's checkpoints (mounted at the same path, $ZUMBIDO_CHECKPOINT_DIR). */
  checkpointDir: z.string().optional(),
  /** Multi-node jobs: the rendezvous and the start barrier (absent for a one-node job). */
  gang: GangAssignment.optional(),
});
/** A lease the agent must run. */
export type Assignment = z.infer<typeof Assignment>;

/** A lease the agent must stop, with how long the workload has to checkpoint. */
export const StopOrder = z.object({ leaseId: z.string(), reason: z.string(), graceS: z.number() });
/** A lease the agent must stop. */
export type StopOrder = z.infer<typeof StopOrder>;

// ---- Sites and prices. ----

/** A site as GET /v1/sites answers it. */
export const SiteView = z.object({
  id: z.string(),
  operatorId: z.string(),
  name: z.string(),
  country: z.string(),
  lat: z.number(),
  lon: z.number(),
  powerKw: z.number(),
  pue: z.number(),
  cooling: z.string(),
  nodeOverheadW: z.number(),
  carbonGPerKwh: z.number().nullable().optional(),
  createdAt: z.number(),
  defaultImage: z.string().nullable().optional(),
  allowImages: z.array(z.string()).optional(),
  denyImages: z.array(z.string()).optional(),
  allowNetwork: z.boolean().optional(),
});
/** A site as GET /v1/sites answers it. */
export type SiteView = z.infer<typeof SiteView>;

export * from "./volumes.js";
