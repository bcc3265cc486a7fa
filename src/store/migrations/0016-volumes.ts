import type { Kysely, Migration } from "kysely";
import { sql } from "kysely";
import { intType, type MigrationContext } from "./context.js";

/**
 * 0016: site volumes. An operator's storage offer at a site (path on the nodes, capacity, price per
 * GB-month); tenants' volumes at a site (declared size, last measured use, billed-until hour);
 * transfers in and out of a volume relayed through the control plane, and the chunks in flight
 * (deleted as soon as the receiver has them).
 */
export function volumes(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  const bytes = ctx.dialect === "postgres" ? "bytea" : "blob";
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("storage_offers")
        .addColumn("site_id", "text", (c) => c.primaryKey())
        .addColumn("operator_id", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("capacity_bytes", int, (c) => c.notNull())
        .addColumn("price_minor_per_gb_month", int, (c) => c.notNull())
        .addColumn("currency", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("updated_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("volumes")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("site_id", "text", (c) => c.notNull())
        .addColumn("operator_id", "text", (c) => c.notNull())
        .addColumn("country", "text", (c) => c.notNull())
        .addColumn("size_bytes", int, (c) => c.notNull())
        .addColumn("used_bytes", int, (c) => c.notNull())
        .addColumn("price_minor_per_gb_month", int, (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("deleted_at", int)
        .addColumn("billed_until", int, (c) => c.notNull())
        .execute();
      // One live volume of a name per tenant (deleted ones keep their rows for billing and locations).
      await sql`create unique index volumes_live_name on volumes (tenant_id, name) where state <> 'deleted'`.execute(
        db,
      );
      await db.schema.createIndex("volumes_site").on("volumes").columns(["site_id", "state"]).execute();
      await db.schema
        .createTable("volume_transfers")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("volume_id", "text", (c) => c.notNull())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("direction", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("size_bytes", int)
        .addColumn("sha256", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("received_bytes", int, (c) => c.notNull())
        .addColumn("delivered_bytes", int, (c) => c.notNull())
        .addColumn("reason", "text")
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("updated_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("volume_transfers_node")
        .on("volume_transfers")
        .columns(["node_id", "state"])
        .execute();
      await db.schema
        .createTable("volume_chunks")
        .addColumn("transfer_id", "text", (c) => c.notNull())
        .addColumn("offset_bytes", int, (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .addColumn("data", bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint("volume_chunks_pk", ["transfer_id", "offset_bytes"])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ["volume_chunks", "volume_transfers", "volumes", "storage_offers"])
        await db.schema.dropTable(t).execute();
    },
  };
}
