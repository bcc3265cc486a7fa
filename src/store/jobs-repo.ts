import type { Kysely, Transaction } from "kysely";
import type { Job, JobClass, JobRequest, JobSpec, JobState, Lease, LeaseState } from "../domain/index.js";
import { TERMINAL_JOB_STATES } from "../domain/index.js";
import { checkFence, type Fence } from "./fence.js";
import { insertInstanceRow } from "./instances-repo.js";
import type { Database } from "./schema.js";

export const jobRow = (r: Database["jobs"]): Job => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  request: JSON.parse(r.request_json) as JobRequest,
  spec: JSON.parse(r.spec_json) as JobSpec,
  state: r.state as JobState,
  stateReason: r.state_reason,
  reasons: JSON.parse(r.reasons_json) as string[],
  submittedAt: r.submitted_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  exitCode: r.exit_code,
});

/** A lease row with the fields billing needs beyond the domain Lease. */
export interface LeaseRecord extends Lease {
  operatorId: string;
  stopRequestedAt: number | null;
}

export const leaseRow = (r: Database["leases"]): LeaseRecord => ({
  id: r.id,
  jobId: r.job_id,
  tenantId: r.tenant_id,
  siteId: r.site_id,
  operatorId: r.operator_id,
  nodeId: r.node_id,
  country: r.country,
  gpuModel: r.gpu_model,
  gpuIndices: JSON.parse(r.gpu_indices_json) as number[],
  class: r.class as JobClass,
  priceMinorPerGpuHour: r.price_minor,
  currency: r.currency,
  state: r.state as LeaseState,
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  stopReason: r.stop_reason,
  stopRequestedAt: r.stop_requested_at,
  stopDeadlineAt: r.stop_deadline_at,
  gang:
    r.gang_rank === null || r.gang_rank === undefined
      ? null
      : {
          rank: r.gang_rank,
          size: r.gang_size ?? 1,
          port: r.gang_port ?? 0,
          readyAt: r.ready_at ?? null,
          goAt: r.go_at ?? null,
        },
});

export interface JobEvent {
  id: number;
  jobId: string;
  at: number;
  state: string;
  message: string;
}
export interface LogLine {
  id: number;
  leaseId: string;
  stream: string;
  text: string;
  at: number;
}

/** New lease as the control loop commits it. */
export type NewLease = Omit<
  LeaseRecord,
  "state" | "startedAt" | "endedAt" | "stopReason" | "stopRequestedAt" | "stopDeadlineAt" | "gang"
> & { gang?: { rank: number; size: number; port: number } };

const ACTIVE_LEASE_STATES: LeaseState[] = ["assigned", "running", "stopping"];

/** Jobs, leases, state history and logs. */
export class JobsRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: "sqlite" | "postgres" = "sqlite",
  ) {}

  /**
   * Stores a new job with its sealed secret env values (all or nothing). On PostgreSQL a job with no
   * secrets and no instance row is one statement, the job and its first event together (one round
   * trip instead of four: a submission's latency at fleet scale is mostly waits between round trips).
   */
  async createJob(
    job: Job,
    secrets: readonly { name: string; keyId: string; sealed: string }[] = [],
  ): Promise<Job> {
    const row = {
      id: job.id,
      tenant_id: job.tenantId,
      name: job.name,
      request_json: JSON.stringify(job.request),
      spec_json: JSON.stringify(job.spec),
      state: job.state,
      state_reason: job.stateReason ?? null,
      reasons_json: JSON.stringify(job.reasons),
      submitted_at: job.submittedAt,
      started_at: null,
      ended_at: null,
      exit_code: null,
    };
    const event = { job_id: job.id, at: job.submittedAt, state: job.state, message: "submitted" };
    if (this.dialect === "postgres" && secrets.length === 0 && !job.spec.instance) {
      await this.db
        .with("job", (db) => db.insertInto("jobs").values(row))
        .insertInto("job_events")
        .values(event)
        .execute();
      return job;
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("jobs").values(row).execute();
      if (secrets.length > 0)
        await trx
          .insertInto("job_secrets")
          .values(secrets.map((x) => ({ job_id: job.id, name: x.name, key_id: x.keyId, sealed: x.sealed })))
          .execute();
      await insertInstanceRow(trx, job);
      await trx.insertInto("job_events").values(event).execute();
    });
    return job;
  }
  async getJob(id: string): Promise<Job | undefined> {
    const r = await this.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return r && jobRow(r);
  }
  async listJobs(filter: { tenantId?: string; states?: JobState[]; limit?: number } = {}): Promise<Job[]> {
    let q = this.db.selectFrom("jobs").selectAll();
    if (filter.tenantId) q = q.where("tenant_id", "=", filter.tenantId);
    if (filter.states) q = q.where("state", "in", filter.states);
    const rows = await q
      .orderBy("submitted_at", "desc")
      .orderBy("id", "desc")
      .limit(filter.limit ?? 500)
      .execute();
    return rows.map(jobRow);
  }
  /** Pending jobs oldest first (the scheduler's queue). */
  async pendingJobs(limit = 10_000): Promise<Job[]> {
    const rows = await this.db
      .selectFrom("jobs")
      .selectAll()
      .where("state", "in", ["pending", "preempted"])
      .orderBy("submitted_at")
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map(jobRow);
  }
  /** GPU-seconds each job has held so far (all its leases, a running one up to now): the queue policy's attained service. */
  async attainedGpuS(jobIds: string[], now: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let k = 0; k < jobIds.length; k += 500) {
      const rows = await this.db
        .selectFrom("leases")
        .select(["job_id", "started_at", "ended_at", "gpu_indices_json"])
        .where("job_id", "in", jobIds.slice(k, k + 500))
        .where("started_at", "is not", null)
        .execute();
      for (const r of rows) {
        const gpus = (JSON.parse(r.gpu_indices_json) as number[]).length;
        const s = (gpus * Math.max(0, (r.ended_at ?? now) - r.started_at!)) / 1000;
        out.set(r.job_id, (out.get(r.job_id) ?? 0) + s);
      }
    }
    return out;
  }
  /** The last `limit` jobs that ended (succeeded or failed), oldest first, with the GPU-seconds each held. */
  async finishedService(limit = 2000): Promise<{ tenantId: string; gpus: number; serviceGpuS: number }[]> {
    const jobs = await this.db
      .selectFrom("jobs")
      .select(["id", "tenant_id", "request_json", "ended_at"])
      .where("state", "in", ["succeeded", "failed"])
      .where("ended_at", "is not", null)
      .orderBy("ended_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    if (jobs.length === 0) return [];
    const held = await this.attainedGpuS(
      jobs.map((j) => j.id),
      0,
    );
    return jobs.reverse().map((j) => ({
      tenantId: j.tenant_id,
      gpus: (JSON.parse(j.request_json) as JobRequest).gpus,
      serviceGpuS: held.get(j.id) ?? 0,
    }));
  }
  /** Updates the reasons a pending job waits, only when they changed (and logs the change). */
  async setWaitReasons(jobId: string, reasons: string[], now: number): Promise<void> {
    const json = JSON.stringify(reasons);
    const r = await this.db
      .updateTable("jobs")
      .set({
        reasons_json: json,
        state_reason: reasons.length
          ? "waiting: nothing fits now (see reasons)"
          : "waiting for the scheduler",
      })
      .where("id", "=", jobId)
      .where("reasons_json", "<>", json)
      .where("state", "in", ["pending", "preempted"])
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0)
      await addEvent(this.db, jobId, now, "pending", `waiting: ${reasons.join("; ")}`);
  }
  /** Moves a job to a new state with a history event; `from` guards against races. */
  async transitionJob(
    jobId: string,
    from: JobState[],
    to: JobState,
    now: number,
    message: string,
    extra: { exitCode?: number | null; startedAt?: number; endedAt?: number } = {},
    trx?: Transaction<Database>,
  ): Promise<boolean> {
    const run = async (t: Kysely<Database>): Promise<boolean> => {
      const set: Partial<Database["jobs"]> = { state: to, state_reason: message };
      if (extra.exitCode !== undefined) set.exit_code = extra.exitCode;
      if (extra.startedAt !== undefined) set.started_at = extra.startedAt;
      if (extra.endedAt !== undefined) set.ended_at = extra.endedAt;
      if (to !== "pending" && to !== "preempted") set.reasons_json = "[]";
      const r = await t
        .updateTable("jobs")
        .set(set)
        .where("id", "=", jobId)
        .where("state", "in", from)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await addEvent(t, jobId, now, to, message);
      // A job that ended needs its secret env values no more: they are deleted with its end.
      if (TERMINAL_JOB_STATES.has(to))
        await t.deleteFrom("job_secrets").where("job_id", "=", jobId).execute();
      return true;
    };
    return trx ? run(trx) : this.db.transaction().execute(run);
  }

  /**
   * Commits one placement: the job goes pending -> scheduled and its leases are created, unless the
   * job is no longer pending or one of the GPUs is already held by an active lease (then nothing is written).
   */
  async commitPlacement(
    jobId: string,
    leases: NewLease[],
    now: number,
    message: string,
    fence?: Fence,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // Fencing: a leader whose term was superseded commits nothing (throws FencedError).
      await checkFence(trx, this.dialect, fence);
      for (const l of leases) {
        const held = await trx
          .selectFrom("leases")
          .select(["gpu_indices_json"])
          .where("node_id", "=", l.nodeId)
          .where("state", "in", ACTIVE_LEASE_STATES)
          .execute();
        const taken = new Set(held.flatMap((h) => JSON.parse(h.gpu_indices_json) as number[]));
        if (l.gpuIndices.some((i) => taken.has(i))) return false;
        // GPUs being vacated for a preemptor are its alone (a preempted job never retakes them).
        const claims = await trx
          .selectFrom("gpu_reservations")
          .select(["gpu_indices_json"])
          .where("node_id", "=", l.nodeId)
          .where("job_id", "<>", jobId)
          .where("expires_at", ">", now)
          .execute();
        const claimed = new Set(claims.flatMap((h) => JSON.parse(h.gpu_indices_json) as number[]));
        if (l.gpuIndices.some((i) => claimed.has(i))) return false;
      }
      const ok = await this.transitionJob(
        jobId,
        ["pending", "preempted"],
        "scheduled",
        now,
        message,
        {},
        trx,
      );
      if (!ok) return false;
      await trx.deleteFrom("gpu_reservations").where("job_id", "=", jobId).execute();
      for (const l of leases) {
        await trx
          .insertInto("leases")
          .values({
            id: l.id,
            job_id: l.jobId,
            tenant_id: l.tenantId,
            site_id: l.siteId,
            operator_id: l.operatorId,
            node_id: l.nodeId,
            country: l.country,
            gpu_model: l.gpuModel,
            gpu_indices_json: JSON.stringify(l.gpuIndices),
            class: l.class,
            price_minor: l.priceMinorPerGpuHour,
            currency: l.currency,
            state: "assigned",
            created_at: l.createdAt,
            started_at: null,
            ended_at: null,
            stop_reason: null,
            stop_requested_at: null,
            stop_deadline_at: null,
            gang_rank: l.gang?.rank ?? null,
            gang_size: l.gang?.size ?? null,
            gang_port: l.gang?.port ?? null,
            ready_at: null,
            go_at: null,
          })
          .execute();
      }
      return true;
    });
  }

  async getLease(id: string): Promise<LeaseRecord | undefined> {
    const r = await this.db.selectFrom("leases").selectAll().where("id", "=", id).executeTakeFirst();
    return r && leaseRow(r);
  }
  async leasesForJob(jobId: string): Promise<LeaseRecord[]> {
    const rows = await this.db
      .selectFrom("leases")
      .selectAll()
      .where("job_id", "=", jobId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(leaseRow);
  }
  async activeLeases(nodeId?: string): Promise<LeaseRecord[]> {
    let q = this.db.selectFrom("leases").selectAll().where("state", "in", ACTIVE_LEASE_STATES);
    if (nodeId) q = q.where("node_id", "=", nodeId);
    return (await q.orderBy("created_at").orderBy("id").execute()).map(leaseRow);
  }
  async leasesByIds(ids: string[]): Promise<LeaseRecord[]> {
    if (ids.length === 0) return [];
    return (await this.db.selectFrom("leases").selectAll().where("id", "in", ids).execute()).map(leaseRow);
  }
  /** Leases that overlap [fromMs, toMs) for a tenant (statements) or everyone. */
  async leasesOverlapping(fromMs: number, toMs: number, tenantId?: string): Promise<LeaseRecord[]> {
    let q = this.db
      .selectFrom("leases")
      .selectAll()
      .where("started_at", "is not", null)
      .where("started_at", "<", toMs)
      .where((eb) => eb.or([eb("ended_at", "is", null), eb("ended_at", ">=", fromMs)]));
    if (tenantId) q = q.where("tenant_id", "=", tenantId);
    return (await q.orderBy("started_at").orderBy("id").execute()).map(leaseRow);
  }

  /** The node reports a gang rank ready to start (first report counts); false when not an active gang lease. */
  async markLeaseReady(leaseId: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable("leases")
      .set({ ready_at: at })
      .where("id", "=", leaseId)
      .where("gang_rank", "is not", null)
      .where("ready_at", "is", null)
      .where("state", "=", "assigned")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Releases a gang's ranks to start (every rank ready); returns how many leases were released. */
  async releaseGang(leaseIds: string[], at: number): Promise<number> {
    if (leaseIds.length === 0) return 0;
    const r = await this.db
      .updateTable("leases")
      .set({ go_at: at })
      .where("id", "in", leaseIds)
      .where("go_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** The agent started the workload: lease and job are running; price and place were locked at creation. */
  async markLeaseRunning(leaseId: string, startedAt: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable("leases")
        .set({ state: "running", started_at: startedAt })
        .where("id", "=", leaseId)
        .where("state", "=", "assigned")
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) {
        // Stopped before its start was reported: keep it stopping, but record the start.
        const s = await trx
          .updateTable("leases")
          .set({ started_at: startedAt })
          .where("id", "=", leaseId)
          .where("state", "=", "stopping")
          .where("started_at", "is", null)
          .executeTakeFirst();
        if (Number(s.numUpdatedRows) === 0) return false;
      }
      const l = await trx
        .selectFrom("leases")
        .select(["job_id", "node_id"])
        .where("id", "=", leaseId)
        .executeTakeFirstOrThrow();
      await this.transitionJob(
        l.job_id,
        ["scheduled"],
        "running",
        startedAt,
        `running on node ${l.node_id}`,
        { startedAt },
        trx,
      );
      return true;
    });
  }
  /**
   * Changes why a stopping lease stops (a cancel overrides a preemption, so the job is not requeued);
   * the deadline only moves earlier and billing still stops at the first request.
   */
  async restateLeaseStop(leaseId: string, reason: string, deadlineAt: number): Promise<boolean> {
    const l = await this.getLease(leaseId);
    if (!l || l.state !== "stopping") return false;
    const r = await this.db
      .updateTable("leases")
      .set({ stop_reason: reason, stop_deadline_at: Math.min(l.stopDeadlineAt ?? deadlineAt, deadlineAt) })
      .where("id", "=", leaseId)
      .where("state", "=", "stopping")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  /** Asks the agent to stop a lease (cancel, preemption, curtailment); billing stops at `now`. */
  async requestLeaseStop(
    leaseId: string,
    reason: string,
    now: number,
    deadlineAt: number,
    fence?: Fence,
  ): Promise<boolean> {
    const run = async (t: Kysely<Database>): Promise<boolean> => {
      await checkFence(t, this.dialect, fence);
      const r = await t
        .updateTable("leases")
        .set({ state: "stopping", stop_reason: reason, stop_requested_at: now, stop_deadline_at: deadlineAt })
        .where("id", "=", leaseId)
        .where("state", "in", ["assigned", "running"])
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    };
    // Fenced stops (the scheduler's preemptions) check the leader's term in the same transaction.
    return fence ? this.db.transaction().execute(run) : run(this.db);
  }
  /** Ends a lease (workload exited or was lost). Returns the lease as it was before, if it was active. */
  async endLease(leaseId: string, endedAt: number): Promise<LeaseRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom("leases").selectAll().where("id", "=", leaseId).executeTakeFirst();
      if (!before || before.state === "ended") return undefined;
      await trx
        .updateTable("leases")
        .set({ state: "ended", ended_at: endedAt })
        .where("id", "=", leaseId)
        .execute();
      return leaseRow(before);
    });
  }

  /** Records an event in a job's history (notices that change no state). */
  async addEvent(jobId: string, at: number, state: string, message: string): Promise<void> {
    await addEvent(this.db, jobId, at, state, message);
  }

  async events(jobId: string): Promise<JobEvent[]> {
    const rows = await this.db
      .selectFrom("job_events")
      .selectAll()
      .where("job_id", "=", jobId)
      .orderBy("id")
      .execute();
    return rows.map((r) => ({ id: r.id, jobId: r.job_id, at: r.at, state: r.state, message: r.message }));
  }

  /** Appends log text for a job, keeping at most capBytes per job (then one truncation notice). */
  async appendLogs(
    jobId: string,
    chunks: { leaseId: string; stream: string; text: string }[],
    now: number,
    capBytes: number,
  ): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const used = await trx
        .selectFrom("logs")
        .select((eb) => eb.fn.sum<number>(eb.fn("length", ["text"])).as("n"))
        .where("job_id", "=", jobId)
        .executeTakeFirst();
      let budget = capBytes - Number(used?.n ?? 0);
      let written = 0;
      for (const c of chunks) {
        if (budget <= 0) break;
        let text = c.text;
        if (text.length > budget)
          text = `${text.slice(0, budget)}\n[zumbido: log truncated at ${capBytes} bytes]\n`;
        await trx
          .insertInto("logs")
          .values({ job_id: jobId, lease_id: c.leaseId, stream: c.stream, text, at: now })
          .execute();
        budget -= text.length;
        written += text.length;
      }
      return written;
    });
  }
  async logs(jobId: string, afterId = 0, limit = 1000): Promise<LogLine[]> {
    const rows = await this.db
      .selectFrom("logs")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("id", ">", afterId)
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, leaseId: r.lease_id, stream: r.stream, text: r.text, at: r.at }));
  }
}

async function addEvent(
  db: Kysely<Database>,
  jobId: string,
  at: number,
  state: string,
  message: string,
): Promise<void> {
  await db.insertInto("job_events").values({ job_id: jobId, at, state, message }).execute();
}
