import type { Assignment, WorkloadReport } from "../contract/index.js";
import { checkpointDirFor, scanCheckpoint } from "./checkpoints.js";
import type { WorkloadGang, WorkloadSpec, WorkloadStatus } from "./executor.js";
import type { TrackedLease } from "./outbox.js";

/**
 * The workload of an assignment. A gang rank's rendezvous environment goes into the spec (after the
 * tenant's: it wins), so every executor passes it on; the hostfile is exposed by the executors
 * that can mount it.
 */
export function workloadOf(a: Assignment, gang?: WorkloadGang, checkpointDir?: string): WorkloadSpec {
  return {
    leaseId: a.leaseId,
    jobId: a.jobId,
    spec: gang ? { ...a.spec, env: { ...(a.spec.env ?? {}), ...gang.env } } : a.spec,
    gpuModel: a.gpuModel,
    gpuIndices: a.gpuIndices,
    ...(a.image !== undefined ? { image: a.image } : {}),
    network: a.network,
    ...(a.registryAuth !== undefined ? { registryAuth: a.registryAuth } : {}),
    // The agent picks the host folder (never the server): it is under the agent's own state.
    ...(checkpointDir !== undefined ? { checkpointDir } : {}),
    ...(gang ? { gang } : {}),
  };
}

/** The checkpoint folder of a job as reported to the server (nothing when it holds no file). */
export function checkpointOf(
  stateDir: string,
  jobId: string | undefined,
): { checkpoint?: WorkloadReport["checkpoint"] } {
  if (jobId === undefined) return {};
  const c = scanCheckpoint(checkpointDirFor(stateDir, jobId));
  return c ? { checkpoint: c } : {};
}

/**
 * A workload's report in the heartbeat: its start and end as tracked, in server time (converted
 * once, when first observed), else converted now with `offsetMs`; `extra` adds checkpoint and utilisation.
 */
export function reportOf(
  s: WorkloadStatus,
  t: TrackedLease | undefined,
  offsetMs: number,
  extra: Partial<WorkloadReport>,
): WorkloadReport {
  const startedAt = t?.startedAt ?? (s.startedAt !== undefined ? s.startedAt + offsetMs : undefined);
  const endedAt = t?.endedAt ?? (s.endedAt !== undefined ? s.endedAt + offsetMs : undefined);
  return {
    leaseId: s.leaseId,
    phase: s.phase,
    ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
    ...(s.signal !== undefined ? { signal: s.signal } : {}),
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    ...(startedAt != null ? { startedAt } : {}),
    ...(endedAt != null && s.endedAt !== undefined ? { endedAt } : {}),
    ...extra,
  };
}
