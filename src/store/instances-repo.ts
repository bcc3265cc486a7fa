import type { Kysely, Transaction } from "kysely";
import type { Job } from "../domain/index.js";
import type { Database } from "./schema.js";

/** A running lease of an instance that has a guardrail, with what the loop needs to judge it. */
export interface GuardedInstance {
  jobId: string;
  tenantId: string;
  leaseId: string;
  startedAt: number;
  maxDurationS: number | null;
  idleStopS: number | null;
  /** Last time a heartbeat reported the instance's GPUs busy (null: never). */
  gpuActiveAt: number | null;
}

/** Writes an instance's guardrail row with its job (inside the job's own transaction). */
export async function insertInstanceRow(trx: Transaction<Database>, job: Job): Promise<void> {
  const i = job.spec.instance;
  if (!i) return;
  await trx
    .insertInto("instances")
    .values({
      job_id: job.id,
      tenant_id: job.tenantId,
      max_duration_s: i.maxDurationS ?? null,
      idle_stop_s: i.idleStopS ?? null,
      gpu_active_at: null,
      created_at: job.submittedAt,
    })
    .execute();
}

/** Interactive instances: guardrails and GPU activity. */
export class InstancesRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Running leases of instances with a max duration or an idle stop. */
  async guardedRunning(): Promise<GuardedInstance[]> {
    const rows = await this.db
      .selectFrom("instances as i")
      .innerJoin("leases as l", "l.job_id", "i.job_id")
      .select([
        "i.job_id",
        "i.tenant_id",
        "l.id as lease_id",
        "l.started_at",
        "i.max_duration_s",
        "i.idle_stop_s",
        "i.gpu_active_at",
      ])
      .where("l.state", "=", "running")
      .where("l.started_at", "is not", null)
      .where((eb) => eb.or([eb("i.max_duration_s", "is not", null), eb("i.idle_stop_s", "is not", null)]))
      .execute();
    return rows.map((r) => ({
      jobId: r.job_id,
      tenantId: r.tenant_id,
      leaseId: r.lease_id,
      startedAt: Number(r.started_at),
      maxDurationS: r.max_duration_s === null ? null : Number(r.max_duration_s),
      idleStopS: r.idle_stop_s === null ? null : Number(r.idle_stop_s),
      gpuActiveAt: r.gpu_active_at === null ? null : Number(r.gpu_active_at),
    }));
  }

  /**
   * Records that the job's GPUs were busy at `now`; written at most once per `stepMs` (heartbeats
   * repeat every second or so). A job that is not an instance has no row: nothing is written.
   */
  async touchGpu(jobId: string, now: number, stepMs: number): Promise<void> {
    await this.db
      .updateTable("instances")
      .set({ gpu_active_at: now })
      .where("job_id", "=", jobId)
      .where((eb) => eb.or([eb("gpu_active_at", "is", null), eb("gpu_active_at", "<=", now - stepMs)]))
      .execute();
  }

  /** The instance's last GPU activity (undefined: not an instance). */
  async gpuActiveAt(jobId: string): Promise<number | null | undefined> {
    const r = await this.db
      .selectFrom("instances")
      .select("gpu_active_at")
      .where("job_id", "=", jobId)
      .executeTakeFirst();
    return r ? (r.gpu_active_at === null ? null : Number(r.gpu_active_at)) : undefined;
  }
}
