// The control plane's end of the relay: each node agent keeps one WebSocket here (GET
// /v1/agent/relay); tenants' streams (exec, TCP ports) are opened over it into the job's running
// workload. Bytes only pass through (flow-controlled, see src/relay/mux.ts); none are kept.
import type { Duplex, Readable } from "node:stream";
import type { WebSocket } from "ws";
import { conflict, notFound } from "../../domain/index.js";
import { Mux, type ExitCode } from "../../relay/mux.js";
import { targetProblem, type RelayTarget } from "../../relay/frames.js";
import { invalid } from "../../domain/index.js";
import type { Ctx, Principal } from "../context.js";

export type { RelayTarget } from "../../relay/frames.js";

/** A byte stream into a job's running workload. */
export type RelayStream = Duplex & {
  /** Exec streams: the process's stderr. */
  readonly stderr: Readable;
  /** Exec streams: the exit code (128 + signal number after a signal); null when it ended without one. */
  readonly exit: Promise<ExitCode>;
};

export interface RelayHub {
  /** A byte stream into the job's running container; NotFoundError when the caller may not see the job or it has no live relay. */
  openStream(principal: Principal, jobId: string, target: RelayTarget): Promise<RelayStream>;
  /** Epoch ms of the last byte relayed for this job (for --idle-stop), undefined if none. */
  lastActivityMs(jobId: string): number | undefined;
}

/** Milliseconds between the hub's pings; an agent that has not answered the last one by the next is dropped. */
const PING_MS = 20_000;

/** The relay hub of one control-plane process. */
export class ControlRelayHub implements RelayHub {
  private readonly agents = new Map<string, { mux: Mux; ws: WebSocket; alive: boolean }>();
  private readonly activity = new Map<string, number>();
  private readonly pinger: NodeJS.Timeout;

  constructor(private readonly ctx: Ctx) {
    this.pinger = setInterval(() => this.ping(), PING_MS);
    this.pinger.unref();
  }

  /** Takes a node agent's relay WebSocket (replacing an earlier one of the same node). */
  attachAgent(nodeId: string, ws: WebSocket): void {
    this.agents.get(nodeId)?.mux.close("the node opened a newer relay connection");
    const mux = new Mux(ws, { onActivity: (s) => this.activity.set(s.request.jobId, this.ctx.clock.now()) });
    const entry = { mux, ws, alive: true };
    this.agents.set(nodeId, entry);
    ws.on("pong", () => (entry.alive = true));
    ws.on("ping", () => (entry.alive = true));
    ws.on("close", () => {
      if (this.agents.get(nodeId) === entry) this.agents.delete(nodeId);
    });
  }

  /** Whether the node has a relay connection to this process. */
  connected(nodeId: string): boolean {
    return this.agents.has(nodeId);
  }

  async openStream(p: Principal, jobId: string, target: RelayTarget): Promise<RelayStream> {
    const bad = targetProblem(target);
    if (bad) throw invalid(bad);
    // Only the job's own tenant: other tenants, operators and admins get the same 404 as for a
    // job that does not exist (no probing of ids, and nobody else gets into a tenant's workload).
    const job = p.role === "tenant" && p.ownerId ? await this.ctx.store.jobs.getJob(jobId) : undefined;
    if (!job || job.tenantId !== p.ownerId) throw notFound("job", jobId);
    const leases = (await this.ctx.store.jobs.leasesForJob(jobId))
      .filter((l) => l.state === "running")
      .sort((a, b) => (a.gang?.rank ?? 0) - (b.gang?.rank ?? 0));
    const lease = leases.find((l) => this.agents.has(l.nodeId));
    if (!lease)
      throw notFound(
        leases.length ? "a live relay for job" : "a running workload of job",
        `${jobId} (${leases.length ? "its node is not connected to the relay right now; retry shortly" : "it is not running"})`,
      );
    const agent = this.agents.get(lease.nodeId)!;
    try {
      return await agent.mux.open({ jobId, leaseId: lease.id, target });
    } catch (err) {
      throw conflict(`the node could not open the stream: ${(err as Error).message}`);
    }
  }

  lastActivityMs(jobId: string): number | undefined {
    return this.activity.get(jobId);
  }

  /** Drops every agent connection (server shutdown). */
  close(): void {
    clearInterval(this.pinger);
    for (const a of this.agents.values()) a.mux.close("the control plane is shutting down");
    this.agents.clear();
  }

  private ping(): void {
    for (const [nodeId, a] of this.agents) {
      if (!a.alive) {
        a.mux.close("the node stopped answering pings");
        this.agents.delete(nodeId);
        continue;
      }
      a.alive = false;
      if (a.ws.readyState === a.ws.OPEN) a.ws.ping();
    }
  }
}
