import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { KubeConfig, V1Job, V1Pod, V1Service } from "@kubernetes/client-node";
import type { Executor, LogChunk, WorkloadPhase, WorkloadSpec, WorkloadStatus } from "../executor.js";
import { statusOf } from "./base.js";
import type { LeaseRecordBase } from "./base.js";
import { splitOverNodes } from "./backend-gang.js";
import { buildGangManifests, gangPodsView } from "./k8s-gang.js";
import { buildJobManifest, K8S_KEYS, labelValue } from "./k8s-manifest.js";

/** Options of the Kubernetes executor. */
export interface KubernetesExecutorOptions {
  /** Loaded cluster config (KubeConfig.loadFromDefault() in main; tests point it at a local server). */
  kubeConfig: KubeConfig;
  namespace: string;
  /** Label value tying Jobs to this agent; recover() adopts only Jobs with it. */
  agentId: string;
  /** Image for job specs that name none. */
  defaultImage: string;
  now: () => number;
  gpuProductLabels?: Record<string, string>;
  /** Bytes of pod log shipped per lease before one truncation notice (default 1 MiB). */
  logCapBytes?: number;
  /** Poll interval while stop() waits, in ms (default 500). */
  pollIntervalMs?: number;
  /**
   * GPUs of each Kubernetes node behind this agent (the agent fronts the cluster as one Zumbido
   * node): a lease of more GPUs runs as ONE indexed Job with a headless Service (k8s-gang.ts).
   * Absent: every lease is one pod.
   */
  gpusPerNode?: number;
}

/** Rendezvous port of a multi-node Job's rank 0: every pod has its own address, so one port serves all. */
export const K8S_GANG_PORT = 29500;

interface Entry extends LeaseRecordBase {
  jobName: string;
  phase: WorkloadPhase;
  stopRequested: boolean;
  podName?: string;
  shippedChars: number;
  truncated: boolean;
  /** Logs read just before the pod was deleted, not yet drained. */
  pending: LogChunk[];
  /** Multi-node: pods (ranks) of the indexed Job; its headless Service has the Job's name. */
  nnodes?: number;
}

const errCode = (e: unknown): number | undefined =>
  typeof (e as { code?: unknown })?.code === "number" ? (e as { code: number }).code : undefined;

/**
 * Runs each lease as a batch/v1 Job (one pod, GPUs via nvidia.com/gpu limits on nodes of the right
 * product). Checkpoint notice: an annotation, visible to the workload in $ZUMBIDO_NOTICE_FILE (the
 * downward API refreshes it); stop: the pod is deleted with the grace period, so the container gets
 * SIGTERM and SIGKILL after the grace, then the Job is deleted (propagation Background).
 */
export class KubernetesExecutor implements Executor {
  readonly kind = "kubernetes" as const;
  readonly runtime = { executor: "kubernetes", images: true, isolated: true } as const;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly entries = new Map<string, Entry>();
  private readonly cap: number;

  constructor(private readonly opts: KubernetesExecutorOptions) {
    this.batch = opts.kubeConfig.makeApiClient(BatchV1Api);
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.cap = opts.logCapBytes ?? 1024 * 1024;
  }

  /** Creates the Job; resolves "starting" once the API server accepted it, or "failed" with the API's words. */
  async start(w: WorkloadSpec): Promise<WorkloadStatus> {
    const known = this.entries.get(w.leaseId);
    if (known) return this.toStatus(known);
    const e = this.newEntry(w.leaseId, "");
    this.entries.set(w.leaseId, e);
    let body: V1Job;
    let service: V1Service | undefined;
    try {
      const o = {
        namespace: this.opts.namespace,
        agentId: this.opts.agentId,
        defaultImage: this.opts.defaultImage,
        gpuProductLabels: this.opts.gpuProductLabels,
      };
      // A gang rank (one agent per Kubernetes node) is one pod; a big lease on a fronting agent spans nodes.
      const split = w.gang ? undefined : splitOverNodes(w.gpuIndices.length, this.opts.gpusPerNode);
      if (split) {
        ({ job: body, service } = buildGangManifests(w, { ...split, masterPort: K8S_GANG_PORT }, o));
        e.nnodes = split.nnodes;
      } else body = buildJobManifest(w, o);
    } catch (err) {
      this.end(e, "failed", null, null, err instanceof Error ? err.message : String(err), this.opts.now());
      return this.toStatus(e);
    }
    e.jobName = body.metadata!.name!;
    const refused = (what: string, err: unknown): WorkloadStatus => {
      this.end(
        e,
        "failed",
        null,
        null,
        `the API server refused the ${what}: ${apiMessage(err)}`,
        this.opts.now(),
      );
      return this.toStatus(e);
    };
    if (service) {
      // The Service first, so rank 0's name resolves as soon as its pod exists; 409: a retried start.
      try {
        await this.core.createNamespacedService({ namespace: this.opts.namespace, body: service });
      } catch (err) {
        if (errCode(err) !== 409) return refused("headless Service", err);
      }
    }
    try {
      await this.batch.createNamespacedJob({ namespace: this.opts.namespace, body });
    } catch (err) {
      if (errCode(err) !== 409) {
        if (service) await this.deleteService(e);
        return refused("Job", err);
      }
      // 409: it already exists (a retried start after a lost answer): adopt it.
    }
    return this.toStatus(e);
  }

  /** Reads the Job and its pod and maps them to a phase. */
  async status(leaseId: string): Promise<WorkloadStatus | undefined> {
    const e = this.entries.get(leaseId);
    if (!e) return undefined;
    if (!e.ended) await this.refresh(e);
    return this.toStatus(e);
  }

  /** Checkpoint notice: annotates the Job and its pod; the workload sees it in $ZUMBIDO_NOTICE_FILE. */
  async notify(leaseId: string): Promise<void> {
    const e = this.entries.get(leaseId);
    if (!e || e.ended) return;
    await this.annotate(e, K8S_KEYS.checkpoint);
  }

  /** Annotates, deletes the pod with gracePeriodSeconds=graceS (SIGTERM, then SIGKILL), deletes the Job; waits for the end. */
  async stop(leaseId: string, graceS: number): Promise<WorkloadStatus | undefined> {
    const e = this.entries.get(leaseId);
    if (!e) return undefined;
    await this.refresh(e);
    if (e.ended) return this.toStatus(e);
    e.stopRequested = true;
    await this.annotate(e, K8S_KEYS.stop);
    e.pending.push(...(await this.readLogs(e))); // pod logs go with the pod
    const grace = Math.max(0, Math.round(graceS));
    for (const p of await this.pods(e)) {
      await this.core
        .deleteNamespacedPod({
          name: p.metadata!.name!,
          namespace: this.opts.namespace,
          gracePeriodSeconds: grace,
        })
        .catch(ignore404);
    }
    await this.batch
      .deleteNamespacedJob({
        name: e.jobName,
        namespace: this.opts.namespace,
        propagationPolicy: "Background",
        gracePeriodSeconds: grace,
      })
      .catch(ignore404);
    await this.deleteService(e);
    const step = this.opts.pollIntervalMs ?? 500;
    for (let waited = 0; !e.ended && waited <= (grace + 60) * 1000; waited += step) {
      await this.refresh(e);
      if (!e.ended) await new Promise((r) => setTimeout(r, step));
    }
    return this.toStatus(e);
  }

  /** Pod log written since the last call, capped per lease (Kubernetes merges stdout and stderr: all reported as stdout). */
  async drainLogs(leaseId: string): Promise<LogChunk[]> {
    const e = this.entries.get(leaseId);
    if (!e) return [];
    const out = e.pending.splice(0);
    out.push(...(await this.readLogs(e)));
    return out;
  }

  /** Lists this agent's Jobs (label zumbido.io/agent) and adopts them. */
  async recover(): Promise<WorkloadStatus[]> {
    const list = await this.batch.listNamespacedJob({
      namespace: this.opts.namespace,
      labelSelector: `${K8S_KEYS.agent}=${labelValue(this.opts.agentId)}`,
    });
    for (const job of list.items) {
      const lease = job.metadata?.annotations?.[K8S_KEYS.lease];
      if (!lease || this.entries.has(lease) || !job.metadata?.name) continue;
      const e = this.newEntry(lease, job.metadata.name);
      if (job.spec?.completionMode === "Indexed" && (job.spec.completions ?? 1) > 1)
        e.nnodes = job.spec.completions!;
      e.stopRequested = job.metadata.annotations?.[K8S_KEYS.stop] !== undefined;
      this.entries.set(lease, e);
    }
    const out: WorkloadStatus[] = [];
    for (const e of this.entries.values()) {
      if (!e.ended) await this.refresh(e);
      out.push(this.toStatus(e));
    }
    return out;
  }

  /** Deletes an ended lease's Job (if still there) and forgets it. */
  async forget(leaseId: string): Promise<void> {
    const e = this.entries.get(leaseId);
    if (!e?.ended) return;
    this.entries.delete(leaseId);
    await this.batch
      .deleteNamespacedJob({
        name: e.jobName,
        namespace: this.opts.namespace,
        propagationPolicy: "Background",
      })
      .catch(ignore404);
    await this.deleteService(e);
  }

  /** A multi-node Job's headless Service goes with it. */
  private async deleteService(e: Entry): Promise<void> {
    if (!e.nnodes || !e.jobName) return;
    await this.core
      .deleteNamespacedService({ name: e.jobName, namespace: this.opts.namespace })
      .catch(ignore404);
  }

  /** No watchers run in the background; forgets the in-memory view. Jobs keep running. */
  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }

  private newEntry(leaseId: string, jobName: string): Entry {
    return {
      leaseId,
      jobId: "",
      jobName,
      phase: "starting",
      stopRequested: false,
      shippedChars: 0,
      truncated: false,
      pending: [],
    };
  }

  private async pods(e: Entry): Promise<V1Pod[]> {
    const r = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `job-name=${e.jobName}`,
    });
    return [...r.items].sort(
      (a, b) => time(a.metadata?.creationTimestamp) - time(b.metadata?.creationTimestamp),
    );
  }

  private async refresh(e: Entry): Promise<void> {
    if (e.ended || !e.jobName) return;
    let job: V1Job | undefined;
    try {
      job = await this.batch.readNamespacedJob({ name: e.jobName, namespace: this.opts.namespace });
    } catch (err) {
      if (errCode(err) !== 404) return; // transient: keep the last view
    }
    const pods = await this.pods(e).catch(() => [] as V1Pod[]);
    // A gang speaks through its first failed rank (else rank 0), runs once every rank runs, logs rank 0.
    const gang = e.nnodes ? gangPodsView(pods, e.nnodes) : undefined;
    const pod = gang ? gang.pod : pods.at(-1);
    const podName = gang ? gang.logPod : pod?.metadata?.name;
    if (podName) e.podName = podName;
    const started = gang ? (gang.startedAt ?? 0) : time(pod?.status?.startTime ?? job?.status?.startTime);
    if (started > 0 && e.startedAt === undefined) e.startedAt = started;
    const term = pod?.status?.containerStatuses?.find((c) => c.name === "workload")?.state?.terminated;
    const exitCode = term?.exitCode ?? null;
    const signal = term?.signal
      ? `signal ${term.signal}`
      : exitCode !== null && exitCode > 128
        ? `exit ${exitCode} (signal ${exitCode - 128})`
        : null;
    const endedAt = time(term?.finishedAt ?? job?.status?.completionTime) || this.opts.now();
    if (!job) {
      if (pod && !term && pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed") return; // pod still terminating
      if (e.stopRequested)
        this.end(e, "cancelled", exitCode, signal, "stopped by the agent; Job deleted", endedAt);
      else this.end(e, "failed", exitCode, signal, "the Job was deleted outside Zumbido", endedAt);
      return;
    }
    const cond = (t: string): { reason?: string; message?: string } | undefined =>
      job.status?.conditions?.find((c) => c.type === t && c.status === "True");
    const failed = cond("Failed");
    if (cond("Complete")) {
      this.end(
        e,
        e.stopRequested ? "cancelled" : "succeeded",
        exitCode ?? 0,
        null,
        "exited with code 0",
        endedAt,
      );
    } else if (failed || pod?.status?.phase === "Failed") {
      const why =
        [
          failed?.reason ? `${failed.reason}${failed.message ? `: ${failed.message}` : ""}` : "",
          term?.reason ?? "",
          term?.message ?? "",
        ]
          .filter(Boolean)
          .join("; ") || "pod failed";
      const who = gang && gang.rank !== undefined && term ? `rank ${gang.rank} of ${e.nnodes}: ` : "";
      this.end(
        e,
        e.stopRequested ? "cancelled" : "failed",
        exitCode,
        signal,
        `${who}${why}${exitCode !== null ? `; exit code ${exitCode}` : ""}`,
        endedAt,
      );
    } else if (gang ? gang.running : pod?.status?.phase === "Running") {
      e.phase = "running";
    } else {
      e.phase = "starting";
    }
  }

  private async annotate(e: Entry, key: string): Promise<void> {
    const body = { metadata: { annotations: { [key]: new Date(this.opts.now()).toISOString() } } };
    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    await this.batch
      .patchNamespacedJob({ name: e.jobName, namespace: this.opts.namespace, body }, merge)
      .catch(ignore404);
    for (const p of await this.pods(e)) {
      await this.core
        .patchNamespacedPod({ name: p.metadata!.name!, namespace: this.opts.namespace, body }, merge)
        .catch(ignore404);
    }
  }

  private async readLogs(e: Entry): Promise<LogChunk[]> {
    if (e.truncated || !e.podName) return [];
    let text: string;
    try {
      text = await this.core.readNamespacedPodLog({
        name: e.podName,
        namespace: this.opts.namespace,
        container: "workload",
        limitBytes: this.cap,
      });
    } catch {
      return []; // not started yet, or gone
    }
    const out: LogChunk[] = [];
    if (text.length > e.shippedChars) {
      out.push({ leaseId: e.leaseId, stream: "stdout", text: text.slice(e.shippedChars) });
      e.shippedChars = text.length;
    }
    if (Buffer.byteLength(text) >= this.cap) {
      e.truncated = true;
      out.push({
        leaseId: e.leaseId,
        stream: "stderr",
        text: `\n[zumbido] log output truncated: the cap of ${this.cap} bytes per lease was reached; further output is dropped\n`,
      });
    }
    return out;
  }

  private end(
    e: Entry,
    phase: WorkloadPhase,
    exitCode: number | null,
    signal: string | null,
    reason: string,
    endedAt: number,
  ): void {
    if (e.ended) return;
    e.ended = { phase, exitCode, signal, reason, endedAt };
    e.phase = phase;
  }

  private toStatus(e: Entry): WorkloadStatus {
    // The device plugin does not tell the API which host GPUs it gave: indices stay unknown here.
    return statusOf(e, e.phase, e.jobName || undefined);
  }
}

function time(v: Date | string | undefined): number {
  if (!v) return 0;
  const t = v instanceof Date ? v.getTime() : new Date(v).getTime();
  return Number.isFinite(t) ? t : 0;
}

function ignore404(err: unknown): void {
  if (errCode(err) !== 404) throw err;
}

function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === "object" && "message" in body)
    return String((body as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}
