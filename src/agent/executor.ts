import type { ExecutorKind, JobSpec, NodeRuntime } from "../domain/index.js";

/** What an executor is asked to run: one lease's workload on exact GPUs. */
export interface WorkloadSpec {
  leaseId: string;
  jobId: string;
  spec: JobSpec;
  /** Catalogue id of the GPU model, e.g. "H100" (executors map it to gres types / node labels). */
  gpuModel: string;
  /** GPU indices on this node that the lease holds (local executor pins CUDA_VISIBLE_DEVICES to these). */
  gpuIndices: number[];
  /** Hard limit on run time in seconds, if any. */
  maxRuntimeS?: number;
  /** Container image to run (the server resolves the site's default; else spec.image; else the agent's default). */
  image?: string;
  /** The workload may use the network (the job asked and the site allows it); default: no network. */
  network?: boolean;
  /** Credentials for a private registry, used for the pull only and never written anywhere lasting. */
  registryAuth?: RegistryAuth;
  /** Host folder for checkpoints, mounted at the same path; the workload finds it in $ZUMBIDO_CHECKPOINT_DIR. */
  checkpointDir?: string;
  /** Multi-node jobs: the rendezvous environment (MASTER_ADDR, RANK, ...) and the hostfile on the host. */
  gang?: WorkloadGang;
  /** The job's volumes: host folders (under the agent's volume root) mounted into the container. */
  volumes?: WorkloadVolume[];
}

/** A volume mounted into a workload. */
export interface WorkloadVolume {
  hostPath: string;
  mountPath: string;
  readOnly: boolean;
}

/** What a rank of a multi-node job gets beyond a one-node workload. */
export interface WorkloadGang {
  /** MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, NODE_RANK, LOCAL_WORLD_SIZE, NNODES, ZUMBIDO_HOSTS. */
  env: Record<string, string>;
  /** Host path of the hostfile ("address slots=N" per node); executors expose it as $ZUMBIDO_HOSTFILE. */
  hostfile: string;
}

/** Login to one container registry. */
export interface RegistryAuth {
  /** Registry host, e.g. "ghcr.io" or "registry.example.com:5000". */
  server: string;
  username: string;
  password: string;
}

export type WorkloadPhase = "starting" | "running" | "succeeded" | "failed" | "cancelled";

/** What an executor knows of one workload. */
export interface WorkloadStatus {
  leaseId: string;
  phase: WorkloadPhase;
  /** Engine's own id (pid, Slurm job id, Kubernetes Job name). */
  externalId?: string;
  /** GPU indices the engine actually gave the workload (Slurm may choose). */
  gpuIndices?: number[];
  exitCode?: number | null;
  /** Signal that ended it, e.g. "SIGKILL". */
  signal?: string | null;
  /** Why it ended or could not start, in words. */
  reason?: string;
  startedAt?: number;
  endedAt?: number;
}

/** A chunk of log output. */
export interface LogChunk {
  leaseId: string;
  stream: "stdout" | "stderr";
  text: string;
}

/** Engine behind the agent: podman containers, local processes, Slurm or Kubernetes. Owned by the agent. */
export interface Executor {
  readonly kind: ExecutorKind;
  /** What the node advertises: whether this engine runs images and isolates workloads. */
  readonly runtime: NodeRuntime;
  /**
   * Optional: gets a multi-node rank ready to start without starting it (podman: the image is pulled
   * or loaded), so the gang's start barrier waits for it. Resolves with what stops it, if anything.
   */
  prepare?(w: WorkloadSpec): Promise<{ problem?: string; cause?: "image-pull" }>;
  /** Starts the workload; resolves once the engine accepted it (not when it ends). */
  start(w: WorkloadSpec): Promise<WorkloadStatus>;
  /** Current status of one workload (undefined if the executor never heard of it). */
  status(leaseId: string): Promise<WorkloadStatus | undefined>;
  /** Sends the checkpoint notice (SIGTERM for local; signal via scancel for Slurm; ...). */
  notify(leaseId: string): Promise<void>;
  /** Stops the workload: notice, then hard kill after graceS seconds. Resolves when it has ended. */
  stop(leaseId: string, graceS: number): Promise<WorkloadStatus | undefined>;
  /** Log output produced since the last call (drains; capped by the executor). */
  drainLogs(leaseId: string): Promise<LogChunk[]>;
  /** Rebuilds the view of workloads this agent started before a restart (by lease id labels/state files). */
  recover(): Promise<WorkloadStatus[]>;
  /** Optional: deletes what the executor kept of an ended workload (state, log files) once the agent shipped it. */
  forget?(leaseId: string): Promise<void>;
  /** Releases resources (watchers, timers). Workloads keep running. */
  close(): Promise<void>;
}
