import { createHash } from "node:crypto";
import type { V1Job } from "@kubernetes/client-node";
import type { WorkloadSpec } from "../executor.js";

/** Label and annotation keys the Kubernetes executor puts on what it creates. */
export const K8S_KEYS = {
  lease: "zumbido.io/lease-id",
  job: "zumbido.io/job-id",
  agent: "zumbido.io/agent",
  managedBy: "app.kubernetes.io/managed-by",
  /** Annotation set by notify(): the workload reads it in NOTICE_FILE (downward API). */
  checkpoint: "zumbido.io/checkpoint-requested-at",
  stop: "zumbido.io/stop-requested-at",
} as const;

/** Inside the container: the pod's annotations, refreshed by the kubelet (downward API volume). */
export const NOTICE_FILE = "/etc/zumbido/podinfo/annotations";

/**
 * Catalogue id -> the `nvidia.com/gpu.product` label that NVIDIA's GPU feature discovery sets
 * (the product name from NVML with spaces turned into dashes).
 */
export const DEFAULT_GPU_PRODUCT_LABELS: Readonly<Record<string, string>> = {
  H200: "NVIDIA-H200",
  H100: "NVIDIA-H100-80GB-HBM3",
  "H100-PCIE": "NVIDIA-H100-PCIe",
  B200: "NVIDIA-B200",
  A100: "NVIDIA-A100-SXM4-80GB",
  "A100-40": "NVIDIA-A100-SXM4-40GB",
  L40S: "NVIDIA-L40S",
  A10: "NVIDIA-A10",
  RTX4090: "NVIDIA-GeForce-RTX-4090",
  RTX3090: "NVIDIA-GeForce-RTX-3090",
  V100: "Tesla-V100-SXM2-32GB",
};

/** What the manifest builder needs besides the workload. */
export interface K8sManifestOptions {
  namespace: string;
  agentId: string;
  /** Image when the job spec names none. */
  defaultImage: string;
  /** Overrides/extends DEFAULT_GPU_PRODUCT_LABELS. */
  gpuProductLabels?: Record<string, string>;
  /** Seconds between SIGTERM and SIGKILL when the pod is deleted (default: spec.gracePeriodS or 30). */
  graceS?: number;
  /** Non-root uid/gid the workload runs as (default 1000:1000). */
  runAsUser?: number;
  runAsGroup?: number;
  /** CPU cores and memory (GiB) granted per leased GPU (defaults 8 and 64; a GPU-less job gets one GPU's share). */
  cpuPerGpu?: number;
  memoryGiBPerGpu?: number;
}

/** CPU and memory limits for a lease: the node class's share per GPU, at least one GPU's worth. */
export function k8sLimits(gpus: number, o: K8sManifestOptions): { cpu: string; memory: string } {
  const share = Math.max(1, gpus);
  const cpu = Math.max(1, Math.round((o.cpuPerGpu ?? 8) * share));
  const memGiB = Math.max(1, Math.round((o.memoryGiBPerGpu ?? 64) * share));
  return { cpu: String(cpu), memory: `${memGiB}Gi` };
}

/** A DNS-1123 label (<= 63 chars) derived from a lease id, unique by a hash suffix. */
export function k8sName(prefix: string, leaseId: string): string {
  const hash = createHash("sha256").update(leaseId).digest("hex").slice(0, 8);
  const base = leaseId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63 - prefix.length - hash.length - 2)
    .replace(/-+$/, "");
  return `${prefix}-${base ? `${base}-` : ""}${hash}`;
}

/** A label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends); the full id goes in an annotation. */
export function labelValue(s: string): string {
  const v = s
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return v || "x";
}

/** Builds the batch/v1 Job for one lease (pure; validated against the official schema in tests). */
export function buildJobManifest(w: WorkloadSpec, o: K8sManifestOptions): V1Job {
  const gpus = w.gpuIndices.length;
  const product = { ...DEFAULT_GPU_PRODUCT_LABELS, ...(o.gpuProductLabels ?? {}) }[w.gpuModel];
  if (gpus > 0 && !product) {
    throw new Error(
      `no nvidia.com/gpu.product label known for GPU model "${w.gpuModel}"; add it to gpuProductLabels (e.g. { "${w.gpuModel}": "NVIDIA-..." })`,
    );
  }
  if (w.spec.command.length === 0) throw new Error("spec.command is empty: give [program, ...args]");
  const grace = Math.max(0, Math.round(o.graceS ?? w.spec.gracePeriodS ?? 30));
  const labels = {
    [K8S_KEYS.managedBy]: "zumbido",
    [K8S_KEYS.agent]: labelValue(o.agentId),
    [K8S_KEYS.lease]: labelValue(w.leaseId),
    [K8S_KEYS.job]: labelValue(w.jobId),
  };
  const annotations = { [K8S_KEYS.lease]: w.leaseId, [K8S_KEYS.job]: w.jobId };
  const reserved = new Set([
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "ZUMBIDO_LEASE_ID",
    "ZUMBIDO_JOB_ID",
    "ZUMBIDO_GPU_MODEL",
    "ZUMBIDO_NOTICE_FILE",
  ]);
  const env = [
    ...Object.entries(w.spec.env ?? {})
      .filter(([k]) => !reserved.has(k))
      .map(([name, value]) => ({ name, value })),
    { name: "ZUMBIDO_LEASE_ID", value: w.leaseId },
    { name: "ZUMBIDO_JOB_ID", value: w.jobId },
    { name: "ZUMBIDO_GPU_MODEL", value: w.gpuModel },
    { name: "ZUMBIDO_NOTICE_FILE", value: NOTICE_FILE },
    // The device plugin exposes only the pod's GPUs, numbered from 0 inside the container.
    { name: "CUDA_VISIBLE_DEVICES", value: Array.from({ length: gpus }, (_, i) => i).join(",") },
  ];
  const command = w.spec.shell ? ["/bin/sh", "-c", w.spec.command.join(" ")] : w.spec.command;
  const limits = k8sLimits(gpus, o);
  const uid = o.runAsUser ?? 1000;
  const gid = o.runAsGroup ?? uid;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: k8sName("zumbido", w.leaseId), namespace: o.namespace, labels, annotations },
    spec: {
      backoffLimit: 0,
      ...(w.maxRuntimeS !== undefined
        ? { activeDeadlineSeconds: Math.max(1, Math.ceil(w.maxRuntimeS)) }
        : {}),
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: "Never",
          terminationGracePeriodSeconds: grace,
          // Tenant code gets no API credentials and no root: the restricted Pod Security profile.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: uid,
            runAsGroup: gid,
            fsGroup: gid,
            seccompProfile: { type: "RuntimeDefault" },
          },
          ...(gpus > 0 ? { nodeSelector: { "nvidia.com/gpu.product": product! } } : {}),
          tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
          containers: [
            {
              name: "workload",
              image: w.image ?? w.spec.image ?? o.defaultImage,
              command,
              env,
              workingDir: "/work",
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
              },
              resources: {
                limits: { ...limits, ...(gpus > 0 ? { "nvidia.com/gpu": String(gpus) } : {}) },
                requests: limits,
              },
              volumeMounts: [
                { name: "podinfo", mountPath: "/etc/zumbido/podinfo", readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
                { name: "work", mountPath: "/work" },
              ],
            },
          ],
          volumes: [
            {
              name: "podinfo",
              downwardAPI: {
                items: [{ path: "annotations", fieldRef: { fieldPath: "metadata.annotations" } }],
              },
            },
            // The root filesystem is read-only: scratch space is per pod and ends with it.
            { name: "tmp", emptyDir: {} },
            { name: "work", emptyDir: {} },
          ],
        },
      },
    },
  };
}
