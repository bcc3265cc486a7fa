import { inJurisdiction, TERMINAL_JOB_STATES, type Job } from "../domain/index.js";
import type { CheckpointRecord, CheckpointTransfer, LeaseRecord } from "../store/index.js";
import { describeCheckpoint, formatBytes } from "./checkpoint-events.js";
import type { Ctx } from "./context.js";

/** Transfer states still in progress (the destination's lease waits for them). */
export const OPEN_TRANSFER: CheckpointTransfer["state"][] = ["requested", "uploading", "staged"];

/** What a node must do for a checkpoint copy, as its heartbeat answer carries it. */
export interface TransferOrder {
  id: string;
  jobId: string;
  /** "send": this node holds the checkpoint; "receive": the job's new lease is here. */
  role: "send" | "receive";
}

/** The new lease of a placement, as the copy planner needs it. */
export interface PlacedLease {
  id: string;
  nodeId: string;
  siteId: string;
  country: string;
}

/** Why a job's checkpoint may not go to `country`, or null when the job's constraints allow it. */
export function jurisdictionRefusal(job: Job, country: string): string | null {
  const r = job.request;
  if (r.jurisdiction && !inJurisdiction(country, r.jurisdiction))
    return `${country} is outside the job's jurisdiction ${r.jurisdiction}`;
  if (r.countries && r.countries.length > 0 && !r.countries.includes(country))
    return `${country} is not among the job's countries ${r.countries.join(", ")}`;
  return null;
}

/**
 * A requeued job's new placement: it resumes from its checkpoint on the node that holds it; placed on
 * another node (one-node jobs), the checkpoint is copied there first and the lease starts once the
 * copy is verified. A copy outside the job's jurisdiction is refused and recorded. A multi-node job
 * placed elsewhere starts from empty folders (gang checkpoints are not copied).
 */
export async function planResume(ctx: Ctx, jobId: string, leases: PlacedLease[], now: number): Promise<void> {
  const c = await ctx.store.checkpoints.getCheckpoint(jobId);
  if (!c) return;
  const events = ctx.store.jobs;
  if (leases.some((l) => l.nodeId === c.nodeId)) {
    await events.addEvent(
      jobId,
      now,
      "scheduled",
      `resuming from its checkpoint on ${describeCheckpoint(c)}`,
    );
    return;
  }
  const nodes = leases.map((l) => l.nodeId).join(", ");
  if (leases.length !== 1) {
    await events.addEvent(
      jobId,
      now,
      "scheduled",
      `its checkpoint is on ${describeCheckpoint(c)}; placed on nodes ${nodes}, which start from empty checkpoint folders (checkpoints of multi-node jobs are not copied)`,
    );
    return;
  }
  const lease = leases[0]!;
  const job = await events.getJob(jobId);
  if (!job) return;
  const t = await ctx.store.checkpoints.createTransfer({
    id: ctx.ids("xfer"),
    jobId,
    leaseId: lease.id,
    fromNodeId: c.nodeId,
    fromSiteId: c.siteId,
    toNodeId: lease.nodeId,
    toSiteId: lease.siteId,
    createdAt: now,
  });
  transfersChanged(ctx);
  const refusal = jurisdictionRefusal(job, lease.country);
  if (refusal) {
    await failTransfer(ctx, t, `refused: node ${lease.nodeId} at site ${lease.siteId} is in ${refusal}`, now);
    return;
  }
  await events.addEvent(
    jobId,
    now,
    "scheduled",
    `checkpoint copy ${t.id} requested: from ${describeCheckpoint(c)} to node ${lease.nodeId} at site ${lease.siteId} (${lease.country}); lease ${lease.id} starts once the copy is verified`,
  );
}

/**
 * Ends a copy that failed (refused, the source lost, a file that never verifies). The job then starts
 * from an empty checkpoint folder only if it allows it (`freshIfCheckpointLost`); else its new lease
 * ends unstarted (nothing billed) and the job goes back to the queue, where it waits while its
 * checkpoint's node is offline (see waitsForCheckpoint).
 */
export async function failTransfer(
  ctx: Ctx,
  t: CheckpointTransfer,
  reason: string,
  now: number,
): Promise<void> {
  if (!(await ctx.store.checkpoints.updateTransfer(t.id, OPEN_TRANSFER, { state: "failed", reason }, now)))
    return;
  transfersChanged(ctx);
  const jobs = ctx.store.jobs;
  const job = await jobs.getJob(t.jobId);
  await jobs.addEvent(t.jobId, now, "scheduled", `checkpoint copy ${t.id} failed: ${reason}`);
  if (!job || TERMINAL_JOB_STATES.has(job.state)) return;
  if (job.spec.freshIfCheckpointLost) {
    await jobs.addEvent(
      t.jobId,
      now,
      "scheduled",
      `lease ${t.leaseId} on node ${t.toNodeId} starts from an empty checkpoint folder (the job allows it: freshIfCheckpointLost)`,
    );
    return;
  }
  const lease = await jobs.getLease(t.leaseId);
  if (!lease || lease.state !== "assigned") return;
  if (!(await jobs.endLease(lease.id, now))) return;
  await jobs.transitionJob(
    t.jobId,
    ["scheduled"],
    "preempted",
    now,
    `its checkpoint could not be copied to node ${t.toNodeId} (${reason}); lease ${lease.id} ended unstarted; requeued to wait for its checkpoint`,
  );
  ctx.nudge();
}

/** True while a lease must not start: its checkpoint copy is still in progress. */
export async function waitsForCopy(ctx: Ctx, lease: LeaseRecord): Promise<boolean> {
  const t = await ctx.store.checkpoints.transferForLease(lease.id);
  return t !== undefined && OPEN_TRANSFER.includes(t.state);
}

/** Open transfers read at most once a second for all heartbeats (cleared by every change made here). */
const openCache = new WeakMap<Ctx, { at: number; list: Promise<CheckpointTransfer[]> }>();
const OPEN_CACHE_MS = 1000;

/** Forgets the cached open transfers (a transfer was created or changed state). */
export function transfersChanged(ctx: Ctx): void {
  openCache.delete(ctx);
}

/** The copy orders for a node's heartbeat answer. */
export async function transferOrders(
  ctx: Ctx,
  nodeId: string,
  /** The node's open transfers when the caller has them (the cluster view); else read (cached). */
  known?: CheckpointTransfer[],
): Promise<TransferOrder[]> {
  if (known)
    return known.map((t) => ({
      id: t.id,
      jobId: t.jobId,
      role: t.fromNodeId === nodeId ? "send" : "receive",
    }));
  const now = ctx.clock.now();
  let c = openCache.get(ctx);
  if (!c || now - c.at >= OPEN_CACHE_MS || now < c.at) {
    c = { at: now, list: ctx.store.checkpoints.openTransfers() };
    openCache.set(ctx, c);
  }
  const open = await c.list.catch((err: unknown) => {
    openCache.delete(ctx);
    throw err;
  });
  return open
    .filter((t) => t.fromNodeId === nodeId || t.toNodeId === nodeId)
    .map((t) => ({
      id: t.id,
      jobId: t.jobId,
      role: t.fromNodeId === nodeId ? "send" : "receive",
    }));
}

/**
 * Copies whose lease ended (the job was cancelled, the node lost) stop; copies with no progress for
 * the copy wait (`ZUMBIDO_CHECKPOINT_COPY_WAIT_S`) fail. Returns how many ended.
 */
export async function expireStalledCopies(ctx: Ctx, now: number): Promise<number> {
  const waitMs = (ctx.config.checkpointCopyWaitS ?? 600) * 1000;
  let n = 0;
  for (const t of await ctx.store.checkpoints.openTransfers()) {
    const lease = await ctx.store.jobs.getLease(t.leaseId);
    if (!lease || lease.state === "ended") {
      const reason = `lease ${t.leaseId} ended before the copy completed`;
      transfersChanged(ctx);
      if (await ctx.store.checkpoints.updateTransfer(t.id, OPEN_TRANSFER, { state: "failed", reason }, now))
        await ctx.store.jobs.addEvent(
          t.jobId,
          now,
          "scheduled",
          `checkpoint copy ${t.id} stopped: ${reason}`,
        );
      n++;
      continue;
    }
    if (t.updatedAt + waitMs > now) continue;
    const from = await ctx.store.fleet.getNode(t.fromNodeId);
    const where = from?.state === "offline" ? `; node ${t.fromNodeId}, which holds it, is offline` : "";
    await failTransfer(ctx, t, `no progress for ${waitMs / 1000} s${where}`, now);
    n++;
  }
  return n;
}

/**
 * True when a requeued job must not be placed now: its checkpoint's node is offline (or gone) and the
 * job does not allow a fresh start; it waits for that node to come back.
 */
export function waitsForCheckpoint(
  job: Job,
  c: CheckpointRecord | undefined,
  nodeState: (nodeId: string) => string | undefined,
): boolean {
  if (!c || job.spec.freshIfCheckpointLost) return false;
  const s = nodeState(c.nodeId);
  return s === undefined || s === "offline";
}

/**
 * Of the checkpoint folders a node holds (job ids), those it may remove: the job ended, the job is
 * unknown here, or this node's checkpoint was copied to another node that now holds the job's latest.
 * A folder of a job that may still resume from it is never named.
 */
export async function removableCheckpoints(ctx: Ctx, nodeId: string, held: string[]): Promise<string[]> {
  if (held.length === 0) return [];
  const states = await ctx.store.checkpoints.jobStates(held);
  const where = new Map((await ctx.store.checkpoints.checkpointsFor(held)).map((c) => [c.jobId, c]));
  const delivered = await ctx.store.checkpoints.deliveredFrom(nodeId, held);
  const active = new Set((await ctx.store.jobs.activeLeases(nodeId)).map((l) => l.jobId));
  return held.filter((id) => {
    if (active.has(id)) return false;
    const state = states.get(id);
    if (state === undefined || TERMINAL_JOB_STATES.has(state as Job["state"])) return true;
    const c = where.get(id);
    return delivered.has(id) && c !== undefined && c.nodeId !== nodeId;
  });
}

/** "N B in F file(s)" of a manifest. */
export function describeManifest(t: Pick<CheckpointTransfer, "sizeBytes" | "manifest">): string {
  return `${formatBytes(t.sizeBytes ?? 0)} in ${t.manifest?.files.length ?? 0} file(s)`;
}
