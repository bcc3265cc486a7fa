import type { GangAssignment } from "../contract/index.js";
import type { Node } from "../domain/index.js";
import type { Fence, LeaseRecord } from "../store/index.js";
import type { Ctx } from "./context.js";

/** Stop reasons that requeue a job whose gang could not start (settleEndedLease reads the prefix). */
export const GANG_START = "gang start:";
/** Stop reasons of the ranks stopped because another rank of their gang ended. */
export const GANG_STOP = "gang:";

/** Default seconds a gang's ranks may take to all be ready. */
const DEFAULT_GANG_START_TIMEOUT_S = 600;

/** The leases of `lease`'s gang in this placement (same job and creation), by rank; [] for a one-node lease. */
export async function gangOf(ctx: Ctx, lease: LeaseRecord): Promise<LeaseRecord[]> {
  if (!lease.gang) return [];
  return (await ctx.store.jobs.leasesForJob(lease.jobId))
    .filter((l) => l.gang && l.createdAt === lease.createdAt && l.gang.size === lease.gang!.size)
    .sort((a, b) => a.gang!.rank - b.gang!.rank);
}

/**
 * The rendezvous of one rank: the master is rank 0's node at its cluster-network address (its
 * name when the operator stated none), WORLD_SIZE counts the gang's GPUs and RANK is the global
 * rank of this node's first process. `go` is true once every rank was released.
 */
export function gangAssignment(
  lease: LeaseRecord,
  gang: LeaseRecord[],
  nodes: Map<string, Node | undefined>,
): GangAssignment {
  const addr = (l: LeaseRecord): string => {
    const n = nodes.get(l.nodeId);
    return n?.cluster?.address ?? n?.name ?? l.nodeId;
  };
  const me = lease.gang!;
  let rank = 0;
  for (const l of gang) if (l.gang!.rank < me.rank) rank += l.gpuIndices.length;
  return {
    nodeRank: me.rank,
    nnodes: me.size,
    masterAddr: addr(gang[0] ?? lease),
    masterPort: me.port,
    worldSize: gang.reduce((a, l) => a + l.gpuIndices.length, 0),
    rank,
    localWorldSize: lease.gpuIndices.length,
    hosts: gang.map((l) => `${addr(l)} slots=${l.gpuIndices.length}`),
    go: me.goAt !== null,
  };
}

/**
 * Start barrier: releases every gang among `leases` whose ranks are all ready (none stopping, none
 * missing). Returns the ids released now; their nodes learn it in their next heartbeat answer.
 */
export async function releaseReadyGangs(ctx: Ctx, leases: LeaseRecord[], now: number): Promise<string[]> {
  const released: string[] = [];
  const seen = new Set<string>();
  for (const l of leases) {
    if (!l.gang || l.gang.goAt !== null || l.gang.readyAt === null || seen.has(l.jobId)) continue;
    seen.add(l.jobId);
    const gang = await gangOf(ctx, l);
    const all =
      gang.length === l.gang.size && gang.every((g) => g.state === "assigned" && g.gang!.readyAt !== null);
    if (!all) continue;
    const ids = gang.filter((g) => g.gang!.goAt === null).map((g) => g.id);
    if ((await ctx.store.jobs.releaseGang(ids, now)) > 0) {
      released.push(...ids);
      await ctx.store.jobs.addEvent(
        l.jobId,
        now,
        "scheduled",
        `all ${gang.length} ranks ready: gang released to start`,
      );
    }
  }
  return released;
}

/**
 * Stops the gangs whose ranks were not all ready within the start timeout; their jobs are requeued
 * (nothing was billed: no rank started). Returns the jobs requeued.
 */
export async function enforceGangStart(
  ctx: Ctx,
  now: number,
  active: LeaseRecord[],
  fence?: Fence,
): Promise<string[]> {
  const timeoutMs = (ctx.config.gangStartTimeoutS ?? DEFAULT_GANG_START_TIMEOUT_S) * 1000;
  const requeued: string[] = [];
  const late = active.filter(
    (l) => l.gang && l.state === "assigned" && l.gang.goAt === null && l.createdAt + timeoutMs <= now,
  );
  for (const jobId of new Set(late.map((l) => l.jobId))) {
    const gang = active.filter((l) => l.jobId === jobId && l.gang);
    const missing = gang
      .filter((l) => l.gang!.readyAt === null)
      .map((l) => `${l.gang!.rank} (node ${l.nodeId})`);
    const why = `${GANG_START} rank(s) ${missing.join(", ") || "?"} not ready within ${timeoutMs / 1000} s; the gang was stopped`;
    for (const l of gang)
      if (await ctx.store.jobs.requestLeaseStop(l.id, why, now, now, fence)) l.state = "stopping";
    await ctx.store.jobs.transitionJob(jobId, ["scheduled", "running"], "preempted", now, `${why}; requeued`);
    requeued.push(jobId);
  }
  return requeued;
}

/**
 * One rank of a running or starting gang ended without success and without being asked to stop:
 * the other ranks are stopped (with the grace period) and the job ends failed, with a notice that
 * names the rank; a rank released but never started (it could not start) requeues the job instead.
 */
export async function stopGangAfter(
  ctx: Ctx,
  lease: LeaseRecord,
  others: LeaseRecord[],
  what: string,
  cause: string | undefined,
  endedAt: number,
): Promise<void> {
  const jobs = ctx.store.jobs;
  const who = `rank ${lease.gang!.rank} (lease ${lease.id} on node ${lease.nodeId}) ${what}`;
  // Released but never ran (its container or process could not be started there): the gang is
  // requeued. A rank refused before its release (its secrets could not be opened) or whose image
  // cannot be pulled would fail the same way anywhere: the job fails.
  const beforeStart = lease.gang!.goAt !== null && lease.startedAt == null && cause !== "image-pull";
  const reason = beforeStart ? `${GANG_START} ${who} before the gang started` : `${GANG_STOP} ${who}`;
  await jobs.addEvent(
    lease.jobId,
    endedAt,
    "running",
    `${reason}; stopping the other ${others.length} rank(s)`,
  );
  for (const o of others)
    await jobs.requestLeaseStop(o.id, reason, endedAt, endedAt + ctx.config.stopGraceS * 1000);
  if (beforeStart)
    await jobs.transitionJob(
      lease.jobId,
      ["scheduled", "running"],
      "preempted",
      endedAt,
      `${reason}; requeued`,
    );
  else
    await jobs.transitionJob(lease.jobId, ["scheduled", "running"], "failed", endedAt, reason, {
      endedAt,
      exitCode: null,
    });
}
