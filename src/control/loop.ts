import type { Logger } from "pino";
import { FencedError, type Fence } from "../store/index.js";
import { canAfford } from "../ledger/index.js";
import {
  schedule as defaultSchedule,
  type Decision,
  type PendingJob,
  type ScheduleFn,
} from "../scheduler/index.js";
import type { Ctx } from "./context.js";
import { enforceCurtailments } from "./curtailment-executor.js";
import { deferFlexible } from "./deferral.js";
import { ledgerServiceFor } from "./ledger-service.js";
import { soleLeader, type Leadership } from "./leader.js";
import { energyMinorPerGpuHour, modelPowerW, priceNow } from "./spot-price.js";
import { endOverdueStops, loseLease, stopTimeoutMs } from "./lease-end.js";
import { enforceGangStart } from "./gang.js";
import { expireStalledCopies, planResume } from "./checkpoint-copy.js";
import { enforceInstanceGuardrails } from "./instance-guard.js";
import type { CycleSnapshot, CycleWorld } from "./snapshot.js";
import { ClusterView } from "./cluster-view.js";
import { detectionEveryMs, OfflineTimeout } from "./heartbeat-policy.js";

/** How long a preemptor's hold on vacated GPUs outlives the victim's stop deadline (a few cycles). */
const RESERVATION_SLACK_MS = 60_000;
/** The least time between two runs of the housekeeping steps that read the store (copy expiry, instance guardrails). */
const HOUSEKEEPING_EVERY_MS = 1000;

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
  /** Steps that threw (logged; the cycle went on without them). */
  failedSteps?: string[];
  /** Decisions whose writes threw (logged; their jobs stay queued). */
  errors?: number;
  /** Set when the cycle was abandoned because this replica's leader term was superseded. */
  fenced?: boolean;
}

/** First and count of the ports gangs rendezvous on (torchrun's default 29500 upwards). */
const GANG_PORT_BASE = 29500;
const GANG_PORTS = 2000;

/**
 * The rendezvous port of a new gang whose rank 0 is on `masterNode`: derived from the job id, then
 * the next one no active gang on that node uses (`used` holds "node:port").
 */
export function rendezvousPort(jobId: string, masterNode: string, used: Set<string>): number {
  let h = 0;
  for (let i = 0; i < jobId.length; i++) h = (h * 31 + jobId.charCodeAt(i)) >>> 0;
  for (let k = 0; k < GANG_PORTS; k++) {
    const port = GANG_PORT_BASE + ((h + k) % GANG_PORTS);
    if (!used.has(`${masterNode}:${port}`)) return port;
  }
  return GANG_PORT_BASE + (h % GANG_PORTS);
}

/** The scheduling loop: snapshot, schedule, commit decisions, requeue. */
export class SchedulerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CycleReport> | undefined;
  private again = false;
  private nudgeTimer: NodeJS.Timeout | undefined;
  private lastSpendCheck = Number.NEGATIVE_INFINITY;
  private readonly noticed = new Set<string>();
  /** The cluster view the cycle schedules on (src/control/cluster-view.ts), kept across leader terms. */
  readonly view: ClusterView;
  private lastDetection = Number.NEGATIVE_INFINITY;
  /** When the store-reading housekeeping steps (3d, 6b) last ran (clock ms). */
  private lastHousekeeping = Number.NEGATIVE_INFINITY;
  /** The offline timeout the last detection used (ms; 0 before the first). */
  private timeoutInForceMs = 0;
  private readonly offlineTimeout = new OfflineTimeout();

  constructor(
    private readonly ctx: Ctx,
    private readonly log?: Logger,
    private readonly scheduleFn: ScheduleFn = defaultSchedule,
    private readonly onCycle?: (r: CycleReport) => void,
    private readonly leadership: Leadership = soleLeader,
  ) {
    this.view = ctx.view ?? new ClusterView(ctx.store, log);
    // A standby that takes the lock between ticks starts its first cycle at once.
    leadership.onAcquired?.(() => this.nudge());
  }

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

  /**
   * One scheduling cycle, as numbered steps. Each step is timed (report.phasesMs) and isolated: a
   * step that throws is logged and recorded in report.failedSteps, and the cycle goes on; a decision
   * that throws fails alone. Only a superseded leader term (FencedError) ends the cycle.
   */
  private async cycle(): Promise<CycleReport> {
    const { store, clock, config } = this.ctx;
    const fence = this.leadership.fence();
    const now = clock.now();
    const t0 = performance.now();
    const report: CycleReport = { ...IDLE, phasesMs: {}, failedSteps: [] };
    // A new term schedules on the view this replica kept as a follower (current from the change feed;
    // a full reload here would delay the takeover by a read of the world). Fencing and the store's GPU
    // check make a stale view cost a conflict, never a double lease; the reconcile checks it.

    // 1. Failure detection: nodes that stopped sending heartbeats go offline (no new work for them);
    //    a scan of every node, so at most once a second, and less often in a large fleet whose
    //    timeout is longer (heartbeat-policy.ts, detectionEveryMs); nudged cycles in between skip it.
    const detect =
      now - this.lastDetection >= detectionEveryMs(config.heartbeatTimeoutMs, this.timeoutInForceMs);
    if (detect) this.lastDetection = now;
    //    The timeout grows with the heartbeat interval the fleet's size calls for (heartbeat-policy.ts).
    const offline = detect
      ? await this.step(report, "failureDetection", async () => {
          const nodes = this.view.nodeCount() ?? (await store.fleet.countNodes());
          this.timeoutInForceMs = this.offlineTimeout.at(now, nodes, config.heartbeatTimeoutMs);
          return store.fleet.markStaleNodesOffline(now - this.timeoutInForceMs);
        })
      : [];
    report.nodesOffline = offline?.length ?? 0;

    // 2. The world (sites, nodes, active leases, prices, queue, curtailments, series) from the cluster
    //    view, the store's changes since the last cycle applied (step 1's among them). Later steps
    //    work on these arrays; nodes and leases are the view's records (src/control/cluster-view.ts).
    const world = await this.timed(report, "read", () => this.view.world(now, { attained: false }));

    // 3. Lost leases: nodes silent past the lease-loss timeout lose their leases; jobs are requeued.
    await this.step(report, "lostLeases", () => this.reclaimLostLeases(now, world, fence));

    // 3b. Overdue stops: a stop never outlives its grace period plus the stop timeout; the lease ends here.
    await this.step(report, "overdueStops", async () => {
      this.guard(fence);
      const ended = new Set<string>();
      for (const l of await endOverdueStops(this.ctx, now, world.leases)) {
        ended.add(l.id);
        this.log?.warn({ leaseId: l.id, node: l.nodeId }, "stop overdue: lease ended by the control plane");
      }
      if (ended.size > 0) world.leases = world.leases.filter((l) => !ended.has(l.id));
    });

    // 3c. Start barrier: gangs whose ranks were not all ready in time stop and go back to the queue.
    await this.step(report, "gangStart", async () => {
      for (const jobId of await enforceGangStart(this.ctx, now, world.leases, this.guard(fence)))
        this.log?.warn({ jobId }, "gang not ready within the start timeout: stopped and requeued");
    });

    // 3d. Checkpoint copies with no progress for the copy wait fail (their job's fallback applies).
    //     This and 6b read the store and act on minutes (a copy wait, a max duration, an idle stop):
    //     at most once a second; the cycles a submission nudges in between skip them.
    const housekeeping = now - this.lastHousekeeping >= HOUSEKEEPING_EVERY_MS;
    if (housekeeping) {
      this.lastHousekeeping = now;
      await this.step(report, "checkpointCopies", async () => {
        this.guard(fence);
        await expireStalledCopies(this.ctx, now);
      });
    }

    // 4. Curtailment: sites with a cap in force (or within its notice) shed load, interruptible first.
    const curtailed = await this.step(report, "curtailment", () =>
      enforceCurtailments(this.ctx, now, world, this.guard(fence)),
    );
    report.curtailmentNotices = curtailed?.noticesSent ?? 0;

    // 5. Power-price spikes: interruptible leases whose GPU-hour costs more in energy than they pay yield.
    await this.step(report, "priceSpikes", () => this.yieldToPriceSpikes(now, world, fence));

    // 6. Spend limits (every spendCheckMs): tenants near zero get a notice on their jobs, then their jobs stop.
    if (now - this.lastSpendCheck >= (config.spendCheckMs ?? 10_000)) {
      this.lastSpendCheck = now;
      await this.step(report, "spendLimits", () => this.enforceSpendLimits(now, fence));
    }

    // 6b. Instances: those past their --max-duration or idle for their --idle-stop get a notice and stop.
    if (housekeeping)
      await this.step(report, "instanceGuardrails", async () => {
        for (const s of await enforceInstanceGuardrails(this.ctx, now, this.guard(fence)))
          this.log?.info({ jobId: s.jobId, guardrail: s.kind }, "instance stopped by its guardrail");
      });

    // 7. The scheduler's snapshot: kept from the view's changes (the writes of steps 3-6b applied
    //    first), not rebuilt from the whole fleet (src/control/kept-snapshot.ts).
    const snap = await this.timed(report, "snapshot", () => this.view.snapshot(now));

    // 8. Flexible jobs wait for the cleanest hour their deadline allows.
    const { ready: pending, deferred } = config.deferFlexible
      ? deferFlexible(snap.pending, snap.snapshot.sites, snap.carbon, now)
      : { ready: snap.pending, deferred: [] };
    await this.step(report, "defer", async () => {
      for (const d of [...deferred, ...(snap.waitingForCheckpoint ?? [])])
        await this.decide(report, () => store.jobs.setWaitReasons(d.jobId, [d.reason], now));
    });
    report.pending = pending.length;

    // 9. Decide, purely.
    const decisions = await this.timed(report, "schedule", () =>
      Promise.resolve(pending.length ? this.scheduleFn(snap.snapshot, pending, config.policy, now) : []),
    );

    // 10. Commit each decision on its own (a conflict or an error leaves the job pending for the next cycle).
    await this.timed(report, "commit", () => this.commit(decisions, pending, snap, report, fence));
    // The view learns this cycle's leases and stops now (heartbeats, long-polls answer from it).
    if (report.placed + report.preempted > 0) await this.view.sync(clock.now());
    report.phasesMs.total = Math.round((performance.now() - t0) * 1000) / 1000;

    this.log?.debug({ cycle: report }, "scheduling cycle");
    this.onCycle?.(report);
    return report;
  }

  /** Step 10: placements (after admission), preemptions and wait reasons, each isolated from the others. */
  private async commit(
    decisions: Decision[],
    pending: PendingJob[],
    snap: CycleSnapshot,
    report: CycleReport,
    fence: Fence | undefined,
  ): Promise<void> {
    const { store, clock, ids, config } = this.ctx;
    const jobOf = new Map(pending.map((p) => [p.id, p]));
    const ledger = ledgerServiceFor(this.ctx);
    // Admission, once per tenant per cycle: what is left after this cycle's earlier placements.
    const available = new Map<string, number>();
    for (const d of decisions) {
      await this.decide(report, async () => {
        const now = clock.now();
        if (d.kind === "place") {
          const job = jobOf.get(d.jobId)!;
          // 10a. Admission: no job starts that its tenant cannot pay for its first hour.
          const gpus = d.placements.reduce((a, p) => a + p.gpuIndices.length, 0);
          const country = snap.siteCountry.get(d.siteId) ?? "";
          const cost = await ledger.firstHourCostMinor(job.tenantId, gpus, d.priceMinorPerGpuHour, country);
          let left = available.get(job.tenantId);
          if (left === undefined) {
            const admit = await ledger.canAdmit(job.tenantId, cost);
            left = admit.availableMinor;
            if (!admit.ok) {
              available.set(job.tenantId, left);
              await store.jobs.setWaitReasons(d.jobId, [`insufficient funds: ${admit.reason}`], now);
              report.waiting++;
              return;
            }
          } else if (!canAfford(cost, left)) {
            const why = `insufficient funds: the first hour costs ${cost} minor units but only ${left} are available after running jobs' next hour; top up or raise the credit limit`;
            await store.jobs.setWaitReasons(d.jobId, [why], now);
            report.waiting++;
            return;
          }
          // 10b. The placement, fenced to this leader's term; leases are stamped with the commit time.
          //     A gang over several nodes gets ranks (placement order) and a rendezvous port.
          const size = d.placements.length;
          const port = size > 1 ? rendezvousPort(d.jobId, d.placements[0]!.nodeId, snap.gangPorts) : 0;
          const leases = d.placements.map((pl, rank) => ({
            id: ids("lease"),
            jobId: d.jobId,
            tenantId: job.tenantId,
            siteId: d.siteId,
            operatorId: snap.siteOperator.get(d.siteId) ?? "",
            nodeId: pl.nodeId,
            country,
            gpuModel: d.gpuModel,
            gpuIndices: pl.gpuIndices,
            class: job.request.class,
            priceMinorPerGpuHour: d.priceMinorPerGpuHour,
            currency: config.currency,
            createdAt: now,
            ...(size > 1 ? { gang: { rank, size, port } } : {}),
          }));
          const ok = await store.jobs.commitPlacement(
            d.jobId,
            leases,
            now,
            d.reasons.join("; "),
            this.guard(fence),
          );
          if (ok) {
            if (size > 1) snap.gangPorts.add(`${d.placements[0]!.nodeId}:${port}`);
            // A checkpoint on another node is copied here before the lease starts (checkpoint-copy.ts).
            if (job.checkpoint) await planResume(this.ctx, d.jobId, leases, now);
            available.set(job.tenantId, left - cost);
            report.placed++;
          } else report.conflicts++;
        } else if (d.kind === "preempt") {
          // 10c. Preemptions: a checkpoint notice now, the kill after the grace period.
          const why = `preempted: ${d.reason}`;
          const ok = await store.jobs.requestLeaseStop(
            d.leaseId,
            why,
            now,
            now + d.graceS * 1000,
            this.guard(fence),
          );
          if (ok) {
            report.preempted++;
            // The GPUs it vacates are held for the preemptor (the preempted job never retakes them).
            const victim = snap.snapshot.leases.find((l) => l.id === d.leaseId);
            // A multi-node gang is preempted as one: its other ranks get the same notice.
            for (const o of snap.snapshot.leases)
              if (victim && o.jobId === victim.jobId && o.id !== victim.id && !o.stopping)
                await store.jobs.requestLeaseStop(o.id, why, now, now + d.graceS * 1000, this.guard(fence));
            if (victim)
              await store.jobs.addEvent(
                victim.jobId,
                now,
                "running",
                `checkpoint notice sent to lease ${victim.id} on node ${victim.nodeId}: ${why}; ${d.graceS} s to save, until ${new Date(now + d.graceS * 1000).toISOString()}`,
              );
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
          // 10d. Jobs that wait keep their reasons, verbatim, for the tenant.
          await store.jobs.setWaitReasons(d.jobId, d.reasons, now);
          report.waiting++;
        }
      });
    }
  }

  /** Runs a step, timed; the cycle cannot go on without its result (a throw ends the cycle). */
  private async timed<T>(report: CycleReport, name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      report.phasesMs[name] = Math.round((performance.now() - t0) * 1000) / 1000;
    }
  }

  /** Runs a step, timed and isolated: a throw is logged and recorded, and the cycle goes on. */
  private async step<T>(report: CycleReport, name: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.timed(report, name, fn);
    } catch (err) {
      if (err instanceof FencedError) throw err;
      report.failedSteps?.push(name);
      this.log?.error({ err, step: name }, "scheduling step failed; the cycle goes on");
      return undefined;
    }
  }

  /** Runs one decision's writes, isolated from the others (only a superseded term stops the cycle). */
  private async decide(report: CycleReport, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof FencedError) throw err;
      report.errors = (report.errors ?? 0) + 1;
      this.log?.error({ err }, "scheduling decision failed; the job stays queued");
    }
  }

  /** Stops (with the checkpoint notice) interruptible leases that run at a loss at the current power price. */
  private async yieldToPriceSpikes(now: number, world: CycleWorld, fence: Fence | undefined): Promise<void> {
    const { store, config } = this.ctx;
    const prices = world.series.filter((x) => x.kind === "price");
    if (prices.length === 0) return;
    const leases = world.leases.filter((l) => l.class === "interruptible" && l.state !== "stopping");
    if (leases.length === 0) return;
    const sites = new Map(world.sites.map((x) => [x.id, x]));
    for (const p of prices) {
      const site = sites.get(p.siteId);
      const eur = priceNow(p.series, now);
      if (!site || eur === undefined) continue;
      for (const l of leases.filter((x) => x.siteId === p.siteId)) {
        const cost = energyMinorPerGpuHour(modelPowerW(l.gpuModel, world.catalogue?.find), site.pue, eur);
        if (cost <= l.priceMinorPerGpuHour) continue;
        const why = `preempted: power price spike at ${site.name}: ${Math.round(eur)} EUR/MWh makes a GPU-hour cost ${cost.toFixed(1)} cents of energy, more than the ${l.priceMinorPerGpuHour} cents it pays`;
        const grace = now + config.policy.preemptionGraceS * 1000;
        if (await store.jobs.requestLeaseStop(l.id, why, now, grace, this.guard(fence))) {
          l.state = "stopping";
          this.log?.info(
            { leaseId: l.id, eurPerMwh: eur },
            "interruptible lease yields to a power-price spike",
          );
        }
      }
    }
  }

  /** Ends the leases of nodes that have been silent past the lease-loss timeout and requeues their jobs. */
  private async reclaimLostLeases(now: number, world: CycleWorld, fence: Fence | undefined): Promise<void> {
    const { config } = this.ctx;
    const cutoff = now - (config.leaseLossTimeoutMs ?? 5 * 60_000);
    if (world.leases.length === 0) return;
    const nodes = world.nodes;
    const ended = new Set<string>();
    for (const l of world.leases) {
      const n = nodes.get(l.nodeId);
      const last = n?.lastHeartbeatAt ?? 0;
      if (!n || n.state !== "offline" || last >= cutoff || ended.has(l.id)) continue;
      const reason = `preempted: node ${n.name} lost contact at ${new Date(last).toISOString()}`;
      const stoppedAt = Math.max(last, l.startedAt ?? l.createdAt);
      ended.add(l.id);
      // The job's other leases (a gang across nodes) stop too.
      const gang = world.leases.filter((x) => !ended.has(x.id));
      for (const o of await loseLease(this.ctx, l, reason, stoppedAt, now, gang, this.guard(fence)))
        o.state = "stopping";
      this.log?.warn({ leaseId: l.id, node: n.id }, "lease lost with its node; job requeued");
    }
    world.leases = world.leases.filter((l) => !ended.has(l.id));
  }

  /** Acts on the ledger's spend decisions: a notice event per lease, then a stop with the grace period. */
  private async enforceSpendLimits(now: number, fence: Fence | undefined): Promise<void> {
    const { store, config } = this.ctx;
    for (const d of await ledgerServiceFor(this.ctx).spendDecisions()) {
      if (d.decision === "stop") {
        for (const id of d.leaseIds)
          await store.jobs.requestLeaseStop(
            id,
            `spend limit: ${d.reason}`,
            now,
            now + config.stopGraceS * 1000,
            this.guard(fence),
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
