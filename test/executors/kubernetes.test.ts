import { KubeConfig } from "@kubernetes/client-node";
import { Job } from "kubernetes-models/batch/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  buildJobManifest,
  k8sName,
  labelValue,
  NOTICE_FILE,
} from "../../src/agent/executors/k8s-manifest.js";
import { KubernetesExecutor } from "../../src/agent/executors/kubernetes.js";
import type { WorkloadSpec } from "../../src/agent/executor.js";
import { executorConformance } from "./conformance.js";
import { FakeKubeApi } from "./k8s-fake-api.js";

const w = (over: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
  leaseId: "lease_01HZX/Weird Id",
  jobId: "job-1",
  gpuModel: "H100",
  gpuIndices: [0, 1],
  maxRuntimeS: 3600.5,
  spec: {
    command: ["python3", "train.py"],
    env: { LR: "0.001", CUDA_VISIBLE_DEVICES: "7" },
    image: "nvcr.io/nvidia/pytorch:24.05-py3",
    gracePeriodS: 45,
  },
  ...over,
});
const opts = { namespace: "zumbido", agentId: "node-7", defaultImage: "busybox:1.36" };

describe("Kubernetes Job manifest", () => {
  it("is a valid batch/v1 Job with GPU limits, product selector, toleration, deadline and lease labels", () => {
    const job = buildJobManifest(w(), opts);
    expect(() => new Job(job as never).validate()).not.toThrow();
    const pod = job.spec!.template.spec!;
    expect(job.spec!.backoffLimit).toBe(0);
    expect(job.spec!.activeDeadlineSeconds).toBe(3601);
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.terminationGracePeriodSeconds).toBe(45);
    expect(pod.nodeSelector).toEqual({ "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" });
    expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    const c = pod.containers[0]!;
    expect(c.resources?.limits).toEqual({ cpu: "16", memory: "128Gi", "nvidia.com/gpu": "2" });
    expect(c.image).toBe("nvcr.io/nvidia/pytorch:24.05-py3");
    expect(c.env).toContainEqual({ name: "CUDA_VISIBLE_DEVICES", value: "0,1" });
    expect(c.env).not.toContainEqual({ name: "CUDA_VISIBLE_DEVICES", value: "7" });
    expect(c.env).toContainEqual({ name: "ZUMBIDO_NOTICE_FILE", value: NOTICE_FILE });
    expect(job.metadata!.labels!["zumbido.io/lease-id"]).toBe("lease_01HZX-Weird-Id");
    expect(job.metadata!.annotations!["zumbido.io/lease-id"]).toBe("lease_01HZX/Weird Id");
    expect(job.metadata!.name).toMatch(/^zumbido-lease-01hzx-weird-id-[0-9a-f]{8}$/);
  });

  it("runs tenant code restricted: non-root, read-only root, no capabilities, no API token, limits", () => {
    const job = buildJobManifest(w(), { ...opts, runAsUser: 2000, cpuPerGpu: 4, memoryGiBPerGpu: 32 });
    expect(() => new Job(job as never).validate()).not.toThrow();
    const pod = job.spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 2000,
      runAsGroup: 2000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const c = pod.containers[0]!;
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.resources?.limits).toEqual({ cpu: "8", memory: "64Gi", "nvidia.com/gpu": "2" });
    expect(c.resources?.requests).toEqual({ cpu: "8", memory: "64Gi" });
    // Writable scratch only where the workload needs it.
    expect(c.volumeMounts?.map((m) => m.mountPath).sort()).toEqual(["/etc/zumbido/podinfo", "/tmp", "/work"]);
    expect(c.workingDir).toBe("/work");
    // The image the server resolved wins over the spec's.
    const resolved = buildJobManifest(w({ image: "registry.example/acme/train:1" }), opts);
    expect(resolved.spec!.template.spec!.containers[0]!.image).toBe("registry.example/acme/train:1");
  });

  it("validates for every catalogue model, a CPU-only job and shell commands", () => {
    for (const gpuModel of ["H200", "H100-PCIE", "A100", "L40S", "RTX4090"])
      expect(() => new Job(buildJobManifest(w({ gpuModel }), opts) as never).validate()).not.toThrow();
    const cpu = buildJobManifest(w({ gpuIndices: [], spec: { command: ["echo hi"], shell: true } }), opts);
    expect(() => new Job(cpu as never).validate()).not.toThrow();
    expect(cpu.spec!.template.spec!.nodeSelector).toBeUndefined();
    expect(cpu.spec!.template.spec!.containers[0]!.command).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(cpu.spec!.template.spec!.containers[0]!.image).toBe("busybox:1.36");
  });

  it("refuses an unknown GPU model with a message saying how to fix it", () => {
    expect(() => buildJobManifest(w({ gpuModel: "MI300X" }), opts)).toThrow(/add it to gpuProductLabels/);
    expect(
      buildJobManifest(w({ gpuModel: "MI300X" }), { ...opts, gpuProductLabels: { MI300X: "AMD-MI300X" } })
        .spec!.template.spec!.nodeSelector,
    ).toEqual({ "nvidia.com/gpu.product": "AMD-MI300X" });
  });

  it("makes valid, distinct names and label values from any lease id", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.string({ minLength: 1, maxLength: 200 }),
        (a, b) => {
          const n = k8sName("zumbido", a);
          expect(n.length).toBeLessThanOrEqual(63);
          expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
          if (a !== b) expect(n).not.toBe(k8sName("zumbido", b));
          expect(labelValue(a)).toMatch(/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/);
          expect(() =>
            new Job(buildJobManifest(w({ leaseId: a, jobId: b }), opts) as never).validate(),
          ).not.toThrow();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("KubernetesExecutor against a fake API server", () => {
  const api = new FakeKubeApi();
  let ex: KubernetesExecutor;
  beforeAll(async () => {
    await api.listen();
    ex = new KubernetesExecutor({
      kubeConfig: api.kubeConfig(),
      ...opts,
      now: () => 1_700_000_123_000,
      pollIntervalMs: 10,
    });
  });
  afterAll(() => api.close());

  it("creates the Job (schema-valid), follows the pod to success and streams its log", async () => {
    const s0 = await ex.start(w({ leaseId: "L-ok" }));
    expect(s0.phase).toBe("starting");
    const post = api.calls.find((c) => c.method === "POST")!;
    expect(post.path).toBe("/apis/batch/v1/namespaces/zumbido/jobs");
    expect(api.invalid).toEqual([]);
    const name = s0.externalId!;
    expect((await ex.status("L-ok"))?.phase).toBe("starting");
    api.run(name, "step 1\n");
    expect((await ex.status("L-ok"))?.phase).toBe("running");
    expect(await ex.drainLogs("L-ok")).toEqual([{ leaseId: "L-ok", stream: "stdout", text: "step 1\n" }]);
    api.logs.set(api.podOf(name)!.metadata.name, "step 1\nstep 2\n");
    expect((await ex.drainLogs("L-ok")).map((c) => c.text)).toEqual(["step 2\n"]);
    api.finish(name, 0);
    const s = await ex.status("L-ok");
    expect(s).toMatchObject({
      phase: "succeeded",
      exitCode: 0,
      startedAt: 1_700_000_000_000,
      endedAt: 1_700_000_060_000,
    });
  });

  it("reports a failed pod with its exit code and the Job controller's reason", async () => {
    const name = (await ex.start(w({ leaseId: "L-fail" }))).externalId!;
    api.run(name);
    api.finish(name, 3);
    const s = await ex.status("L-fail");
    expect(s?.phase).toBe("failed");
    expect(s?.exitCode).toBe(3);
    expect(s?.reason).toMatch(/^BackoffLimitExceeded: .*; Error; exit code 3$/);
  });

  it("notifies by annotating Job and pod with a merge patch, then stops by deleting pod (grace) and Job (Background)", async () => {
    const name = (await ex.start(w({ leaseId: "L-stop" }))).externalId!;
    api.run(name, "working\n");
    await ex.notify("L-stop");
    const patches = api.calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => c.path)).toEqual([
      `/apis/batch/v1/namespaces/zumbido/jobs/${name}`,
      `/api/v1/namespaces/zumbido/pods/${api.podOf(name)!.metadata.name}`,
    ]);
    expect(patches.every((c) => c.contentType === "application/merge-patch+json")).toBe(true);
    expect(api.podOf(name)!.metadata.annotations!["zumbido.io/checkpoint-requested-at"]).toBe(
      new Date(1_700_000_123_000).toISOString(),
    );
    const podName = api.podOf(name)!.metadata.name;
    const s = await ex.stop("L-stop", 20);
    expect(s?.phase).toBe("cancelled");
    const delPod = api.calls.find((c) => c.method === "DELETE" && c.path.endsWith(`/pods/${podName}`))!;
    expect(delPod.query.gracePeriodSeconds).toBe("20");
    const delJob = api.calls.find((c) => c.method === "DELETE" && c.path.endsWith(`/jobs/${name}`))!;
    expect(delJob.query.propagationPolicy).toBe("Background");
    // The log read just before deletion is still delivered.
    expect((await ex.drainLogs("L-stop")).map((c) => c.text).join("")).toBe("working\n");
  });

  it("caps the shipped log and says so once", async () => {
    const small = new KubernetesExecutor({
      kubeConfig: api.kubeConfig(),
      ...opts,
      now: () => 0,
      logCapBytes: 10,
    });
    const name = (await small.start(w({ leaseId: "L-cap" }))).externalId!;
    api.run(name, "0123456789abcdef");
    await small.status("L-cap");
    const chunks = await small.drainLogs("L-cap");
    expect(chunks.map((c) => c.text)[0]).toBe("0123456789");
    expect(chunks.filter((c) => c.text.includes("truncated"))).toHaveLength(1);
    expect(await small.drainLogs("L-cap")).toEqual([]);
  });

  it("recovers this agent's Jobs after a restart, and only those", async () => {
    const other = new KubernetesExecutor({
      kubeConfig: api.kubeConfig(),
      ...opts,
      agentId: "node-8",
      now: () => 0,
    });
    await other.start(w({ leaseId: "L-other" }));
    const fresh = new KubernetesExecutor({ kubeConfig: api.kubeConfig(), ...opts, now: () => 0 });
    const got = await fresh.recover();
    const ids = got.map((s) => s.leaseId).sort();
    expect(ids).toEqual(["L-cap", "L-fail", "L-ok"]);
    expect(got.find((s) => s.leaseId === "L-fail")).toMatchObject({ phase: "failed", exitCode: 3 });
    const list = api.calls
      .filter((c) => c.method === "GET" && c.path === "/apis/batch/v1/namespaces/zumbido/jobs")
      .at(-1)!;
    expect(list.query.labelSelector).toBe("zumbido.io/agent=node-7");
  });

  it("turns an API refusal into a failed status with the server's message", async () => {
    const s = await ex.start(w({ leaseId: "L-bad", spec: { command: [] } }));
    expect(s).toMatchObject({ phase: "failed", reason: "spec.command is empty: give [program, ...args]" });
    const again = await ex.start(w({ leaseId: "L-ok" })); // same lease twice: the known status, no second Job
    expect(again.phase).toBe("succeeded");
  });
});

const kubeconfig = process.env.KUBECONFIG;
executorConformance(
  "kubernetes",
  (key) => {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new KubernetesExecutor({
      kubeConfig: kc,
      namespace: process.env.ZUMBIDO_K8S_NAMESPACE ?? "default",
      agentId: `conf-${process.pid}-${key}`.slice(0, 60),
      defaultImage: "busybox:1.36",
      now: () => Date.now(),
      pollIntervalMs: 500,
    });
  },
  {
    gpuModel: "H100",
    gpuIndices: [],
    engineChoosesGpus: true,
    hostGpuIndicesHidden: true,
    noticeSignal: "TERM",
    noticeScript: `echo ready; until grep -q checkpoint-requested "$ZUMBIDO_NOTICE_FILE" 2>/dev/null; do sleep 0.2; done; echo notice-received; exit 0`,
    exitKnownAfterRestart: true,
    timeoutMs: 120_000,
    skipReason: kubeconfig
      ? undefined
      : "KUBECONFIG is not set (no Kubernetes API server here); the executor is tested up to the API boundary above",
  },
);
