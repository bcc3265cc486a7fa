import type { V1Job, V1Service } from "@kubernetes/client-node";
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
 * environment a rank gets from the agent; NODE_RANK is the pod's completion index. Pure; validated
 * against the official schemas in tests.
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
  const rendezvous: Record<string, string> = {
    MASTER_ADDR: `${name}-0.${service}.${ns}.svc`,
    MASTER_PORT: String(g.masterPort),
    NNODES: String(g.nnodes),
    LOCAL_WORLD_SIZE: String(g.gpusPerNode),
    WORLD_SIZE: String(g.nnodes * g.gpusPerNode),
    LOCAL_RANK: "0",
    ZUMBIDO_HOSTS: Array.from({ length: g.nnodes }, (_, i) => `${name}-${i}.${service}.${ns}.svc`).join(","),
  };
  const names = new Set([...Object.keys(rendezvous), "NODE_RANK", "RANK"]);
  container.env = [
    ...(container.env ?? []).filter((e) => !names.has(e.name)),
    ...Object.entries(rendezvous).map(([n, value]) => ({ name: n, value })),
    {
      name: "NODE_RANK",
      valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${INDEX_ANNOTATION}']` } },
    },
  ];
  // RANK = NODE_RANK x LOCAL_WORLD_SIZE needs arithmetic: a thin shell sets it, then execs the command.
  container.command = [
    "/bin/sh",
    "-c",
    'export RANK=$((NODE_RANK * LOCAL_WORLD_SIZE)); exec "$@"',
    "rank",
    ...(container.command ?? []),
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
