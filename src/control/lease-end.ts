import { effectiveImage } from "../domain/index.js";
import type { Fence, LeaseRecord } from "../store/index.js";
import type { Ctx } from "./context.js";
import { GANG_START, stopGangAfter } from "./gang.js";

/** Longest workload failure reason kept from an agent, characters. */
export const MAX_REPORT_REASON = 1000;

/** How a lease's workload ended, as the agent (or the server's stop deadline) tells it. */
export interface LeaseOutcome {
  phase: "succeeded" | "failed" | "cancelled";
  exitCode?: number | null;
  signal?: string | null;
  reason?: string;
  /** What kind of failure `reason` describes; "image-pull": the image could not be pulled or loaded. */
  cause?: "image-pull";
}

/** Seconds after a stop's grace period that the server waits for the node to report the end (default 60). */
export function stopTimeoutMs(ctx: Ctx): number {
  return (ctx.config.stopTimeoutS ?? 60) * 1000;
}

/**
 * Moves a job to its final (or requeued) state once a lease of it ended: a preempted or curtailed job
 * goes back to the queue (its gang stops with it), a stopped one is cancelled, else it succeeded or
 * failed. Releases what the job held once it is over.
 */
export async function settleEndedLease(
  ctx: Ctx,
  lease: LeaseRecord,
  w: LeaseOutcome,
  endedAt: number,
): Promise<void> {
  const jobs = ctx.store.jobs;
  // A gang's ranks are the leases of the same placement (a requeued job's new leases are not).
  const others = (await jobs.leasesForJob(lease.jobId)).filter(
    (l) => l.id !== lease.id && l.state !== "ended" && (!lease.gang || l.createdAt === lease.createdAt),
  );
  const from = ["scheduled", "running"] as const;
  const stop = lease.stopReason;
  const how = w.reason ? ` (workload: ${w.reason.slice(0, MAX_REPORT_REASON)})` : "";
  if (stop?.startsWith("preempted") || stop?.startsWith("curtailment") || stop?.startsWith(GANG_START)) {
    // Gang members of a preempted job stop together; the job goes back to the queue.
    for (const o of others) await jobs.requestLeaseStop(o.id, stop, endedAt, endedAt);
    await jobs.transitionJob(lease.jobId, [...from], "preempted", endedAt, `${stop}; requeued${how}`);
    return;
  }
  if (others.length > 0) {
    // A rank of a multi-node gang failed (nobody asked it to stop): the whole gang stops, with a notice.
    if (w.phase !== "succeeded" && lease.gang && !stop) {
      const what =
        w.reason?.slice(0, MAX_REPORT_REASON) ??
        (w.signal ? `was killed by ${w.signal}` : `exited with code ${w.exitCode ?? "unknown"}`);
      return stopGangAfter(ctx, lease, others, what, w.cause, endedAt);
    }
    if (w.phase !== "succeeded")
      for (const o of others)
        await jobs.requestLeaseStop(
          o.id,
          `gang member ${lease.id} ended`,
          endedAt,
          endedAt + ctx.config.stopGraceS * 1000,
        );
    return;
  }
  if (stop) {
    await jobs.transitionJob(lease.jobId, [...from], "cancelled", endedAt, `${stop}${how}`, {
      endedAt,
      exitCode: w.exitCode ?? null,
    });
  } else if (w.phase === "succeeded") {
    await jobs.transitionJob(lease.jobId, [...from], "succeeded", endedAt, "exited with code 0", {
      endedAt,
      exitCode: 0,
    });
  } else if (w.cause === "image-pull") {
    const job = await jobs.getJob(lease.jobId);
    const site = await ctx.store.fleet.getSite(lease.siteId);
    const image = job ? effectiveImage(site ?? {}, job.spec.image) : undefined;
    const answer = (w.reason ?? "no answer").slice(0, MAX_REPORT_REASON);
    await jobs.transitionJob(
      lease.jobId,
      [...from],
      "failed",
      endedAt,
      `image ${image ?? "(none)"} could not be pulled on node ${lease.nodeId}: ${answer}`,
      { endedAt, exitCode: null },
    );
  } else {
    const why =
      w.reason?.slice(0, MAX_REPORT_REASON) ??
      (w.signal ? `killed by ${w.signal}` : `exited with code ${w.exitCode ?? "unknown"}`);
    await jobs.transitionJob(lease.jobId, [...from], "failed", endedAt, why, {
      endedAt,
      exitCode: w.exitCode ?? null,
    });
  }
  await ctx.store.checkpoints.release(lease.jobId);
}

/**
 * Ends leases whose stop is overdue: past their grace period plus the stop timeout with no end
 * reported by the node (a hung workload, or a node that never heard of the lease). The job settles
 * as if the workload had been killed; a node that reports later is told the lease ended.
 */
export async function endOverdueStops(ctx: Ctx, now: number, active?: LeaseRecord[]): Promise<LeaseRecord[]> {
  const timeout = stopTimeoutMs(ctx);
  const overdue = (active ?? (await ctx.store.jobs.activeLeases())).filter(
    (l) => l.state === "stopping" && (l.stopDeadlineAt ?? l.stopRequestedAt ?? now) + timeout <= now,
  );
  const ended: LeaseRecord[] = [];
  for (const l of overdue) {
    const at = (l.stopDeadlineAt ?? now) + timeout;
    const before = await ctx.store.jobs.endLease(l.id, Math.min(at, now));
    if (!before) continue;
    await settleEndedLease(
      ctx,
      before,
      {
        phase: "cancelled",
        reason: `no end reported by the node within the grace period plus ${timeout / 1000} s; the lease was ended by the control plane`,
      },
      Math.min(at, now),
    );
    ended.push(before);
  }
  return ended;
}

/**
 * Ends a lease whose node is gone (silent past the loss timeout, or removed by its operator): the
 * lease stops and ends at `stoppedAt` (billing ends there), its job's other active leases (`gang`,
 * a gang across nodes) are told to stop with the usual grace, and the job goes back to the queue.
 * Returns the gang members that were told to stop.
 */
export async function loseLease(
  ctx: Ctx,
  lease: LeaseRecord,
  reason: string,
  stoppedAt: number,
  now: number,
  gang: LeaseRecord[],
  fence?: Fence,
): Promise<LeaseRecord[]> {
  const jobs = ctx.store.jobs;
  await jobs.requestLeaseStop(lease.id, reason, stoppedAt, stoppedAt, fence);
  await jobs.endLease(lease.id, stoppedAt);
  const stopped: LeaseRecord[] = [];
  for (const o of gang.filter((x) => x.jobId === lease.jobId && x.id !== lease.id))
    if (await jobs.requestLeaseStop(o.id, reason, now, now + ctx.config.stopGraceS * 1000, fence))
      stopped.push(o);
  await jobs.transitionJob(lease.jobId, ["scheduled", "running"], "preempted", now, `${reason}; requeued`);
  return stopped;
}
