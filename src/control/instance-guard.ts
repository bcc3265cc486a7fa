import type { WorkloadReport } from "../contract/index.js";
import { GPU_BUSY_PCT, guardrailVerdict } from "../domain/index.js";
import type { Fence, LeaseRecord } from "../store/index.js";
import type { Ctx } from "./context.js";

/** GPU activity is written at most this often per instance (heartbeats come every second or so). */
export const GPU_ACTIVITY_STEP_MS = 30_000;

/** Records an instance's GPU activity from a workload report (busy: any GPU at or above GPU_BUSY_PCT). */
export async function recordGpuActivity(
  ctx: Ctx,
  lease: Pick<LeaseRecord, "jobId">,
  w: WorkloadReport,
  now: number,
): Promise<void> {
  if (w.phase !== "running" || w.gpuUtilPct === undefined || w.gpuUtilPct < GPU_BUSY_PCT) return;
  await ctx.store.instances.touchGpu(lease.jobId, now, GPU_ACTIVITY_STEP_MS);
}

/**
 * Stops running instances past their --max-duration or idle for their --idle-stop: a notice event,
 * then a stop like a cancel (billing ends at the server's `now`; the job ends cancelled with the
 * reason). Returns the job ids stopped.
 */
export async function enforceInstanceGuardrails(
  ctx: Ctx,
  now: number,
  fence: Fence | undefined,
): Promise<{ jobId: string; kind: "max-duration" | "idle-stop" }[]> {
  const stopped: { jobId: string; kind: "max-duration" | "idle-stop" }[] = [];
  for (const g of await ctx.store.instances.guardedRunning()) {
    const verdict = guardrailVerdict(
      {
        ...(g.maxDurationS !== null ? { maxDurationS: g.maxDurationS } : {}),
        ...(g.idleStopS !== null ? { idleStopS: g.idleStopS } : {}),
      },
      {
        now,
        startedAt: g.startedAt,
        gpuActiveAt: g.gpuActiveAt,
        relayActiveAt: ctx.relayActivity?.lastActivityMs(g.jobId) ?? null,
      },
    );
    if (!verdict.stop) continue;
    const job = await ctx.store.jobs.getJob(g.jobId);
    const graceS = job?.spec.gracePeriodS ?? ctx.config.stopGraceS;
    if (await ctx.store.jobs.requestLeaseStop(g.leaseId, verdict.reason, now, now + graceS * 1000, fence)) {
      await ctx.store.jobs.addEvent(
        g.jobId,
        now,
        "running",
        `${verdict.reason}; stopping (SIGTERM, ${graceS} s grace), billed until ${new Date(now).toISOString()}`,
      );
      stopped.push({ jobId: g.jobId, kind: verdict.kind });
    }
  }
  return stopped;
}
