/** The engines a node agent can run workloads with: the one declaration every layer uses. */
export const EXECUTOR_KINDS = ["local", "podman", "slurm", "kubernetes"] as const;

/** One of EXECUTOR_KINDS. */
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];

/** What a node tells the control plane about how it runs workloads (placement filters on it). */
export interface NodeRuntime {
  executor: ExecutorKind;
  /** The executor runs the tenant's container image (podman, Kubernetes, Slurm with podman). */
  images: boolean;
  /** Workloads are isolated from the host and from each other (not host processes). */
  isolated: boolean;
}
