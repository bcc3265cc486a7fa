import type { Logger } from "pino";
import { FencedError, type Fence } from "../store/index.js";
import { schedule as defaultSchedule, type ScheduleFn } from "../scheduler/index.js";
import type { Ctx } from "./context.js";
import { enforceCurtailments } from "./curtailment-executor.js";
import { deferFlexible } from "./deferral.js";
import { ledgerServiceFor } from "./ledger-service.js";
import { soleLeader, type Leadership } from "./leader.js";
import { energyMinorPerGpuHour, modelPowerW, priceNow } from "./spot-price.js";
import { endOverdueStops, stopTimeoutMs } from "./lease-end.js";
import { readSnapshot } from "./snapshot.js";

/** How long a preemptor's hold on vacated GPUs outlives the victim's stop deadline (a few cycles). */
const RESERVATION_SLACK_MS = 60_000;

const IDLE: CycleReport = {
  pending: 0,
  placed: 0,
  waiting: 0,
  preempted: 0,
  curtailmentNotices: 0,
  conflicts: 0,
  nodesOffline: 0,
  phasesMs: {},
};

/** What one cycle did, for logs, metrics and tests. */
export interface CycleReport {
  pending: number;
  placed: number;
  waiting: number;
  preempted: number;
  curtailmentNotices: number;
  conflicts: number;
  nodesOffline: number;
  phasesMs: Record<string, number>;
  /** Set when the cycle was abandoned because this replica's leader term was superseded. */
  fenced?: boolean;
}

/** The scheduling loop: snapshot, schedule, commit decisions, requeue. */
export class SchedulerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CycleReport> | undefined;
  private again = false;
  private nudgeTimer: NodeJS.Timeout | undefined;
  private lastSpendCheck = Number.NEGATIVE_INFINITY;
  private readonly noticed = new Set<string>();

  constructor(
    private readonly ctx: Ctx,
    private readonly log?: Logger,
    private readonly scheduleFn: ScheduleFn = defaultSchedule,
    private readonly onCycle?: (r: CycleReport) => void,
    private readonly leadership: Leadership = soleLeader,
  ) {}

  /** Whether this replica led the last cycle it tried (several replicas share one PostgreSQL). */
  leading = false;

  /** Runs one cycle; concurrent calls coalesce into one extra cycle. */
  async tick(): Promise<CycleReport> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.leadership.isLeader().then((lead) => {
      if (lead !== this.leading)
        this.log?.info(
          { leader: lead },
          lead ? "this replica now runs the scheduler" : "another replica runs the scheduler",
        );
      this.leading = lead;
      return lead ? this.cycle().catch((err: unknown) => this.fenced(err)) : IDLE;
    });
    try {
      return await this.running;
    } finally {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.nudge();
      }
    }
  }

  /** A cycle whose leader term was superseded stops where it is: this replica no longer leads. */
  private fenced(err: unknown): CycleReport {
    if (!(err instanceof FencedError)) throw err;
    this.leading = false;
    this.log?.warn(
      { term: err.term, currentTerm: err.currentTerm },
      "leadership lost mid-cycle; cycle abandoned",
    );
    return { ...IDLE, fenced: true };
  }

  /** The fence of this cycle's writes; throws FencedError as soon as the lock session is known lost. */
  private guard(fence: Fence | undefined): Fence | undefined {
    if (!this.leadership.holds()) throw new FencedError(fence?.term ?? 0, undefined);
    return fence;
  }

  private async cycle(): Promise<CycleReport> {
    const { store, clock, ids, config } = this.ctx;
    const fence = this.leadership.fence();
    const phases: Record<string, number> = {};
    const t = (name: string, since: number): number => {
      const n = performance.now();
      phases[name] = Math.round((n - since) * 1000) / 1000;
      return n;
    };
    let mark = performance.now();
    const now = clock.now();

    // 1. Nodes that stopped sending heartbeats go offline (no new work for them).
    const offline = await store.fleet.markStaleNodesOffline(now - config.heartbeatTimeoutMs);
    // 1b. Leases on nodes silent for longer than the lease-loss timeout are lost: billing stops at the
    //     last heartbeat and the job goes back to the queue (a node that returns is told to stop it).
    await this.reclaimLostLeases(now, fence);
    // 1c. A stop never outlives its grace period plus the stop timeout: overdue leases end here.
    this.guard(fence);
    for (const l of await endOverdueStops(this.ctx, now))
      this.log?.warn({ leaseId: l.id, node: l.nodeId }, "stop overdue: lease ended by the control plane");
    mark = t("failureDetection", mark);

    // 2. Curtailment: sites with a cap in force (or within its notice) shed load, interruptible first.
    const { noticesSent } = await enforceCurtailments(this.ctx, now);
    mark = t("curtailment", mark);

    // 2a. Power-price spikes: interruptible leases whose GPU-hour now costs more in energy than they pay yield.
    await this.yieldToPriceSpikes(now, fence);

    // 2b. Spend limits (every spendCheckMs): tenants near zero get a notice on their jobs, then their jobs stop.
    if (now - this.lastSpendCheck >= (config.spendCheckMs ?? 10_000)) {
      this.lastSpendCheck = now;
      await this.enforceSpendLimits(now);
      mark = t("spendLimits", mark);
    }

    // 3. Take a snapshot of sites, nodes, leases and the queue.
    const { snapshot, pending: queue, siteOperator, siteCountry, carbon } = await readSnapshot(store, now);
    mark = t("snapshot", mark);

    // 3b. Flexible jobs wait for the cleanest hour their deadline allows.
    const { ready: pending, deferred } = config.deferFlexible
      ? deferFlexible(queue, snapshot.sites, carbon, now)
      : { ready: queue, deferred: [] };
    for (const d of deferred) await store.jobs.setWaitReasons(d.jobId, [d.reason], now);

    // 4. Decide, purely.
    const decisions = pending.length ? this.scheduleFn(snapshot, pending, config.policy, now) : [];
    mark = t("schedule", mark);

    // 5. Commit placements (each atomic; a conflict leaves the job pending for the next cycle).
    const report: CycleReport = {
      pending: pending.length,
      placed: 0,
      waiting: 0,
      preempted: 0,
      curtailmentNotices: noticesSent,
      conflicts: 0,
      nodesOffline: offline.length,
      phasesMs: phases,
    };
    const tenantOf = new Map(pending.map((p) => [p.id, p]));
    for (const d of decisions) {
      if (d.kind === "place") {
        const job = tenantOf.get(d.jobId)!;
        // Admission: no job starts that its tenant cannot pay for its first hour.
        const ledger = ledgerServiceFor(this.ctx);
        const gpus = d.placements.reduce((a, p) => a + p.gpuIndices.length, 0);
        const cost = await ledger.firstHourCostMinor(
          job.tenantId,
          gpus,
          d.priceMinorPerGpuHour,
          siteCountry.get(d.siteId) ?? "",
        );
        const admit = await ledger.canAdmit(job.tenantId, cost);
        if (!admit.ok) {
          await store.jobs.setWaitReasons(d.jobId, [`insufficient funds: ${admit.reason}`], now);
          report.waiting++;
          continue;
        }
        const ok = await store.jobs.commitPlacement(
          d.jobId,
          d.placements.map((pl) => ({
            id: ids("lease"),
            jobId: d.jobId,
            tenantId: job.tenantId,
            siteId: d.siteId,
            operatorId: siteOperator.get(d.siteId) ?? "",
            nodeId: pl.nodeId,
            country: siteCountry.get(d.siteId) ?? "",
            gpuModel: d.gpuModel,
            gpuIndices: pl.gpuIndices,
            class: job.request.class,
            priceMinorPerGpuHour: d.priceMinorPerGpuHour,
            currency: config.currency,
            createdAt: now,
          })),
          now,
          d.reasons.join("; "),
          this.guard(fence),
        );
        if (ok) report.placed++;
        else report.conflicts++;
      } else if (d.kind === "preempt") {
        // 6. Preemptions: a checkpoint notice now, the kill after the grace period.
        const ok = await store.jobs.requestLeaseStop(
          d.leaseId,
          `preempted: ${d.reason}`,
          now,
          now + d.graceS * 1000,
          this.guard(fence),
        );
        if (ok) {
          report.preempted++;
          // The GPUs it vacates are held for the preemptor (the preempted job never retakes them).
          const victim = snapshot.leases.find((l) => l.id === d.leaseId);
          if (victim)
            await store.checkpoints.reserve({
              jobId: d.forJobId,
              nodeId: victim.nodeId,
              leaseId: victim.id,
              gpuIndices: victim.gpuIndices,
              createdAt: now,
              expiresAt: now + d.graceS * 1000 + stopTimeoutMs(this.ctx) + RESERVATION_SLACK_MS,
            });
        }
      } else {
        // 7. Jobs that wait keep their reasons, verbatim, for the tenant.
        await store.jobs.setWaitReasons(d.jobId, d.reasons, now);
        report.waiting++;
      }
    }
    t("commit", mark);
    this.log?.debug({ cycle: report }, "scheduling cycle");
    this.onCycle?.(report);
    return report;
  }

  /** Stops (with the checkpoint notice) interruptible leases that run at a loss at the current power price. */
  private async yieldToPriceSpikes(now: number, fence: Fence | undefined): Promise<void> {
    const { store, config } = this.ctx;
    const prices = (await store.energy.series()).filter((x) => x.kind === "price");
    if (prices.length === 0) return;
    const leases = (await store.jobs.activeLeases()).filter(
      (l) => l.class === "interruptible" && l.state !== "stopping",
    );
    if (leases.length === 0) return;
    const sites = new Map((await store.fleet.listSites()).map((x) => [x.id, x]));
    for (const p of prices) {
      const site = sites.get(p.siteId);
      const eur = priceNow(p.series, now);
      if (!site || eur === undefined) continue;
      for (const l of leases.filter((x) => x.siteId === p.siteId)) {
        const cost = energyMinorPerGpuHour(modelPowerW(l.gpuModel), site.pue, eur);
        if (cost <= l.priceMinorPerGpuHour) continue;
        const why = `preempted: power price spike at ${site.name}: ${Math.round(eur)} EUR/MWh makes a GPU-hour cost ${cost.toFixed(1)} cents of energy, more than the ${l.priceMinorPerGpuHour} cents it pays`;
        const grace = now + config.policy.preemptionGraceS * 1000;
        if (await store.jobs.requestLeaseStop(l.id, why, now, grace, this.guard(fence))) {
          this.log?.info(
            { leaseId: l.id, eurPerMwh: eur },
            "interruptible lease yields to a power-price spike",
          );
        }
      }
    }
  }

  /** Ends the leases of nodes that have been silent past the lease-loss timeout and requeues their jobs. */
  private async reclaimLostLeases(now: number, fence: Fence | undefined): Promise<void> {
    const { store, config } = this.ctx;
    const cutoff = now - (config.leaseLossTimeoutMs ?? 5 * 60_000);
    const leases = await store.jobs.activeLeases();
    if (leases.length === 0) return;
    const nodes = new Map((await store.fleet.listNodes()).map((n) => [n.id, n]));
    for (const l of leases) {
      const n = nodes.get(l.nodeId);
      const last = n?.lastHeartbeatAt ?? 0;
      if (!n || n.state !== "offline" || last >= cutoff) continue;
      const reason = `preempted: node ${n.name} lost contact at ${new Date(last).toISOString()}`;
      const stoppedAt = Math.max(last, l.startedAt ?? l.createdAt);
      await store.jobs.requestLeaseStop(l.id, reason, stoppedAt, last, this.guard(fence));
      await store.jobs.endLease(l.id, Math.max(last, l.startedAt ?? l.createdAt));
      for (const o of (await store.jobs.leasesForJob(l.jobId)).filter(
        (x) => x.id !== l.id && x.state !== "ended",
      )) {
        await store.jobs.requestLeaseStop(o.id, reason, now, now + config.stopGraceS * 1000);
      }
      await store.jobs.transitionJob(
        l.jobId,
        ["scheduled", "running"],
        "preempted",
        now,
        `${reason}; requeued`,
      );
      this.log?.warn({ leaseId: l.id, node: n.id }, "lease lost with its node; job requeued");
    }
  }

  /** Acts on the ledger's spend decisions: a notice event per lease, then a stop with the grace period. */
  private async enforceSpendLimits(now: number): Promise<void> {
    const { store, config } = this.ctx;
    for (const d of await ledgerServiceFor(this.ctx).spendDecisions()) {
      if (d.decision === "stop") {
        for (const id of d.leaseIds)
          await store.jobs.requestLeaseStop(
            id,
            `spend limit: ${d.reason}`,
            now,
            now + config.stopGraceS * 1000,
          );
      } else if (d.decision === "notice") {
        for (const id of d.leaseIds) {
          if (this.noticed.has(id)) continue;
          this.noticed.add(id);
          const lease = await store.jobs.getLease(id);
          if (lease) await store.jobs.addEvent(lease.jobId, now, "running", `spend notice: ${d.reason}`);
        }
      }
    }
  }

  /** Asks for a cycle soon (coalesces bursts of submissions and heartbeats). */
  nudge(): void {
    if (this.nudgeTimer) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      this.tick().catch((err: unknown) => this.log?.error({ err }, "scheduling cycle failed"));
    }, 20);
  }

  /** Starts periodic cycles. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.log?.error({ err }, "scheduling cycle failed"));
    }, intervalMs);
  }

  /** Stops the loop and waits for a cycle in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer);
    this.timer = undefined;
    this.nudgeTimer = undefined;
    if (this.running) await this.running.catch(() => undefined);
    await this.leadership.close();
  }
}
