import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { Job } from "kubernetes-models/batch/v1";
import { Service } from "kubernetes-models/v1";

/** One request the fake API server saw. */
export interface ApiCall {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  body?: unknown;
}

type Obj = {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  };
  [k: string]: unknown;
};

/**
 * A tiny HTTP server speaking the few Kubernetes API paths the executor uses (jobs, pods, pod log,
 * services), keeping objects in memory. Every Job and Service posted to it is validated against the
 * official schema (kubernetes-models). An indexed Job gets one pod per completion index, as the Job
 * controller makes them. Tests drive pods through their life with run()/finish()/finishRank().
 */
export class FakeKubeApi {
  readonly calls: ApiCall[] = [];
  readonly invalid: string[] = [];
  readonly jobs = new Map<string, Obj>();
  readonly pods = new Map<string, Obj>();
  readonly logs = new Map<string, string>();
  readonly services = new Map<string, Obj>();
  private server?: Server;
  private port = 0;
  private seq = 0;

  /** Starts listening on 127.0.0.1 (random port). */
  async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    const addr = this.server.address();
    this.port = typeof addr === "object" && addr ? addr.port : 0;
  }

  /** Stops the server. */
  async close(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  /** A KubeConfig pointing at this server. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "test-token" }],
      contexts: [{ name: "fake", cluster: "fake", user: "u", namespace: "zumbido" }],
      currentContext: "fake",
    });
    return kc;
  }

  /** The pod of a Job (first one). */
  podOf(jobName: string): Obj | undefined {
    return [...this.pods.values()].find((p) => p.metadata.labels?.["job-name"] === jobName);
  }

  /** The pods of an indexed Job by completion index. */
  podsOf(jobName: string): Obj[] {
    return [...this.pods.values()]
      .filter((p) => p.metadata.labels?.["job-name"] === jobName)
      .sort(
        (a, b) =>
          Number(a.metadata.annotations?.["batch.kubernetes.io/job-completion-index"]) -
          Number(b.metadata.annotations?.["batch.kubernetes.io/job-completion-index"]),
      );
  }

  /** Marks one rank's pod of an indexed Job running (started at 1_700_000_000_000 + index s). */
  runRank(jobName: string, index: number, log = ""): void {
    const p = this.podsOf(jobName)[index]!;
    p.status = {
      phase: "Running",
      startTime: new Date(1_700_000_000_000 + index * 1000).toISOString(),
      containerStatuses: [{ name: "workload", state: { running: {} } }],
    };
    this.logs.set(p.metadata.name, log);
  }

  /**
   * Ends one rank's pod with an exit code. A non-zero code fails the Job (backoffLimit 0), and the Job
   * controller deletes the other ranks' pods; when every rank exited 0, the Job is Complete.
   */
  finishRank(jobName: string, index: number, exitCode: number): void {
    const pods = this.podsOf(jobName);
    const p = pods[index]!;
    const finishedAt = new Date(1_700_000_060_000).toISOString();
    p.status = {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      startTime: (p.status as { startTime?: string } | undefined)?.startTime,
      containerStatuses: [
        {
          name: "workload",
          state: { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", finishedAt } },
        },
      ],
    };
    const job = this.jobs.get(jobName)!;
    const done = pods.every((q) => (q.status as { phase?: string } | undefined)?.phase === "Succeeded");
    if (exitCode !== 0) {
      for (const q of pods) if (q !== p) this.pods.delete(q.metadata.name);
      job.status = {
        conditions: [
          {
            type: "Failed",
            status: "True",
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
          },
        ],
      };
    } else if (done)
      job.status = { completionTime: finishedAt, conditions: [{ type: "Complete", status: "True" }] };
  }

  /** Marks the Job's pod running with this log. */
  run(jobName: string, log = ""): void {
    const p = this.podOf(jobName)!;
    p.status = {
      phase: "Running",
      startTime: new Date(1_700_000_000_000).toISOString(),
      containerStatuses: [{ name: "workload", state: { running: {} } }],
    };
    this.logs.set(p.metadata.name, log);
  }

  /** Ends the Job's pod with an exit code; sets the Job's Complete/Failed condition like the Job controller. */
  finish(jobName: string, exitCode: number, extra: { reason?: string; message?: string } = {}): void {
    const p = this.podOf(jobName)!;
    const finishedAt = new Date(1_700_000_060_000).toISOString();
    p.status = {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      startTime: new Date(1_700_000_000_000).toISOString(),
      containerStatuses: [
        {
          name: "workload",
          state: {
            terminated: {
              exitCode,
              reason: extra.reason ?? (exitCode === 0 ? "Completed" : "Error"),
              message: extra.message,
              finishedAt,
            },
          },
        },
      ],
    };
    const job = this.jobs.get(jobName)!;
    job.status = {
      startTime: new Date(1_700_000_000_000).toISOString(),
      completionTime: exitCode === 0 ? finishedAt : undefined,
      conditions: [
        {
          type: exitCode === 0 ? "Complete" : "Failed",
          status: "True",
          reason: exitCode === 0 ? undefined : "BackoffLimitExceeded",
          message: exitCode === 0 ? undefined : "Job has reached the specified backoff limit",
        },
      ],
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    const call: ApiCall = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: req.headers["content-type"],
      body,
    };
    this.calls.push(call);
    const send = (code: number, obj: unknown, type = "application/json"): void => {
      res.writeHead(code, { "content-type": type });
      res.end(typeof obj === "string" ? obj : JSON.stringify(obj));
    };
    const notFound = (what: string): void =>
      send(404, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message: `${what} not found`,
        reason: "NotFound",
        code: 404,
      });
    let m: RegExpExecArray | null;

    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(url.pathname))) {
      if (call.method === "POST") {
        const job = body as Obj;
        try {
          new Job(job as never).validate();
        } catch (e) {
          this.invalid.push(String(e));
          return send(422, {
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            message: `invalid Job: ${String(e)}`,
            reason: "Invalid",
            code: 422,
          });
        }
        if (this.jobs.has(job.metadata.name))
          return send(409, {
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            message: "already exists",
            reason: "AlreadyExists",
            code: 409,
          });
        job.metadata.creationTimestamp = new Date().toISOString();
        job.status = {};
        this.jobs.set(job.metadata.name, job);
        const tpl = (
          job.spec as {
            template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
          }
        ).template;
        const spec = job.spec as { completionMode?: string; completions?: number };
        const indices =
          spec.completionMode === "Indexed" ? [...Array(spec.completions ?? 1).keys()] : [undefined];
        for (const index of indices) {
          const ix: Record<string, string> =
            index === undefined ? {} : { "batch.kubernetes.io/job-completion-index": String(index) };
          const podName = `${job.metadata.name}-${index === undefined ? "" : `${index}-`}${(++this.seq).toString(36).padStart(5, "0")}`;
          this.pods.set(podName, {
            apiVersion: "v1",
            kind: "Pod",
            metadata: {
              name: podName,
              namespace: m[1],
              labels: { ...tpl.metadata.labels, "job-name": job.metadata.name, ...ix },
              annotations: { ...tpl.metadata.annotations, ...ix },
              creationTimestamp: new Date().toISOString(),
            },
            status: { phase: "Pending" },
          });
        }
        return send(201, job);
      }
      return send(200, {
        apiVersion: "batch/v1",
        kind: "JobList",
        metadata: {},
        items: this.select(this.jobs, url.searchParams.get("labelSelector")),
      });
    }
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)$/.exec(url.pathname))) {
      const job = this.jobs.get(m[2]!);
      if (!job) return notFound(`jobs.batch "${m[2]}"`);
      if (call.method === "GET") return send(200, job);
      if (call.method === "PATCH") return send(200, this.mergeAnnotations(job, body));
      if (call.method === "DELETE") {
        this.jobs.delete(m[2]!);
        if (url.searchParams.get("propagationPolicy") !== "Orphan")
          for (const [n, p] of this.pods) if (p.metadata.labels?.["job-name"] === m[2]) this.pods.delete(n);
        return send(200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/services$/.exec(url.pathname)) && call.method === "POST") {
      const svc = body as Obj;
      try {
        new Service(svc as never).validate();
      } catch (e) {
        this.invalid.push(String(e));
        return send(422, {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message: `invalid Service: ${String(e)}`,
          code: 422,
        });
      }
      if (this.services.has(svc.metadata.name))
        return send(409, {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message: "already exists",
          code: 409,
        });
      this.services.set(svc.metadata.name, svc);
      return send(201, svc);
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)$/.exec(url.pathname))) {
      const svc = this.services.get(m[2]!);
      if (!svc) return notFound(`services "${m[2]}"`);
      if (call.method === "DELETE") this.services.delete(m[2]!);
      return send(200, svc);
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname))) {
      return send(200, {
        apiVersion: "v1",
        kind: "PodList",
        metadata: {},
        items: this.select(this.pods, url.searchParams.get("labelSelector")),
      });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname))) {
      const log = this.logs.get(m[2]!);
      if (log === undefined)
        return send(400, {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message: "container is waiting to start",
          code: 400,
        });
      const limit = Number(url.searchParams.get("limitBytes") ?? Infinity);
      return send(200, Buffer.from(log).subarray(0, limit).toString("utf8"), "text/plain");
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname))) {
      const pod = this.pods.get(m[2]!);
      if (!pod) return notFound(`pods "${m[2]}"`);
      if (call.method === "PATCH") return send(200, this.mergeAnnotations(pod, body));
      if (call.method === "DELETE") {
        this.pods.delete(m[2]!); // the kubelet would SIGTERM, wait gracePeriodSeconds, SIGKILL
        return send(200, pod);
      }
      return send(200, pod);
    }
    notFound(url.pathname);
  }

  private mergeAnnotations(obj: Obj, patch: unknown): Obj {
    const ann =
      (patch as { metadata?: { annotations?: Record<string, string> } })?.metadata?.annotations ?? {};
    obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), ...ann };
    return obj;
  }

  private select(store: Map<string, Obj>, selector: string | null): Obj[] {
    const want = (selector ?? "")
      .split(",")
      .filter(Boolean)
      .map((kv) => kv.split("=") as [string, string]);
    return [...store.values()].filter((o) => want.every(([k, v]) => o.metadata.labels?.[k] === v));
  }
}
