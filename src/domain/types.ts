import type { InstanceSpec } from "./instances.js";
import type { Jurisdiction } from "./countries.js";
import type { Minor } from "./money.js";
import type { ExecutorKind } from "./executors.js";

/** Roles an API key can hold. */
export type Role = "admin" | "operator" | "tenant" | "node";

/** Cooling of a hall; informs PUE and WUE reporting. */
export type Cooling = "air" | "immersion" | "direct-liquid" | "hybrid";

/** A hall (site) of one operator. */
export interface Site {
  id: string;
  operatorId: string;
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  lat: number;
  lon: number;
  /** Contracted grid power in kW (facility side). */
  powerKw: number;
  /** Power usage effectiveness, >= 1. */
  pue: number;
  cooling: Cooling;
  /** Per-node overhead (CPUs, fans, NICs) in watts, IT side. */
  nodeOverheadW: number;
  /** Current grid carbon intensity, gCO2e/kWh, when known. */
  carbonGPerKwh?: number | null;
  createdAt: number;
  /** Image a job runs in here when it names none (null: none; such jobs need a node that runs host processes). */
  defaultImage?: string | null;
  /** Glob patterns over image references; when non-empty, only matching images run here. */
  allowImages?: string[];
  /** Glob patterns over image references that never run here (wins over the allowlist). */
  denyImages?: string[];
  /** Jobs that ask for network access get it here (default false: no network). */
  allowNetwork?: boolean;
}

/** Prices one site asks for one GPU model. */
export interface Price {
  siteId: string;
  gpuModel: string;
  /** On-demand price, minor units per GPU-hour. */
  onDemandMinorPerGpuHour: Minor;
  /** Interruptible (spot) floor price, minor units per GPU-hour. */
  interruptibleMinorPerGpuHour: Minor;
}

/** One GPU as discovered on a node. */
export interface Gpu {
  index: number;
  uuid: string;
  model: string;
  name: string;
  memoryMb: number;
  powerLimitW: number;
  pciBusId?: string;
  healthy: boolean;
}

export type NodeState = "pending" | "ready" | "draining" | "offline";

/** What a node's runtime can do, as its agent advertises it at enrolment and in heartbeats. */
export interface NodeRuntime {
  executor: ExecutorKind;
  /** Runs workloads from container images. */
  images: boolean;
  /** Workloads are isolated from the host and from each other (not host processes). */
  isolated: boolean;
}

/** A GPU server enrolled at a site. */
export interface Node {
  id: string;
  siteId: string;
  name: string;
  state: NodeState;
  /** Why the node is draining/offline, in words. */
  stateReason?: string | null;
  gpus: Gpu[];
  executor: ExecutorKind;
  lastHeartbeatAt?: number | null;
  driverVersion?: string | null;
  /** The runtime the agent last advertised (null: an agent that predates the advertisement). */
  runtime?: NodeRuntime | null;
  /** The GPU inventory approved for placement and capacity (declared at enrolment, or last approved). */
  approvedGpus?: Gpu[];
  /** Since when the reported GPUs (`gpus`) differ from the approved ones; null when they agree. */
  inventoryChangedAt?: number | null;
  /** The node on the site's cluster network (multi-node jobs); null: not stated by the operator. */
  cluster?: NodeCluster | null;
}

/** A node's place on its site's cluster network, as the operator states it (agent config or API). */
export interface NodeCluster {
  /** Address other nodes of the site reach it at for rendezvous and collectives (not its public one). */
  address: string;
  /** Interconnect fabric label, e.g. "ib-ndr", "roce", "eth-100g"; gangs stay inside one fabric. */
  fabric?: string;
  /** Leaf switch (or rail group) the node hangs off; gangs prefer fewer switch groups. */
  switchGroup?: string;
}

export type JobClass = "on-demand" | "interruptible";

/** What a tenant asks for; the scheduler's input. */
export interface JobRequest {
  /** Acceptable GPU models, in order of preference. */
  gpuModels: string[];
  /** Total GPUs (the gang size). */
  gpus: number;
  /** GPUs per node for multi-node gangs; default: all on one node. */
  gpusPerNode?: number;
  minGpuMemoryGb?: number;
  class: JobClass;
  /** Highest price the tenant accepts, minor units per GPU-hour. */
  maxPriceMinorPerGpuHour?: Minor;
  jurisdiction?: Jurisdiction;
  /** ISO codes the job may run in. */
  countries?: string[];
  /** Highest grid carbon intensity accepted, gCO2e/kWh. */
  maxCarbonGPerKwh?: number;
  /** Tenant's runtime estimate in seconds (never the true duration). */
  runtimeEstimateS?: number;
  /** Epoch ms by which the job must finish (flexible jobs). */
  deadlineAt?: number;
  /** The container image the job names (from its spec; set for placement, not by the tenant here). */
  image?: string;
  /** Cluster-network fabric every node of the job must be on (e.g. "ib-ndr", "roce", "eth-100g"). */
  fabric?: string;
  /** Sites the job may run at only: where its volumes are (set by the control plane, not the tenant). */
  sites?: string[];
}

/** How the workload is run. */
export interface JobSpec {
  /** argv; argv[0] is the program. */
  command: string[];
  /** Run `command` joined through /bin/sh -c (only when the tenant asks). */
  shell?: boolean;
  env?: Record<string, string>;
  /** Names of the job's secret env values (sealed apart; only the node running a lease gets the values). */
  secretEnvNames?: string[];
  /** The tenant's named registry secret used to pull the image (the login goes only to the node). */
  registrySecret?: string;
  /** Container image to run in (the site's default image when absent). */
  image?: string;
  /** The job asks for network access; it gets it only where the site allows network. */
  network?: boolean;
  /** Seconds between the checkpoint notice (SIGTERM/SIGUSR1) and the kill. */
  gracePeriodS?: number;
  /** OpenSSH public keys given to the container as an authorized_keys file (checked on submit). */
  sshAuthorizedKeys?: string[];
  /**
   * When its checkpoint cannot be copied to the node it is placed on (its node is lost, the copy
   * fails), the job may start from an empty checkpoint folder; absent: it waits for its checkpoint.
   */
  freshIfCheckpointLost?: boolean;
  /** Set when the job is an interactive instance (no natural end): its ports and guardrails. */
  instance?: InstanceSpec;
  /** The tenant's volumes mounted into the container (resolved at submit; all at one site). */
  volumes?: JobVolume[];
}

/** A volume a job mounts. */
export interface JobVolume {
  volumeId: string;
  name: string;
  /** Absolute path in the container, e.g. /data. */
  mountPath: string;
  readOnly: boolean;
}

export type JobState =
  "pending" | "scheduled" | "running" | "succeeded" | "failed" | "cancelled" | "preempted";

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled"]);

export interface Job {
  id: string;
  tenantId: string;
  name: string;
  request: JobRequest;
  spec: JobSpec;
  state: JobState;
  /** Why the job is in its state (exit code, cancel, reasons it waits). */
  stateReason?: string | null;
  /** Scheduler reasons while pending, verbatim. */
  reasons: string[];
  submittedAt: number;
  startedAt?: number | null;
  endedAt?: number | null;
  exitCode?: number | null;
}

export type LeaseState = "assigned" | "running" | "stopping" | "ended";

/** A job's hold on GPUs of one node; price and place are locked at its start. */
export interface Lease {
  id: string;
  jobId: string;
  tenantId: string;
  siteId: string;
  nodeId: string;
  country: string;
  gpuModel: string;
  gpuIndices: number[];
  class: JobClass;
  priceMinorPerGpuHour: Minor;
  currency: string;
  state: LeaseState;
  createdAt: number;
  startedAt?: number | null;
  endedAt?: number | null;
  /** Stop requested (cancel, preemption, curtailment) and why. */
  stopReason?: string | null;
  /** Epoch ms after which the agent kills the workload. */
  stopDeadlineAt?: number | null;
  /** Multi-node jobs: this lease's rank, the gang's size and rendezvous port (absent: one node). */
  gang?: LeaseGang | null;
}

/** A lease's place in a multi-node gang and its start barrier. */
export interface LeaseGang {
  rank: number;
  size: number;
  port: number;
  /** When the node reported the rank ready (workload prepared, waiting for the others). */
  readyAt: number | null;
  /** When every rank was ready and the control plane released this one. */
  goAt: number | null;
}

/** One metered interval of one lease, sent by an agent; idempotent on (nodeId, seq). */
export interface UsageRecord {
  nodeId: string;
  seq: number;
  leaseId: string;
  /** Interval start and end, epoch ms. */
  fromMs: number;
  toMs: number;
  /** GPU-milliseconds in the interval (GPUs x ms). */
  gpuMs: number;
  /** Energy in milliwatt-hours (integer), measured or modelled. */
  energyMilliWh: number;
  /** "measured" (nvidia-smi) or "modelled" (power model). */
  energySource: "measured" | "modelled";
}
