import type {
  Gpu,
  GpuCatalogue,
  Node,
  NodeCluster,
  NodeRuntime,
  Site,
  UsageRecord,
} from "../domain/index.js";
import { DomainError, effectiveImage, forbidden, gpuPowerW, invalid } from "../domain/index.js";
import type { Assignment, StopOrder, WorkloadReport } from "../contract/index.js";
import { leaseUsageBounds, USAGE_TOLERANCE_MS, type LeaseUsageBounds } from "../ledger/index.js";
import type { IngestResult, LeaseRecord } from "../store/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";
import { loadGpuCatalogue, resolveReportedGpus } from "./gpu-models-service.js";
import { settleEndedLease } from "./lease-end.js";
import { gangAssignment, gangOf, releaseReadyGangs } from "./gang.js";
import { recordCheckpointReport } from "./checkpoint-events.js";
import { removableCheckpoints, transferOrders, waitsForCopy, type TransferOrder } from "./checkpoint-copy.js";
import { recordGpuActivity } from "./instance-guard.js";
import { SecretsService } from "./secrets-service.js";
import type { ClusterView } from "./cluster-view.js";
import { MAX_ORDERS_WAIT_MS, OrderWaiters } from "./orders.js";
import { heartbeatIntervalMs, steadyLagMs } from "./heartbeat-policy.js";

export { MAX_REPORT_REASON } from "./lease-end.js";

// The wire shapes (assignments, stop orders, workload reports) are the contract's (src/contract).
export type { Assignment, StopOrder, WorkloadReport };

/** The node side of the API: heartbeats, assignments, workload reports, usage and logs. */
export class AgentService {
  private readonly secrets: SecretsService;
  private readonly waiters = new OrderWaiters();
  private waitersHooked = false;

  constructor(private readonly ctx: Ctx) {
    this.secrets = new SecretsService(ctx);
  }

  private nodeId(p: Principal): string {
    requireRole(p, "node");
    return ownerOf(p);
  }

  private async ownLease(nodeId: string, leaseId: string): Promise<LeaseRecord> {
    const lease = await this.ctx.store.jobs.getLease(leaseId);
    if (!lease || lease.nodeId !== nodeId) throw forbidden(`lease ${leaseId} is not held by this node`);
    return lease;
  }

  /** Records a heartbeat and answers with what to run and what to stop. */
  async heartbeat(
    p: Principal,
    hb: {
      gpus: Gpu[];
      driverVersion?: string | null;
      health: { healthy: boolean; reasons: string[] };
      workloads: WorkloadReport[];
      runtime?: NodeRuntime;
      cluster?: NodeCluster;
      checkpoints?: string[];
    },
  ): Promise<{
    assignments: Assignment[];
    stops: StopOrder[];
    serverTime: number;
    intervalMs: number;
    transfers: TransferOrder[];
    removableCheckpoints?: string[];
  }> {
    const nodeId = this.nodeId(p);
    const now = this.ctx.clock.now();
    // The cluster view (every replica keeps one) answers a steady heartbeat without a read: the GPU
    // catalogue, the node's status to compare with, its leases. Without one, the store answers.
    // In a large fleet a steady beat (every workload it reports runs on a lease the view has running,
    // so the reports write nothing) may be answered from a view a little behind this replica's
    // latest writes (heartbeat-policy.ts, steadyLagMs): it does not wait for a sync of the feed.
    const kept = this.ctx.view;
    const lagMs = kept?.ready() ? steadyLagMs(kept.nodeCount() ?? 0) : 0;
    const steady =
      lagMs > 0 &&
      hb.workloads.every((w) => {
        const l = w.phase === "running" ? kept!.lease(w.leaseId) : undefined;
        return l !== undefined && l.nodeId === nodeId && l.state === "running";
      });
    let lag = steady ? { lagMs } : {};
    const view = await this.ctx.view?.current(now, lag);
    const catalogue = view?.catalogue() ?? (await loadGpuCatalogue(this.ctx.store));
    const gpus = resolveReportedGpus(hb.gpus, catalogue);
    const statusWritten = await this.ctx.store.fleet.heartbeat(
      nodeId,
      gpus,
      hb.driverVersion ?? null,
      now,
      hb.health,
      hb.runtime,
      hb.cluster,
      view?.node(nodeId),
    );
    // A beat that wrote the node's status reads its own write from here on.
    if (statusWritten) lag = {};
    for (const w of hb.workloads) await this.apply(nodeId, w, view);
    const reported = new Set(hb.workloads.map((w) => w.leaseId));
    const leasesNow = async (): Promise<LeaseRecord[]> =>
      view
        ? ((await view.current(now, lag)).leasesOn(nodeId) ??
          (await this.ctx.store.jobs.activeLeases(nodeId)))
        : this.ctx.store.jobs.activeLeases(nodeId);
    // A lease stopped before this node ever took it up has no workload to wait for: it ends now.
    for (const l of await leasesNow()) {
      if (l.state !== "stopping" || l.startedAt !== null || reported.has(l.id)) continue;
      const before = await this.ctx.store.jobs.endLease(l.id, now);
      if (before)
        await settleEndedLease(
          this.ctx,
          before,
          { phase: "cancelled", reason: "stopped before the node started it" },
          now,
        );
    }
    // Start barrier: gangs whose ranks are all ready now are released (the other nodes hear it next).
    let active = await leasesNow();
    if ((await releaseReadyGangs(this.ctx, active, now)).length > 0) active = await leasesNow();
    const { assignments, stops } = await this.ordersFor(active, reported, gpus, catalogue, now);
    // Workloads the agent still runs for leases that ended here (e.g. lost while offline) must stop.
    const activeIds = new Set(active.map((l) => l.id));
    for (const w of hb.workloads) {
      if ((w.phase === "running" || w.phase === "starting") && !activeIds.has(w.leaseId))
        stops.push({ leaseId: w.leaseId, reason: "lease ended", graceS: 0 });
    }
    // No nudge here: a busy heartbeat changes nothing the scheduler needs (reports that end work nudge).
    const transfers = await transferOrders(this.ctx, nodeId, view?.openTransfersOf(nodeId));
    const changing =
      assignments.length > 0 ||
      stops.length > 0 ||
      transfers.length > 0 ||
      hb.workloads.some((w) => w.phase === "starting");
    return {
      assignments,
      stops,
      serverTime: now,
      intervalMs: await this.intervalMs(changing),
      transfers,
      ...(hb.checkpoints
        ? { removableCheckpoints: await removableCheckpoints(this.ctx, nodeId, hb.checkpoints) }
        : {}),
    };
  }

  /**
   * What a node must start and stop, from its active leases: an assignment per lease it has not
   * reported yet (a gang rank until it runs: first to prepare, then with its go), a stop per lease stopping.
   */
  private async ordersFor(
    active: LeaseRecord[],
    reported: Set<string>,
    gpus: Gpu[],
    catalogue: GpuCatalogue,
    now: number,
  ): Promise<{ assignments: Assignment[]; stops: StopOrder[] }> {
    const assignments: Assignment[] = [];
    const sites = new Map<string, Site | undefined>();
    const nodes = new Map<string, Node | undefined>();
    // A gang rank is answered until it runs: first to prepare, then (every rank ready) with its go.
    const pendingStart = (x: (typeof active)[number]): boolean =>
      x.state === "assigned" && (!reported.has(x.id) || (x.gang != null && x.gang.goAt !== null));
    for (const l of active.filter(pendingStart)) {
      // A lease whose checkpoint is being copied here starts once the copy is verified.
      if (await waitsForCopy(this.ctx, l)) continue;
      const job = await this.ctx.store.jobs.getJob(l.jobId);
      if (!job) continue;
      if (!sites.has(l.siteId)) sites.set(l.siteId, await this.ctx.store.fleet.getSite(l.siteId));
      const site = sites.get(l.siteId);
      // Site policy is resolved here so the agent needs to know none of it.
      const image = effectiveImage(site ?? {}, job.spec.image);
      // The job's secrets are opened for this node only, the one holding the lease; a lease whose
      // secrets cannot be opened (a deleted registry secret, a missing key) fails before it starts.
      const secrets = await this.secrets.forLease(job);
      if ("problem" in secrets) {
        const before = await this.ctx.store.jobs.endLease(l.id, now);
        if (before)
          await settleEndedLease(this.ctx, before, { phase: "failed", reason: secrets.problem }, now);
        continue;
      }
      const env = { ...job.spec.env, ...secrets.env };
      let gang: Assignment["gang"];
      if (l.gang) {
        const members = await gangOf(this.ctx, l);
        for (const m of members)
          if (!nodes.has(m.nodeId)) nodes.set(m.nodeId, await this.ctx.store.fleet.getNode(m.nodeId));
        gang = gangAssignment(l, members, nodes);
      }
      assignments.push({
        leaseId: l.id,
        jobId: l.jobId,
        gpuModel: l.gpuModel,
        gpuIndices: l.gpuIndices,
        // The one power rule over this node's GPUs of the lease's model and the catalogue in force.
        gpuPowerW: gpuPowerW(
          gpus.find((g) => g.model === l.gpuModel) ?? { model: l.gpuModel, powerLimitW: 0 },
          catalogue.find,
        ),
        spec: Object.keys(env).length > 0 ? { ...job.spec, env } : job.spec,
        ...(image !== undefined ? { image } : {}),
        network: job.spec.network === true && site?.allowNetwork === true,
        ...(gang ? { gang } : {}),
        ...(secrets.registryAuth ? { registryAuth: secrets.registryAuth } : {}),
      });
    }
    const stops: StopOrder[] = active
      .filter((l) => l.state === "stopping")
      .map((l) => ({
        leaseId: l.id,
        reason: l.stopReason ?? "stop",
        graceS: Math.max(0, Math.ceil(((l.stopDeadlineAt ?? now) - now) / 1000)),
      }));
    return { assignments, stops };
  }

  /**
   * The node's orders long-poll: answers at once when its orders changed since `since` (the
   * `version` of its last answer), else when the scheduler assigns or stops something on it, or
   * after `waitMs` (at most 30 s). The agent heartbeats at once when the answer has orders.
   */
  async orders(
    p: Principal,
    since: string | undefined,
    waitMs: number,
  ): Promise<{ assignments: Assignment[]; stops: StopOrder[]; version: string; serverTime: number }> {
    const nodeId = this.nodeId(p);
    let now = this.ctx.clock.now();
    let view = await this.ctx.view?.current(now);
    if (view && !this.waitersHooked) {
      this.waitersHooked = true;
      view.onChange((c) => this.waiters.wake(c.nodesWithLeaseChanges));
    }
    if (view && waitMs > 0 && since === view.orderVersion(nodeId)) {
      await this.waiters.wait(nodeId, Math.min(waitMs, MAX_ORDERS_WAIT_MS));
      now = this.ctx.clock.now();
      view = await view.current(now);
    }
    const active = view?.leasesOn(nodeId) ?? (await this.ctx.store.jobs.activeLeases(nodeId));
    const node = view?.node(nodeId) ?? (await this.ctx.store.fleet.getNode(nodeId));
    const catalogue = view?.catalogue() ?? (await loadGpuCatalogue(this.ctx.store));
    const orders = await this.ordersFor(active, new Set(), node?.gpus ?? [], catalogue, now);
    return { ...orders, version: view?.orderVersion(nodeId) ?? "", serverTime: now };
  }

  private fleetSize = { n: 0, at: Number.NEGATIVE_INFINITY };

  /** The heartbeat interval the node should keep (src/control/heartbeat-policy.ts), from the fleet's size. */
  private async intervalMs(changing: boolean): Promise<number> {
    if (changing) return heartbeatIntervalMs(0, true);
    const now = this.ctx.clock.now();
    const known = this.ctx.view?.nodeCount();
    if (known !== undefined) this.fleetSize = { n: known, at: now };
    else if (now - this.fleetSize.at > 30_000)
      this.fleetSize = { n: await this.ctx.store.fleet.countNodes(), at: now };
    return heartbeatIntervalMs(this.fleetSize.n, false);
  }

  /** Applies one workload report to its lease and job. Idempotent. */
  async report(p: Principal, w: WorkloadReport): Promise<void> {
    await this.apply(this.nodeId(p), w, await this.ctx.view?.current(this.ctx.clock.now()));
  }

  /** Applies one report; the lease comes from the view when it has it (every write below is conditional). */
  private async apply(nodeId: string, w: WorkloadReport, view: ClusterView | undefined): Promise<void> {
    const cached = view?.lease(w.leaseId);
    const lease = cached?.nodeId === nodeId ? cached : await this.ownLease(nodeId, w.leaseId);
    const now = this.ctx.clock.now();
    if (lease.state === "ended") return;
    // Where the job's checkpoint is (the node's folder survives the lease): recorded, with events.
    await recordCheckpointReport(this.ctx, lease, w, now);
    // Instances: GPUs busy now keep an --idle-stop away (written at most every 30 s).
    await recordGpuActivity(this.ctx, lease, w, now);
    // Billing starts when the workload runs: "starting" (image pull, Slurm queue, pod pending) is not billed.
    // A lease stopped before its start was reported still records when it started.
    // Times the node reports are held to the lease's server-observed life (serverTime).
    const unstarted = lease.state === "assigned" || (lease.state === "stopping" && lease.startedAt === null);
    if (w.phase === "running" && unstarted) {
      await this.ctx.store.jobs.markLeaseRunning(
        lease.id,
        await this.serverTime(lease, "startedAt", w.startedAt, lease.createdAt, now),
      );
      return;
    }
    // A gang rank prepared and waiting at the start barrier (never billed: it runs nothing yet).
    if (w.phase === "starting" && w.ready === true && lease.state === "assigned" && lease.gang) {
      await this.ctx.store.jobs.markLeaseReady(lease.id, now);
      return;
    }
    const phase = w.phase;
    if (phase === "succeeded" || phase === "failed" || phase === "cancelled") {
      // A workload whose image never arrived never ran, whatever start time the agent sends.
      const ran = w.cause !== "image-pull";
      let startedAt = lease.startedAt ?? lease.createdAt;
      if (unstarted && w.startedAt !== undefined && ran) {
        startedAt = await this.serverTime(lease, "startedAt", w.startedAt, lease.createdAt, now);
        await this.ctx.store.jobs.markLeaseRunning(lease.id, startedAt);
      }
      const endedAt = await this.serverTime(lease, "endedAt", w.endedAt, startedAt, now);
      const before = await this.ctx.store.jobs.endLease(lease.id, endedAt);
      if (!before) return;
      await settleEndedLease(this.ctx, before, { ...w, phase }, endedAt);
      this.ctx.nudge();
    }
  }

  /**
   * A time the node reports for a lease, held to what the server observed: never before `min`
   * (the assignment, or the start) nor after the server's `now`. The agent reports in server time
   * (it measures its offset from the heartbeat's serverTime), so an honest report is inside; one
   * off by more than the tolerance is clamped and leaves an anomaly.
   */
  private async serverTime(
    lease: LeaseRecord,
    field: "startedAt" | "endedAt",
    reported: number | undefined,
    min: number,
    now: number,
  ): Promise<number> {
    if (reported === undefined) return Math.max(min, now);
    const t = Math.min(Math.max(reported, min), Math.max(min, now));
    if (reported < min - USAGE_TOLERANCE_MS || reported > now + USAGE_TOLERANCE_MS)
      await this.ctx.store.usage.recordAnomaly({
        at: now,
        nodeId: lease.nodeId,
        operatorId: lease.operatorId,
        leaseId: lease.id,
        seq: null,
        kind: "time-clamped",
        message: `${field} ${reported} is outside the lease's server-observed life [${min}, ${now}] (server time); taken as ${t}`,
        claim: { [field]: reported },
        accepted: { [field]: t },
      });
    return t;
  }

  /**
   * Stores a batch of usage records under the server's bounds (src/ledger/usage-bounds.ts); every
   * record must be for a lease this node holds (else nothing is stored). A replayed seq with other
   * content is refused per record (`conflicts`); clipped or refused claims are kept as anomalies.
   */
  async usage(p: Principal, records: UsageRecord[]): Promise<IngestResult> {
    const nodeId = this.nodeId(p);
    const leaseIds = [...new Set(records.map((r) => r.leaseId))];
    const leases = await this.ctx.store.jobs.leasesByIds(leaseIds);
    const now = this.ctx.clock.now();
    const catalogue = await loadGpuCatalogue(this.ctx.store);
    const bounds = new Map<string, LeaseUsageBounds>();
    for (const l of leases)
      if (l.nodeId === nodeId)
        bounds.set(
          l.id,
          leaseUsageBounds(
            {
              id: l.id,
              gpus: l.gpuIndices.length,
              createdAt: l.createdAt,
              endedAt: l.endedAt ?? null,
              tdpW: catalogue.find(l.gpuModel)?.tdpW ?? 1000,
            },
            now,
          ),
        );
    const held = bounds;
    for (const r of records) {
      if (r.nodeId !== nodeId)
        throw forbidden(`record seq ${r.seq} names node ${r.nodeId}, but this key belongs to node ${nodeId}`);
      if (!held.has(r.leaseId))
        throw forbidden(
          `record seq ${r.seq} is for lease ${r.leaseId}, which this node does not hold; the batch was not stored`,
        );
      if (r.toMs < r.fromMs)
        throw invalid(`record seq ${r.seq}: toMs is before fromMs`, { field: "records.toMs" });
    }
    if (records.length === 0) return { accepted: 0, duplicates: 0, clipped: 0, conflicts: [] };
    return this.ctx.store.usage.ingest(nodeId, leases[0]!.operatorId, records, now, bounds);
  }

  /** Appends shipped log chunks (capped per job). */
  async logs(
    p: Principal,
    chunks: { leaseId: string; stream: "stdout" | "stderr"; text: string }[],
  ): Promise<{ stored: number }> {
    const nodeId = this.nodeId(p);
    const byLease = new Map<string, typeof chunks>();
    for (const c of chunks) byLease.set(c.leaseId, [...(byLease.get(c.leaseId) ?? []), c]);
    let stored = 0;
    for (const [leaseId, cs] of byLease) {
      const lease = await this.ownLease(nodeId, leaseId);
      stored += await this.ctx.store.jobs.appendLogs(
        lease.jobId,
        cs,
        this.ctx.clock.now(),
        this.ctx.config.logCapBytes,
      );
    }
    return { stored };
  }

  /** The node's own record (for the agent's status command). */
  async self(p: Principal): Promise<{ nodeId: string }> {
    const nodeId = this.nodeId(p);
    if (!(await this.ctx.store.fleet.getNode(nodeId)))
      throw new DomainError("unauthorized", "this node was removed; enrol again");
    return { nodeId };
  }
}
