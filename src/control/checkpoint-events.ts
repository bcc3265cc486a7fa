import type { WorkloadReport } from "../contract/index.js";
import type { CheckpointRecord, LeaseRecord } from "../store/index.js";
import type { Ctx } from "./context.js";

/** A byte count for people: 1.5 MB, 12 kB, 900 B (SI units). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB", "PB"];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ${units[u]}`;
}

/** "node N at site S (CC): 1.5 MB in 3 file(s), last saved ISO". */
export function describeCheckpoint(
  c: Pick<CheckpointRecord, "nodeId" | "siteId" | "country" | "sizeBytes" | "files" | "savedAt">,
): string {
  return `node ${c.nodeId} at site ${c.siteId} (${c.country}): ${formatBytes(c.sizeBytes)} in ${c.files} file(s), last saved ${new Date(c.savedAt).toISOString()}`;
}

/**
 * Records where a job's checkpoint is from a node's workload report (the node's claim is bounded:
 * its save time is never later than the server's now). The job's events say when a checkpoint is
 * first seen on a node, and what it holds when a stopped lease ends (preemption, curtailment, cancel).
 */
export async function recordCheckpointReport(
  ctx: Ctx,
  lease: LeaseRecord,
  w: WorkloadReport,
  now: number,
): Promise<void> {
  if (!w.checkpoint) return;
  const before = await ctx.store.checkpoints.getCheckpoint(lease.jobId);
  const rec: CheckpointRecord = {
    jobId: lease.jobId,
    leaseId: lease.id,
    nodeId: lease.nodeId,
    siteId: lease.siteId,
    country: lease.country,
    sizeBytes: w.checkpoint.bytes,
    files: w.checkpoint.files,
    savedAt: Math.min(w.checkpoint.savedAt, now),
    updatedAt: now,
  };
  // Heartbeats repeat the same report while nothing is saved: write only what changed.
  const changed =
    !before ||
    before.leaseId !== rec.leaseId ||
    before.sizeBytes !== rec.sizeBytes ||
    before.files !== rec.files ||
    before.savedAt !== rec.savedAt;
  if (changed) await ctx.store.checkpoints.recordCheckpoint(rec);
  const ended = w.phase === "succeeded" || w.phase === "failed" || w.phase === "cancelled";
  if (!before || before.nodeId !== lease.nodeId)
    await ctx.store.jobs.addEvent(lease.jobId, now, "running", `checkpoint on ${describeCheckpoint(rec)}`);
  else if (ended && lease.stopReason)
    await ctx.store.jobs.addEvent(
      lease.jobId,
      now,
      "running",
      `checkpoint kept on ${describeCheckpoint(rec)} (lease ${lease.id} stopped: ${lease.stopReason})`,
    );
}
