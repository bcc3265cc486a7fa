import { Service } from "kubernetes-models/v1";
import { Job } from "kubernetes-models/batch/v1";
import { describe, expect, it } from "vitest";
import { buildGangManifests } from "../../src/agent/executors/k8s-gang.js";
import type { WorkloadSpec } from "../../src/agent/executor.js";

const w: WorkloadSpec = {
  leaseId: "lease_1",
  jobId: "job_1",
  gpuModel: "H100",
  gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7],
  spec: {
    command: ["torchrun", "train.py"],
    env: { LR: "0.1", MASTER_ADDR: "nope" },
    image: "nvcr.io/nvidia/pytorch:24.08-py3",
  },
};
const opts = { namespace: "zumbido", agentId: "k8s-1", defaultImage: "busybox:1.36" };

describe("Kubernetes multi-node job: indexed Job + headless Service", () => {
  const { job, service } = buildGangManifests(w, { nnodes: 4, gpusPerNode: 8, masterPort: 29600 }, opts);
  const pod = job.spec!.template.spec!;
  const c = pod.containers[0]!;
  const env = Object.fromEntries(
    (c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
  );

  it("both validate against the official schemas", () => {
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(() => new Service(service as never).validate()).not.toThrow();
  });

  it("is one indexed Job of 4 pods, one per node, 8 GPUs each, failing as one", () => {
    expect(job.spec).toMatchObject({
      completionMode: "Indexed",
      completions: 4,
      parallelism: 4,
      backoffLimit: 0,
    });
    expect(c.resources!.limits!["nvidia.com/gpu"]).toBe("8");
    expect(
      pod.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0]!.topologyKey,
    ).toBe("kubernetes.io/hostname");
  });

  it("rank 0 has a stable name through the headless Service; every pod gets the rendezvous", () => {
    const name = job.metadata!.name!;
    expect(pod.subdomain).toBe(service.metadata!.name);
    expect(service.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(service.spec!.selector).toEqual(
      job.spec!.template.metadata!.labels!["zumbido.io/lease-id"] ? { "zumbido.io/lease-id": "lease_1" } : {},
    );
    expect(env).toMatchObject({
      MASTER_ADDR: `${name}-0.${name}.zumbido.svc`,
      MASTER_PORT: "29600",
      NNODES: "4",
      LOCAL_WORLD_SIZE: "8",
      WORLD_SIZE: "32",
      NODE_RANK: "metadata.annotations['batch.kubernetes.io/job-completion-index']",
      LR: "0.1",
    });
    expect(c.command!.slice(0, 3)).toEqual([
      "/bin/sh",
      "-c",
      'export RANK=$((NODE_RANK * LOCAL_WORLD_SIZE)); exec "$@"',
    ]);
    expect(c.command!.slice(4)).toEqual(["torchrun", "train.py"]);
  });
});
