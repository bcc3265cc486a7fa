import { join } from "node:path";
import type { Executor } from "../../agent/executor.js";
import { LocalExecutor } from "../../agent/executors/local.js";
import type { GpuSource } from "../../agent/agent.js";
import { UsageError } from "../context.js";

/** The agent's options that choose and configure its executor. */
export interface ExecutorFlags {
  stateDir: string;
  name: string;
  executor: string;
  namespace: string;
  image: string;
  unsafeHostProcesses?: boolean;
  defaultImage?: string;
  user: string;
  usernsAuto?: boolean;
  slurmContainer?: "podman" | "none";
  slurmConf?: string;
  /** podman (and Slurm's container mode): the network of multi-node ranks ("host" or a podman network). */
  gangNetwork?: string;
  /** slurm / kubernetes: GPUs of each compute node behind this agent (bigger leases span nodes). */
  computeNodeGpus?: number;
}

/** `--gang-network`: "host" or a podman network name; never "none" (ranks must reach each other). */
export function parseGangNetwork(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === "none" || v === "private" || v.startsWith("container:") || v.startsWith("ns:"))
    throw new UsageError(
      `--gang-network ${v}: the ranks of a multi-node job must reach each other; give host (the host's network, the default) or the name of a podman network on the cluster fabric (e.g. a macvlan network)`,
    );
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v))
    throw new UsageError(
      `--gang-network "${v}" is not a podman network name: letters, digits, ".", "_" and "-" (at most 64), or host`,
    );
  return v;
}

/** `--compute-node-gpus`: a whole number of at least 1. */
export function parseComputeNodeGpus(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(
      `--compute-node-gpus ${v}: give the GPUs of one compute node, a whole number of at least 1`,
    );
  return n;
}

/**
 * Builds the executor the flags ask for. Undefined (after saying why on stderr, exit code 2) when
 * the agent must not start: Slurm without container support and without --unsafe-host-processes.
 */
export async function buildExecutor(
  o: ExecutorFlags,
  gpus: GpuSource,
  now: () => number,
): Promise<Executor | undefined> {
  const gangNetworkMode = parseGangNetwork(o.gangNetwork);
  if (o.computeNodeGpus !== undefined && o.executor !== "slurm" && o.executor !== "kubernetes")
    throw new UsageError(
      "--compute-node-gpus is for an agent that fronts a Slurm partition or a Kubernetes cluster (--executor slurm|kubernetes)",
    );
  const spread = o.computeNodeGpus !== undefined ? { gpusPerNode: o.computeNodeGpus } : {};
  if (o.executor === "slurm") {
    const { SlurmExecutor } = await import("../../agent/executors/slurm.js");
    const { podmanEnv } = await import("../../agent/executors/podman-args.js");
    const { cdiNameMap } = await import("../../agent/executors/slurm-podman.js");
    const { readCdiGpus } = await import("../../agent/executors/cdi.js");
    const { podmanRuns } = await import("../../agent/podman-probe.js");
    const mode = o.slurmContainer ?? ((await podmanRuns()).ok ? "podman" : "none");
    if (mode === "none" && o.unsafeHostProcesses !== true) {
      console.error(
        `zumbido agent: refusing to start with --executor slurm and no container support (${o.slurmContainer ? "--slurm-container none" : "podman cannot run containers here"}): Slurm jobs would run as host processes of this agent's user. Install podman (scripts/ci/setup-containers.sh) and use --slurm-container podman, or pass --unsafe-host-processes for development only`,
      );
      process.exitCode = 2;
      return undefined;
    }
    const found = await gpus.discover();
    return new SlurmExecutor({
      logDir: join(o.stateDir, "slurm"),
      now,
      ...(o.slurmConf ? { slurmConf: o.slurmConf } : {}),
      container: mode === "podman" ? "podman" : "host",
      unsafeHostProcesses: o.unsafeHostProcesses === true,
      ...spread,
      podman: {
        podmanEnv: podmanEnv({}),
        ...(o.defaultImage ? { defaultImage: o.defaultImage } : {}),
        ...(o.usernsAuto ? { userns: "auto" as const } : { user: o.user }),
        ...(gangNetworkMode ? { gangNetworkMode } : {}),
        nodeGpus: found.gpus.length,
        cdiNames: cdiNameMap(Object.fromEntries(found.gpus.map((g) => [g.index, g.uuid])), readCdiGpus()),
      },
    });
  }
  if (o.executor === "kubernetes") {
    const { KubeConfig } = await import("@kubernetes/client-node");
    const { KubernetesExecutor } = await import("../../agent/executors/kubernetes.js");
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    return new KubernetesExecutor({
      kubeConfig,
      namespace: o.namespace,
      agentId: o.name.replace(/[^A-Za-z0-9.-]/g, "-"),
      defaultImage: o.image,
      now,
      ...spread,
    });
  }
  if (o.executor === "podman") {
    const { PodmanExecutor } = await import("../../agent/executors/podman.js");
    const found = await gpus.discover();
    return new PodmanExecutor({
      stateDir: join(o.stateDir, "workloads"),
      now,
      agentId: o.name.replace(/[^A-Za-z0-9._-]/g, "-"),
      ...(o.defaultImage ? { defaultImage: o.defaultImage } : {}),
      ...(o.usernsAuto ? { userns: "auto" as const } : { user: o.user }),
      ...(gangNetworkMode ? { gangNetworkMode } : {}),
      nodeGpus: found.gpus.length,
      gpuUuids: Object.fromEntries(found.gpus.map((g) => [g.index, g.uuid])),
    });
  }
  if (gangNetworkMode)
    throw new UsageError(
      "--gang-network sets the network of containers (--executor podman or slurm); local host processes always share the host's",
    );
  console.error(
    "zumbido agent: WARNING: --unsafe-host-processes: tenant jobs run as host processes with this agent's user and files; no isolation",
  );
  return new LocalExecutor({
    stateDir: join(o.stateDir, "workloads"),
    now,
    unsafeHostProcesses: true,
  });
}
