import { Service } from "kubernetes-models/v1";
import { Job } from "kubernetes-models/batch/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGangManifests } from "../../src/agent/executors/k8s-gang.js";
import { KubernetesExecutor } from "../../src/agent/executors/kubernetes.js";
import { FakeKubeApi } from "./k8s-fake-api.js";
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
    const ref = "metadata.annotations['batch.kubernetes.io/job-completion-index']";
    expect(env).toMatchObject({
      MASTER_ADDR: `${name}-0.${name}.zumbido.svc`,
      MASTER_PORT: "29600",
      NNODES: "4",
      // One process per pod: the world is the pods; torchrun (PET_*) starts one per GPU.
      WORLD_SIZE: "4",
      LOCAL_WORLD_SIZE: "1",
      LOCAL_RANK: "0",
      ZUMBIDO_GPUS_PER_NODE: "8",
      PET_NNODES: "4",
      PET_NPROC_PER_NODE: "8",
      PET_MASTER_ADDR: `${name}-0.${name}.zumbido.svc`,
      NODE_RANK: ref,
      RANK: ref,
      PET_NODE_RANK: ref,
      LR: "0.1",
    });
    expect(c.command).toEqual(["torchrun", "train.py"]); // no shell wrapper: images need no /bin/sh
  });
});

describe("KubernetesExecutor fronting a cluster of 8-GPU nodes: a 16-GPU lease is one indexed Job (fake API server)", () => {
  const api = new FakeKubeApi();
  let ex: KubernetesExecutor;
  const lease = (leaseId: string, gpus: number): WorkloadSpec => ({
    ...w,
    leaseId,
    gpuIndices: Array.from({ length: gpus }, (_, i) => i),
  });
  beforeAll(async () => {
    await api.listen();
    ex = new KubernetesExecutor({
      kubeConfig: api.kubeConfig(),
      ...opts,
      now: () => 1_700_000_123_000,
      pollIntervalMs: 10,
      gpusPerNode: 8,
    });
  });
  afterAll(() => api.close());

  it("creates the headless Service, then the indexed Job (both schema-valid); runs once every rank runs; a failing rank fails it", async () => {
    const s0 = await ex.start(lease("G-1", 16));
    expect(s0.phase, s0.reason).toBe("starting");
    const name = s0.externalId!;
    expect(api.calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual([
      "/api/v1/namespaces/zumbido/services",
      "/apis/batch/v1/namespaces/zumbido/jobs",
    ]);
    expect(api.invalid).toEqual([]);
    const job = api.jobs.get(name)!;
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(() => new Service(api.services.get(name) as never).validate()).not.toThrow();
    expect(job.spec).toMatchObject({ completionMode: "Indexed", completions: 2, parallelism: 2 });
    const limits = (
      job.spec as { template: { spec: { containers: { resources: { limits: Record<string, string> } }[] } } }
    ).template.spec.containers[0]!.resources.limits;
    expect(limits["nvidia.com/gpu"]).toBe("8");
    expect(api.podsOf(name)).toHaveLength(2);
    api.runRank(name, 0, "rank 0 up\n");
    expect((await ex.status("G-1"))?.phase).toBe("starting"); // rank 1 not running yet: not billed
    api.runRank(name, 1);
    const running = await ex.status("G-1");
    expect(running).toMatchObject({ phase: "running", startedAt: 1_700_000_001_000 }); // the last rank's start
    expect(await ex.drainLogs("G-1")).toEqual([{ leaseId: "G-1", stream: "stdout", text: "rank 0 up\n" }]);
    api.finishRank(name, 1, 3);
    const end = await ex.status("G-1");
    expect(end).toMatchObject({ phase: "failed", exitCode: 3 });
    expect(end?.reason).toBe(
      "rank 1 of 2: BackoffLimitExceeded: Job has reached the specified backoff limit; Error; exit code 3",
    );
    await ex.forget("G-1");
    expect(api.jobs.has(name)).toBe(false);
    expect(api.services.has(name)).toBe(false);
  });

  it("succeeds when every rank exits 0; stop deletes pods, Job and Service; recover adopts an indexed Job as a gang", async () => {
    const name = (await ex.start(lease("G-2", 16))).externalId!;
    api.runRank(name, 0);
    api.runRank(name, 1);
    api.finishRank(name, 0, 0);
    expect((await ex.status("G-2"))?.phase).toBe("running");
    api.finishRank(name, 1, 0);
    expect((await ex.status("G-2"))?.phase).toBe("succeeded");

    const stopped = (await ex.start(lease("G-3", 16))).externalId!;
    api.runRank(stopped, 0);
    api.runRank(stopped, 1);
    const again = new KubernetesExecutor({
      kubeConfig: api.kubeConfig(),
      ...opts,
      now: () => 1_700_000_123_000,
      pollIntervalMs: 10,
    });
    const recovered = (await again.recover()).find((s) => s.leaseId === "G-3");
    expect(recovered).toMatchObject({ phase: "running", startedAt: 1_700_000_001_000 });
    const s = await again.stop("G-3", 5);
    expect(s?.phase).toBe("cancelled");
    expect(api.podsOf(stopped)).toEqual([]);
    expect(api.jobs.has(stopped)).toBe(false);
    expect(api.services.has(stopped)).toBe(false);
  });

  it("spreads 12 GPUs as 2 x 6, keeps an 8-GPU lease one plain Job, refuses 9 GPUs before calling the API", async () => {
    const twelve = (await ex.start(lease("G-4", 12))).externalId!;
    const spec = api.jobs.get(twelve)!.spec as {
      completions: number;
      template: { spec: { containers: { resources: { limits: Record<string, string> } }[] } };
    };
    expect(spec.completions).toBe(2);
    expect(spec.template.spec.containers[0]!.resources.limits["nvidia.com/gpu"]).toBe("6");
    const eight = (await ex.start(lease("G-5", 8))).externalId!;
    expect((api.jobs.get(eight)!.spec as { completionMode?: string }).completionMode).toBeUndefined();
    expect(api.services.has(eight)).toBe(false);
    const before = api.calls.length;
    const nine = await ex.start(lease("G-6", 9));
    expect(nine.phase).toBe("failed");
    expect(nine.reason).toMatch(
      /^a lease of 9 GPUs does not spread evenly over 2 compute nodes of at most 8 GPUs/,
    );
    expect(api.calls.length).toBe(before);
  });
});
