import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

/** An operator's storage offer at a site. */
export interface StorageOffer {
  siteId: string;
  operatorId: string;
  /** Where the storage is mounted on the site's nodes (the agents' --volume-root). */
  path: string;
  capacityBytes: number;
  priceMinorPerGbMonth: number;
  currency: string;
  createdAt: number;
  updatedAt: number;
}

export type VolumeState = "ready" | "deleted";

/** A tenant's volume at one site. */
export interface VolumeRecord {
  id: string;
  tenantId: string;
  name: string;
  siteId: string;
  operatorId: string;
  country: string;
  /** The declared size: the quota of the volume's bytes, and what is billed. */
  sizeBytes: number;
  /** Bytes in the volume as its node last measured them. */
  usedBytes: number;
  /** Price locked at creation, minor units per GB-month (GB = 10^9 bytes). */
  priceMinorPerGbMonth: number;
  state: VolumeState;
  createdAt: number;
  deletedAt: number | null;
  /** Storage is charged up to this time (ms; whole hours after creation). */
  billedUntil: number;
}

export type TransferDirection = "upload" | "download" | "delete";
export type VolumeTransferState = "open" | "done" | "failed";

/** A file copied into or out of a volume through the control plane's relay. */
export interface VolumeTransfer {
  id: string;
  volumeId: string;
  tenantId: string;
  /** The node that reads or writes the volume's bytes. */
  nodeId: string;
  direction: TransferDirection;
  path: string;
  sizeBytes: number | null;
  sha256: string | null;
  state: VolumeTransferState;
  /** Bytes the sender has put into the relay. */
  receivedBytes: number;
  /** Bytes the receiver has taken out of the relay. */
  deliveredBytes: number;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One chunk in flight. */
export interface VolumeChunk {
  offset: number;
  sha256: string;
  data: Buffer;
}

const n = Number;

const offerRow = (r: Database["storage_offers"]): StorageOffer => ({
  siteId: r.site_id,
  operatorId: r.operator_id,
  path: r.path,
  capacityBytes: n(r.capacity_bytes),
  priceMinorPerGbMonth: n(r.price_minor_per_gb_month),
  currency: r.currency,
  createdAt: n(r.created_at),
  updatedAt: n(r.updated_at),
});

const volumeRow = (r: Database["volumes"]): VolumeRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  siteId: r.site_id,
  operatorId: r.operator_id,
  country: r.country,
  sizeBytes: n(r.size_bytes),
  usedBytes: n(r.used_bytes),
  priceMinorPerGbMonth: n(r.price_minor_per_gb_month),
  state: r.state as VolumeState,
  createdAt: n(r.created_at),
  deletedAt: r.deleted_at === null ? null : n(r.deleted_at),
  billedUntil: n(r.billed_until),
});

const transferRow = (r: Database["volume_transfers"]): VolumeTransfer => ({
  id: r.id,
  volumeId: r.volume_id,
  tenantId: r.tenant_id,
  nodeId: r.node_id,
  direction: r.direction as TransferDirection,
  path: r.path,
  sizeBytes: r.size_bytes === null ? null : n(r.size_bytes),
  sha256: r.sha256,
  state: r.state as VolumeTransferState,
  receivedBytes: n(r.received_bytes),
  deliveredBytes: n(r.delivered_bytes),
  reason: r.reason,
  createdAt: n(r.created_at),
  updatedAt: n(r.updated_at),
});

/** Storage offers, volumes, and the transfers relayed in and out of them. */
export class VolumesRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates or replaces a site's storage offer. */
  async putOffer(o: StorageOffer): Promise<StorageOffer> {
    const values = {
      operator_id: o.operatorId,
      path: o.path,
      capacity_bytes: o.capacityBytes,
      price_minor_per_gb_month: o.priceMinorPerGbMonth,
      currency: o.currency,
      updated_at: o.updatedAt,
    };
    await this.db
      .insertInto("storage_offers")
      .values({ site_id: o.siteId, created_at: o.createdAt, ...values })
      .onConflict((c) => c.column("site_id").doUpdateSet(values))
      .execute();
    return (await this.getOffer(o.siteId))!;
  }

  async getOffer(siteId: string): Promise<StorageOffer | undefined> {
    const r = await this.db
      .selectFrom("storage_offers")
      .selectAll()
      .where("site_id", "=", siteId)
      .executeTakeFirst();
    return r && offerRow(r);
  }

  /** Offers, of one operator or all. */
  async listOffers(operatorId?: string): Promise<StorageOffer[]> {
    let q = this.db.selectFrom("storage_offers").selectAll().orderBy("site_id");
    if (operatorId !== undefined) q = q.where("operator_id", "=", operatorId);
    return (await q.execute()).map(offerRow);
  }

  /** Inserts a volume; false when the tenant already has a live volume of that name. */
  async createVolume(v: VolumeRecord): Promise<boolean> {
    try {
      await this.db
        .insertInto("volumes")
        .values({
          id: v.id,
          tenant_id: v.tenantId,
          name: v.name,
          site_id: v.siteId,
          operator_id: v.operatorId,
          country: v.country,
          size_bytes: v.sizeBytes,
          used_bytes: v.usedBytes,
          price_minor_per_gb_month: v.priceMinorPerGbMonth,
          state: v.state,
          created_at: v.createdAt,
          deleted_at: v.deletedAt,
          billed_until: v.billedUntil,
        })
        .execute();
      return true;
    } catch (err) {
      if (/unique|duplicate/i.test((err as Error).message)) return false;
      throw err;
    }
  }

  async getVolume(id: string): Promise<VolumeRecord | undefined> {
    const r = await this.db.selectFrom("volumes").selectAll().where("id", "=", id).executeTakeFirst();
    return r && volumeRow(r);
  }

  /** A tenant's live volume of a name. */
  async liveByName(tenantId: string, name: string): Promise<VolumeRecord | undefined> {
    const r = await this.db
      .selectFrom("volumes")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("name", "=", name)
      .where("state", "<>", "deleted")
      .executeTakeFirst();
    return r && volumeRow(r);
  }

  /** Volumes by tenant and/or site; deleted ones only when asked. */
  async listVolumes(
    f: { tenantId?: string; siteId?: string; ids?: string[]; withDeleted?: boolean } = {},
  ): Promise<VolumeRecord[]> {
    let q = this.db.selectFrom("volumes").selectAll().orderBy("created_at").orderBy("id");
    if (f.tenantId !== undefined) q = q.where("tenant_id", "=", f.tenantId);
    if (f.siteId !== undefined) q = q.where("site_id", "=", f.siteId);
    if (f.ids !== undefined) {
      if (f.ids.length === 0) return [];
      q = q.where("id", "in", f.ids);
    }
    if (!f.withDeleted) q = q.where("state", "<>", "deleted");
    return (await q.execute()).map(volumeRow);
  }

  /** Sum of declared sizes of live volumes, of a tenant or at a site. */
  async liveSizeBytes(f: { tenantId?: string; siteId?: string }): Promise<number> {
    let q = this.db
      .selectFrom("volumes")
      .select((eb) => eb.fn.sum<number | string | null>("size_bytes").as("total"))
      .where("state", "<>", "deleted");
    if (f.tenantId !== undefined) q = q.where("tenant_id", "=", f.tenantId);
    if (f.siteId !== undefined) q = q.where("site_id", "=", f.siteId);
    const r = await q.executeTakeFirst();
    return Number(r?.total ?? 0);
  }

  /** Marks a live volume deleted; false when it was not live. */
  async markDeleted(id: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable("volumes")
      .set({ state: "deleted", deleted_at: at })
      .where("id", "=", id)
      .where("state", "<>", "deleted")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Records the bytes a node measured in a volume. */
  async setUsed(id: string, usedBytes: number): Promise<void> {
    await this.db.updateTable("volumes").set({ used_bytes: usedBytes }).where("id", "=", id).execute();
  }

  /** Moves a volume's billed-until mark from `from` to `to`; false when another run moved it first. */
  async advanceBilled(id: string, from: number, to: number): Promise<boolean> {
    const r = await this.db
      .updateTable("volumes")
      .set({ billed_until: to })
      .where("id", "=", id)
      .where("billed_until", "=", from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async createTransfer(t: VolumeTransfer): Promise<void> {
    await this.db
      .insertInto("volume_transfers")
      .values({
        id: t.id,
        volume_id: t.volumeId,
        tenant_id: t.tenantId,
        node_id: t.nodeId,
        direction: t.direction,
        path: t.path,
        size_bytes: t.sizeBytes,
        sha256: t.sha256,
        state: t.state,
        received_bytes: t.receivedBytes,
        delivered_bytes: t.deliveredBytes,
        reason: t.reason,
        created_at: t.createdAt,
        updated_at: t.updatedAt,
      })
      .execute();
  }

  async getTransfer(id: string): Promise<VolumeTransfer | undefined> {
    const r = await this.db
      .selectFrom("volume_transfers")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return r && transferRow(r);
  }

  /** Open transfers, of a node or of a volume. */
  async openTransfers(f: { nodeId?: string; volumeId?: string }): Promise<VolumeTransfer[]> {
    let q = this.db
      .selectFrom("volume_transfers")
      .selectAll()
      .where("state", "=", "open")
      .orderBy("created_at")
      .orderBy("id");
    if (f.nodeId !== undefined) q = q.where("node_id", "=", f.nodeId);
    if (f.volumeId !== undefined) q = q.where("volume_id", "=", f.volumeId);
    return (await q.execute()).map(transferRow);
  }

  /** Updates an open transfer; false when it was no longer open. */
  async updateTransfer(
    id: string,
    set: Partial<Pick<VolumeTransfer, "state" | "sizeBytes" | "sha256" | "reason">>,
    now: number,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable("volume_transfers")
      .set({
        ...(set.state !== undefined ? { state: set.state } : {}),
        ...(set.sizeBytes !== undefined ? { size_bytes: set.sizeBytes } : {}),
        ...(set.sha256 !== undefined ? { sha256: set.sha256 } : {}),
        ...(set.reason !== undefined ? { reason: set.reason } : {}),
        updated_at: now,
      })
      .where("id", "=", id)
      .where("state", "=", "open")
      .executeTakeFirst();
    const changed = Number(r.numUpdatedRows) > 0;
    if (changed && set.state !== undefined && set.state !== "open")
      await this.db.deleteFrom("volume_chunks").where("transfer_id", "=", id).execute();
    return changed;
  }

  /** Chunks of a transfer held in the relay now. */
  async chunksInFlight(transferId: string): Promise<number> {
    const r = await this.db
      .selectFrom("volume_chunks")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .where("transfer_id", "=", transferId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /**
   * Appends a chunk at `offset` when the transfer has received exactly `offset` bytes (one
   * transaction: the chunk and the new count, or neither); false when the offset is not the next.
   */
  async putChunk(transferId: string, c: VolumeChunk, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx
        .updateTable("volume_transfers")
        .set({ received_bytes: c.offset + c.data.length, updated_at: now })
        .where("id", "=", transferId)
        .where("state", "=", "open")
        .where("received_bytes", "=", c.offset)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await tx
        .insertInto("volume_chunks")
        .values({ transfer_id: transferId, offset_bytes: c.offset, sha256: c.sha256, data: c.data })
        .execute();
      return true;
    });
  }

  /**
   * The receiver has every byte before `offset`: chunks before it are dropped and the delivered
   * count moves up to it. Returns the chunk at `offset`, if the relay holds it.
   */
  async takeChunk(transferId: string, offset: number, now: number): Promise<VolumeChunk | undefined> {
    await this.db
      .deleteFrom("volume_chunks")
      .where("transfer_id", "=", transferId)
      .where("offset_bytes", "<", offset)
      .execute();
    await this.db
      .updateTable("volume_transfers")
      .set({ delivered_bytes: offset, updated_at: now })
      .where("id", "=", transferId)
      .where("delivered_bytes", "<", offset)
      .execute();
    const r = await this.db
      .selectFrom("volume_chunks")
      .selectAll()
      .where("transfer_id", "=", transferId)
      .where("offset_bytes", "=", offset)
      .executeTakeFirst();
    return r && { offset: n(r.offset_bytes), sha256: r.sha256, data: Buffer.from(r.data) };
  }
}
