import type { Kysely } from "kysely";
import type { Gpu, GpuModel, GpuVendor } from "../domain/index.js";
import type { Database } from "./schema.js";

/** Where an operator-defined GPU model stands: only approved models are placed and sold. */
export type GpuModelState = "proposed" | "approved" | "rejected";

/** An operator-defined GPU model and its review. */
export interface GpuModelRecord extends GpuModel {
  state: GpuModelState;
  /** The operator who proposed it; null when an admin did. */
  proposedBy: string | null;
  proposedAt: number;
  decidedAt: number | null;
  /** Why an admin rejected it. */
  reason: string | null;
}

type Row = Database["gpu_models"];

function toRecord(r: Row): GpuModelRecord {
  return {
    id: r.id,
    vendor: r.vendor as GpuVendor,
    name: r.name,
    memoryGb: Number(r.memory_gb),
    tdpW: Number(r.tdp_w),
    relThroughput: Number(r.rel_throughput_milli) / 1000,
    smiPatterns: JSON.parse(r.match_json) as string[],
    state: r.state as GpuModelState,
    proposedBy: r.proposed_by,
    proposedAt: Number(r.proposed_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
    reason: r.reason,
  };
}

/** Operator-defined GPU models (the built-in catalogue lives in src/domain/gpu-models.ts). */
export class GpuModelsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a proposal; false when a model with this id (any case) is already stored. */
  async propose(m: Omit<GpuModelRecord, "state" | "decidedAt" | "reason">): Promise<boolean> {
    if (await this.get(m.id)) return false;
    const r = await this.db
      .insertInto("gpu_models")
      .values({
        id: m.id,
        vendor: m.vendor,
        name: m.name,
        memory_gb: m.memoryGb,
        tdp_w: m.tdpW,
        rel_throughput_milli: Math.round(m.relThroughput * 1000),
        match_json: JSON.stringify(m.smiPatterns),
        state: "proposed",
        proposed_by: m.proposedBy,
        proposed_at: m.proposedAt,
        decided_at: null,
        reason: null,
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** The model with this id (case-insensitive), or undefined. */
  async get(id: string): Promise<GpuModelRecord | undefined> {
    const r = await this.db
      .selectFrom("gpu_models")
      .selectAll()
      .where((eb) => eb(eb.fn("lower", ["id"]), "=", id.toLowerCase()))
      .executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  /** Models, oldest proposal first; only those in `state` when given, only one operator's when given. */
  async list(filter: { state?: GpuModelState; proposedBy?: string } = {}): Promise<GpuModelRecord[]> {
    let q = this.db.selectFrom("gpu_models").selectAll();
    if (filter.state) q = q.where("state", "=", filter.state);
    if (filter.proposedBy) q = q.where("proposed_by", "=", filter.proposedBy);
    return (await q.orderBy("proposed_at").orderBy("id").execute()).map(toRecord);
  }

  /**
   * Renames a node's GPUs (reported and approved inventory) after a newly approved model, if the
   * node still holds what the caller read (`before`); false when it changed meanwhile.
   */
  async renameNodeGpus(
    id: string,
    before: { gpus: Gpu[]; approvedGpus?: Gpu[] | undefined },
    after: { gpus: Gpu[]; approvedGpus?: Gpu[] | undefined; inventoryChangedAt: number | null },
  ): Promise<boolean> {
    let q = this.db
      .updateTable("nodes")
      .set({
        gpus_json: JSON.stringify(after.gpus),
        ...(after.approvedGpus ? { approved_gpus_json: JSON.stringify(after.approvedGpus) } : {}),
        inventory_changed_at: after.inventoryChangedAt,
      })
      .where("id", "=", id)
      .where("gpus_json", "=", JSON.stringify(before.gpus));
    if (before.approvedGpus) q = q.where("approved_gpus_json", "=", JSON.stringify(before.approvedGpus));
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Records an admin's decision on a proposed model; false when it is no longer proposed. */
  async decide(
    id: string,
    state: "approved" | "rejected",
    at: number,
    reason: string | null,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable("gpu_models")
      .set({ state, decided_at: at, reason })
      .where("id", "=", id)
      .where("state", "=", "proposed")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
