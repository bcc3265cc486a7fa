import type { Kysely } from "kysely";
import type { UsageRecord } from "../domain/index.js";
import type { Database } from "./schema.js";

const CHUNK = 500;

/** Metered usage: idempotent on (node_id, seq). */
export class UsageRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Inserts a batch in one transaction; records already present (same node and seq) are ignored.
   * Returns how many were new and how many were duplicates.
   */
  async insertBatch(records: UsageRecord[], receivedAt: number): Promise<{ accepted: number; duplicates: number }> {
    if (records.length === 0) return { accepted: 0, duplicates: 0 };
    const accepted = await this.db.transaction().execute(async (trx) => {
      let n = 0;
      for (let i = 0; i < records.length; i += CHUNK) {
        const rows = records.slice(i, i + CHUNK).map((r) => ({
          node_id: r.nodeId,
          seq: r.seq,
          lease_id: r.leaseId,
          from_ms: r.fromMs,
          to_ms: r.toMs,
          gpu_ms: r.gpuMs,
          energy_mwh: r.energyMwh,
          energy_source: r.energySource,
          received_at: receivedAt,
        }));
        const res = await trx
          .insertInto("usage")
          .values(rows)
          .onConflict((oc) => oc.columns(["node_id", "seq"]).doNothing())
          .returning("seq")
          .execute();
        n += res.length;
      }
      return n;
    });
    return { accepted, duplicates: records.length - accepted };
  }

  async forLeases(leaseIds: string[]): Promise<UsageRecord[]> {
    if (leaseIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("usage")
      .selectAll()
      .where("lease_id", "in", leaseIds)
      .orderBy("node_id")
      .orderBy("seq")
      .execute();
    return rows.map((r) => ({
      nodeId: r.node_id,
      seq: r.seq,
      leaseId: r.lease_id,
      fromMs: r.from_ms,
      toMs: r.to_ms,
      gpuMs: r.gpu_ms,
      energyMwh: r.energy_mwh,
      energySource: r.energy_source as UsageRecord["energySource"],
    }));
  }

  /** Count and sums of all usage rows (for checks and the crash test). */
  async totals(): Promise<{ records: number; gpuMs: number; energyMwh: number }> {
    const r = await this.db
      .selectFrom("usage")
      .select((eb) => [
        eb.fn.countAll<number>().as("records"),
        eb.fn.coalesce(eb.fn.sum<number>("gpu_ms"), eb.val(0)).as("gpuMs"),
        eb.fn.coalesce(eb.fn.sum<number>("energy_mwh"), eb.val(0)).as("energyMwh"),
      ])
      .executeTakeFirstOrThrow();
    return { records: Number(r.records), gpuMs: Number(r.gpuMs), energyMwh: Number(r.energyMwh) };
  }

  /** Highest seq stored for a node (the agent's outbox can trim below it). */
  async maxSeq(nodeId: string): Promise<number> {
    const r = await this.db
      .selectFrom("usage")
      .select((eb) => eb.fn.max<number>("seq").as("m"))
      .where("node_id", "=", nodeId)
      .executeTakeFirst();
    return Number(r?.m ?? 0);
  }
}
