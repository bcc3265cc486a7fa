import type { Kysely } from "kysely";
import type { Job } from "../domain/index.js";
import { jobRow, leaseRow, type LeaseRecord } from "./jobs-repo.js";
import type { Database } from "./schema.js";

/** One entry of the change feed (migration 0019): a row of `tbl` changed; `rowId` "*" means the table. */
export interface ViewChange {
  id: number;
  tbl: string;
  rowId: string;
}

/** Batches `ids` into IN lists of 500. */
async function chunked<T>(ids: string[], read: (part: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += 500) out.push(...(await read(ids.slice(i, i + 500))));
  return out;
}

/** The reads of the scheduler's cluster view: the change feed and re-reads of changed rows by id. */
export class ViewRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Changes after `afterId`, oldest first. */
  async changesSince(afterId: number, limit = 5000): Promise<ViewChange[]> {
    const rows = await this.db
      .selectFrom("view_changes")
      .select(["id", "tbl", "row_id"])
      .where("id", ">", afterId)
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: Number(r.id), tbl: r.tbl, rowId: r.row_id }));
  }

  /** The given changes, where they are committed by now (fills of gaps in the feed). */
  async changesByIds(ids: number[]): Promise<ViewChange[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom("view_changes")
      .select(["id", "tbl", "row_id"])
      .where("id", "in", ids)
      .orderBy("id")
      .execute();
    return rows.map((r) => ({ id: Number(r.id), tbl: r.tbl, rowId: r.row_id }));
  }

  /** The ids of the last `n` changes (highest first); empty when the feed is empty. */
  async lastChangeIds(n: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom("view_changes")
      .select("id")
      .orderBy("id", "desc")
      .limit(n)
      .execute();
    return rows.map((r) => Number(r.id));
  }

  /** Drops changes up to `id` (the leader's view has them). */
  async pruneChanges(uptoId: number): Promise<void> {
    await this.db.deleteFrom("view_changes").where("id", "<=", uptoId).execute();
  }

  async jobsByIds(ids: string[]): Promise<Job[]> {
    return chunked(ids, async (part) =>
      (await this.db.selectFrom("jobs").selectAll().where("id", "in", part).execute()).map(jobRow),
    );
  }

  async leasesByIds(ids: string[]): Promise<LeaseRecord[]> {
    return chunked(ids, async (part) =>
      (await this.db.selectFrom("leases").selectAll().where("id", "in", part).execute()).map(leaseRow),
    );
  }

  /**
   * GPU-seconds each job held in its ended leases (the part of its attained service that no longer
   * grows); jobs without one are absent.
   */
  async endedGpuS(jobIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const rows = await chunked(jobIds, (part) =>
      this.db
        .selectFrom("leases")
        .select(["job_id", "started_at", "ended_at", "gpu_indices_json"])
        .where("job_id", "in", part)
        .where("started_at", "is not", null)
        .where("ended_at", "is not", null)
        .execute(),
    );
    for (const r of rows) {
      const gpus = (JSON.parse(r.gpu_indices_json) as number[]).length;
      const s = (gpus * Math.max(0, r.ended_at! - r.started_at!)) / 1000;
      out.set(r.job_id, (out.get(r.job_id) ?? 0) + s);
    }
    return out;
  }
}
