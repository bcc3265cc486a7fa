import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

/** GPUs held for a preemptor while a preempted lease vacates them. */
export interface GpuReservation {
  jobId: string;
  nodeId: string;
  leaseId: string;
  gpuIndices: number[];
  createdAt: number;
  expiresAt: number;
}

/** Where a job's latest checkpoint lives. */
export interface CheckpointRecord {
  jobId: string;
  leaseId: string;
  nodeId: string;
  siteId: string;
  country: string;
  sizeBytes: number;
  files: number;
  savedAt: number;
  updatedAt: number;
}

/** State of a checkpoint copy from one node to another through the control plane. */
export type TransferState = "requested" | "uploading" | "staged" | "delivered" | "failed";

/** A checkpoint copy from the node that holds it to the node of a new lease. */
export interface CheckpointTransfer {
  id: string;
  jobId: string;
  leaseId: string;
  fromNodeId: string;
  fromSiteId: string;
  toNodeId: string;
  toSiteId: string;
  state: TransferState;
  sizeBytes: number | null;
  sha256: string | null;
  receivedBytes: number;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  /** What the source node sent: every file's path, size and sha256 (null until it sent it). */
  manifest: CheckpointManifest | null;
}

/** A checkpoint folder's content as the source node lists it: the destination verifies against it. */
export interface CheckpointManifest {
  files: { path: string; size: number; sha256: string }[];
}

const transferRow = (r: Database["checkpoint_transfers"]): CheckpointTransfer => ({
  id: r.id,
  jobId: r.job_id,
  leaseId: r.lease_id,
  fromNodeId: r.from_node_id,
  fromSiteId: r.from_site_id,
  toNodeId: r.to_node_id,
  toSiteId: r.to_site_id,
  state: r.state as TransferState,
  sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
  sha256: r.sha256,
  receivedBytes: Number(r.received_bytes),
  reason: r.reason,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  manifest: r.manifest_json ? (JSON.parse(r.manifest_json) as CheckpointManifest) : null,
});

/** GPU reservations for preemptors, checkpoint locations and checkpoint transfers. */
export class CheckpointsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Holds a preempted lease's GPUs for the job that preempted it, until `expiresAt`. */
  async reserve(r: GpuReservation): Promise<void> {
    await this.db
      .insertInto("gpu_reservations")
      .values({
        job_id: r.jobId,
        node_id: r.nodeId,
        lease_id: r.leaseId,
        gpu_indices_json: JSON.stringify(r.gpuIndices),
        created_at: r.createdAt,
        expires_at: r.expiresAt,
      })
      .execute();
  }

  /** Reservations still in force at `now` (expired ones are deleted). */
  async reservations(now: number): Promise<GpuReservation[]> {
    await this.db.deleteFrom("gpu_reservations").where("expires_at", "<=", now).execute();
    const rows = await this.db.selectFrom("gpu_reservations").selectAll().orderBy("id").execute();
    return rows.map((r) => ({
      jobId: r.job_id,
      nodeId: r.node_id,
      leaseId: r.lease_id,
      gpuIndices: JSON.parse(r.gpu_indices_json) as number[],
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
    }));
  }

  /** Releases every reservation held for a job (it was placed, or ended). */
  async release(jobId: string): Promise<void> {
    await this.db.deleteFrom("gpu_reservations").where("job_id", "=", jobId).execute();
  }

  /** Records where a job's latest checkpoint is; returns true when it changed (new place or newer save). */
  async recordCheckpoint(c: CheckpointRecord): Promise<boolean> {
    const before = await this.getCheckpoint(c.jobId);
    if (
      before &&
      before.nodeId === c.nodeId &&
      before.savedAt === c.savedAt &&
      before.sizeBytes === c.sizeBytes &&
      before.files === c.files
    )
      return false;
    const values = {
      lease_id: c.leaseId,
      node_id: c.nodeId,
      site_id: c.siteId,
      country: c.country,
      size_bytes: c.sizeBytes,
      files: c.files,
      saved_at: c.savedAt,
      updated_at: c.updatedAt,
    };
    if (before)
      await this.db.updateTable("job_checkpoints").set(values).where("job_id", "=", c.jobId).execute();
    else
      await this.db
        .insertInto("job_checkpoints")
        .values({ job_id: c.jobId, ...values })
        .execute();
    return true;
  }

  /** Where a job's latest checkpoint is, if any. */
  async getCheckpoint(jobId: string): Promise<CheckpointRecord | undefined> {
    const r = await this.db
      .selectFrom("job_checkpoints")
      .selectAll()
      .where("job_id", "=", jobId)
      .executeTakeFirst();
    return r && checkpointRow(r);
  }

  /** Checkpoint locations of many jobs. */
  async checkpointsFor(jobIds: string[]): Promise<CheckpointRecord[]> {
    if (jobIds.length === 0) return [];
    const out: CheckpointRecord[] = [];
    for (let i = 0; i < jobIds.length; i += 500) {
      const rows = await this.db
        .selectFrom("job_checkpoints")
        .selectAll()
        .where("job_id", "in", jobIds.slice(i, i + 500))
        .execute();
      out.push(...rows.map(checkpointRow));
    }
    return out;
  }

  /** Forgets a job's checkpoint location (the job ended). */
  async dropCheckpoint(jobId: string): Promise<void> {
    await this.db.deleteFrom("job_checkpoints").where("job_id", "=", jobId).execute();
  }

  /** Creates a transfer in state "requested". */
  async createTransfer(
    t: Omit<
      CheckpointTransfer,
      "state" | "sizeBytes" | "sha256" | "receivedBytes" | "reason" | "updatedAt" | "manifest"
    >,
  ): Promise<CheckpointTransfer> {
    await this.db
      .insertInto("checkpoint_transfers")
      .values({
        id: t.id,
        job_id: t.jobId,
        lease_id: t.leaseId,
        from_node_id: t.fromNodeId,
        from_site_id: t.fromSiteId,
        to_node_id: t.toNodeId,
        to_site_id: t.toSiteId,
        state: "requested",
        size_bytes: null,
        sha256: null,
        received_bytes: 0,
        reason: null,
        created_at: t.createdAt,
        updated_at: t.createdAt,
        manifest_json: null,
      })
      .execute();
    return (await this.getTransfer(t.id))!;
  }

  async getTransfer(id: string): Promise<CheckpointTransfer | undefined> {
    const r = await this.db
      .selectFrom("checkpoint_transfers")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return r && transferRow(r);
  }

  /** The transfer feeding a lease, if any. */
  async transferForLease(leaseId: string): Promise<CheckpointTransfer | undefined> {
    const r = await this.db
      .selectFrom("checkpoint_transfers")
      .selectAll()
      .where("lease_id", "=", leaseId)
      .orderBy("created_at", "desc")
      .executeTakeFirst();
    return r && transferRow(r);
  }

  /** Transfers a node must upload (requested or half-uploaded). */
  async uploadsFrom(nodeId: string): Promise<CheckpointTransfer[]> {
    const rows = await this.db
      .selectFrom("checkpoint_transfers")
      .selectAll()
      .where("from_node_id", "=", nodeId)
      .where("state", "in", ["requested", "uploading"])
      .orderBy("created_at")
      .execute();
    return rows.map(transferRow);
  }

  /** Of `jobIds`, the jobs whose checkpoint this node has delivered to another node. */
  async deliveredFrom(nodeId: string, jobIds: string[]): Promise<Set<string>> {
    if (jobIds.length === 0) return new Set();
    const rows = await this.db
      .selectFrom("checkpoint_transfers")
      .select("job_id")
      .where("from_node_id", "=", nodeId)
      .where("state", "=", "delivered")
      .where("job_id", "in", jobIds)
      .execute();
    return new Set(rows.map((r) => r.job_id));
  }

  /** The states of the jobs named (unknown ids are absent). */
  async jobStates(jobIds: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < jobIds.length; i += 500) {
      const rows = await this.db
        .selectFrom("jobs")
        .select(["id", "state"])
        .where("id", "in", jobIds.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.id, r.state);
    }
    return out;
  }

  /** A job's transfers, newest first. */
  async transfersForJob(jobId: string): Promise<CheckpointTransfer[]> {
    const rows = await this.db
      .selectFrom("checkpoint_transfers")
      .selectAll()
      .where("job_id", "=", jobId)
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(transferRow);
  }

  /** Transfers not yet finished (requested, uploading or staged). */
  async openTransfers(): Promise<CheckpointTransfer[]> {
    const rows = await this.db
      .selectFrom("checkpoint_transfers")
      .selectAll()
      .where("state", "in", ["requested", "uploading", "staged"])
      .orderBy("created_at")
      .execute();
    return rows.map(transferRow);
  }

  /** Updates a transfer's progress or state (only from one of `from`); returns whether it changed. */
  async updateTransfer(
    id: string,
    from: TransferState[],
    set: Partial<
      Pick<CheckpointTransfer, "state" | "sizeBytes" | "sha256" | "receivedBytes" | "reason" | "manifest">
    >,
    now: number,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable("checkpoint_transfers")
      .set({
        ...(set.state !== undefined ? { state: set.state } : {}),
        ...(set.sizeBytes !== undefined ? { size_bytes: set.sizeBytes } : {}),
        ...(set.sha256 !== undefined ? { sha256: set.sha256 } : {}),
        ...(set.receivedBytes !== undefined ? { received_bytes: set.receivedBytes } : {}),
        ...(set.reason !== undefined ? { reason: set.reason } : {}),
        ...(set.manifest !== undefined ? { manifest_json: JSON.stringify(set.manifest) } : {}),
        updated_at: now,
      })
      .where("id", "=", id)
      .where("state", "in", from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}

function checkpointRow(r: Database["job_checkpoints"]): CheckpointRecord {
  return {
    jobId: r.job_id,
    leaseId: r.lease_id,
    nodeId: r.node_id,
    siteId: r.site_id,
    country: r.country,
    sizeBytes: Number(r.size_bytes),
    files: Number(r.files),
    savedAt: Number(r.saved_at),
    updatedAt: Number(r.updated_at),
  };
}
