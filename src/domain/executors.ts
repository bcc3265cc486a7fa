/** The engines a node agent can run workloads with: the one declaration every layer uses. */
export const EXECUTOR_KINDS = ["local", "podman", "slurm", "kubernetes"] as const;

/** How a node's agent runs workloads: one of EXECUTOR_KINDS. */
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];
