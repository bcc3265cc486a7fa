import type { V1Job, V1Pod, V1Service } from "@kubernetes/client-node";
import type { WorkloadSpec } from "../executor.js";
import { buildJobManifest, K8S_KEYS, type K8sManifestOptions } from "./k8s-manifest.js";

/** The shape of a multi-node job run as one indexed Kubernetes Job. */
export interface K8sGangShape {
  /** Pods (ranks), one per Kubernetes node. */
  nnodes: number;
  /** GPUs per pod. */
  gpusPerNode: number;
  /** Rendezvous port on rank 0's pod. */
  masterPort: number;
}

/** Label Kubernetes puts on an indexed Job's pods: their completion index. */
const INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index";

/**
 * A multi-node job as an indexed batch/v1 Job (completionMode Indexed, one pod per rank, pods on
 * distinct nodes, backoffLimit 0 so one failing rank fails the Job) and a headless Service that
 * gives rank 0 a stable DNS name for MASTER_ADDR (`<job>-0.<service>`; not-ready addresses are
 * published, so ranks resolve each other before they are ready). Every pod gets the rendezvous
 * environment a rank gets from the agent (one process per pod: WORLD_SIZE = pods, RANK = NODE_RANK
 * = the pod's completion index, torchrun's PET_* defaults). Pure; validated against the official
 * schemas in tests.
 */
export function buildGangManifests(
  w: WorkloadSpec,
  g: K8sGangShape,
  o: K8sManifestOptions,
): { job: V1Job; service: V1Service } {
  if (!Number.isInteger(g.nnodes) || g.nnodes < 2)
    throw new Error(`nnodes must be at least 2, got ${g.nnodes}`);
  const perPod: WorkloadSpec = { ...w, gpuIndices: Array.from({ length: g.gpusPerNode }, (_, i) => i) };
  const job = buildJobManifest(perPod, o);
  const name = job.metadata!.name!;
  const service = name; // Job and Service share the name; pods are <name>-<index>.<name>
  const ns = o.namespace;
  const spec = job.spec!;
  const pod = spec.template.spec!;
  const container = pod.containers[0]!;
  spec.completionMode = "Indexed";
  spec.completions = g.nnodes;
  spec.parallelism = g.nnodes;
  spec.backoffLimit = 0;
  pod.subdomain = service;
  // One rank per Kubernetes node.
  pod.affinity = {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          labelSelector: { matchLabels: { [K8S_KEYS.lease]: job.metadata!.labels![K8S_KEYS.lease]! } },
          topologyKey: "kubernetes.io/hostname",
        },
      ],
    },
  };
  // One process per pod (torchrun, if the command is it, starts one per GPU: PET_* are its defaults).
  const rendezvous: Record<string, string> = {
    MASTER_ADDR: `${name}-0.${service}.${ns}.svc`,
    MASTER_PORT: String(g.masterPort),
    NNODES: String(g.nnodes),
    WORLD_SIZE: String(g.nnodes),
    LOCAL_RANK: "0",
    LOCAL_WORLD_SIZE: "1",
    ZUMBIDO_GPUS_PER_NODE: String(g.gpusPerNode),
    PET_NNODES: String(g.nnodes),
    PET_NPROC_PER_NODE: String(g.gpusPerNode),
    PET_MASTER_ADDR: `${name}-0.${service}.${ns}.svc`,
    PET_MASTER_PORT: String(g.masterPort),
    ZUMBIDO_HOSTS: Array.from({ length: g.nnodes }, (_, i) => `${name}-${i}.${service}.${ns}.svc`).join(","),
  };
  // The pod's completion index is its node rank and, one process per pod, its global rank.
  const index = { fieldRef: { fieldPath: `metadata.annotations['${INDEX_ANNOTATION}']` } };
  const names = new Set([...Object.keys(rendezvous), "NODE_RANK", "RANK", "PET_NODE_RANK"]);
  container.env = [
    ...(container.env ?? []).filter((e) => !names.has(e.name) && !e.name.startsWith("PET_")),
    ...Object.entries(rendezvous).map(([n, value]) => ({ name: n, value })),
    ...["NODE_RANK", "RANK", "PET_NODE_RANK"].map((n) => ({ name: n, valueFrom: index })),
  ];
  container.ports = [{ name: "rendezvous", containerPort: g.masterPort, protocol: "TCP" }];
  const svc: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: service, namespace: ns, labels: { ...job.metadata!.labels! } },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { [K8S_KEYS.lease]: job.metadata!.labels![K8S_KEYS.lease]! },
      ports: [{ name: "rendezvous", port: g.masterPort, targetPort: g.masterPort, protocol: "TCP" }],
    },
  };
  return { job, service: svc };
}

/** The completion index Kubernetes gives each pod of an indexed Job (annotation and label). */
export function rankOfPod(p: V1Pod): number | undefined {
  const v = p.metadata?.annotations?.[INDEX_ANNOTATION] ?? p.metadata?.labels?.[INDEX_ANNOTATION];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** What the pods of an indexed Job say of the gang as a whole. */
export interface GangPodsView {
  /** The pod that speaks for the gang: the first rank that failed, else rank 0. */
  pod?: V1Pod;
  /** Rank of `pod`. */
  rank?: number;
  /** Rank 0's pod (its log is the lease's log). */
  logPod?: string;
  /** When the last rank started: the gang runs (and is billed) only once every rank runs. */
  startedAt?: number;
  /** Every rank's pod runs or has exited 0 (a rank done early keeps the gang running). */
  running: boolean;
}

/** Reads an indexed Job's pods as one gang of `nnodes` ranks (latest pod per index). Pure. */
export function gangPodsView(pods: V1Pod[], nnodes: number): GangPodsView {
  const byRank = new Map<number, V1Pod>();
  for (const p of pods) {
    const r = rankOfPod(p);
    if (r !== undefined) byRank.set(r, p); // pods come oldest first: the latest wins
  }
  const term = (p: V1Pod) =>
    p.status?.containerStatuses?.find((c) => c.name === "workload")?.state?.terminated;
  const failed = [...byRank.entries()]
    .filter(([, p]) => (term(p)?.exitCode ?? 0) !== 0)
    .sort(([, a], [, b]) => t(term(a)?.finishedAt) - t(term(b)?.finishedAt))[0];
  const [rank, pod] = failed ?? [0, byRank.get(0)];
  const starts = [...byRank.values()].map((p) => t(p.status?.startTime)).filter((x) => x > 0);
  const running =
    byRank.size === nnodes &&
    [...byRank.values()].every((p) => p.status?.phase === "Running" || p.status?.phase === "Succeeded");
  return {
    ...(pod ? { pod, rank } : {}),
    ...(byRank.get(0)?.metadata?.name ? { logPod: byRank.get(0)!.metadata!.name! } : {}),
    ...(starts.length === nnodes && byRank.size === nnodes ? { startedAt: Math.max(...starts) } : {}),
    running,
  };
}

function t(v: Date | string | undefined): number {
  if (!v) return 0;
  const x = v instanceof Date ? v.getTime() : new Date(v).getTime();
  return Number.isFinite(x) ? x : 0;
}
