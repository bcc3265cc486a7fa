import type { Kysely, Migration } from "kysely";
import { intType, serialId, type MigrationContext } from "./context.js";

/**
 * 0008: GPUs held for a preemptor while they are vacated (a preempted job never retakes them),
 * where each job's latest checkpoint lives, and checkpoint transfers between nodes through the
 * control plane.
 */
export function preemption(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await serialId(ctx)(db.schema.createTable("gpu_reservations"))
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("lease_id", "text", (c) => c.notNull())
        .addColumn("gpu_indices_json", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("expires_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("gpu_reservations_node_idx")
        .on("gpu_reservations")
        .column("node_id")
        .execute();
      await db.schema
        .createIndex("gpu_reservations_job_idx")
        .on("gpu_reservations")
        .column("job_id")
        .execute();
      await db.schema
        .createTable("job_checkpoints")
        .addColumn("job_id", "text", (c) => c.primaryKey())
        .addColumn("lease_id", "text", (c) => c.notNull())
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("site_id", "text", (c) => c.notNull())
        .addColumn("country", "text", (c) => c.notNull())
        .addColumn("size_bytes", int, (c) => c.notNull())
        .addColumn("files", int, (c) => c.notNull())
        .addColumn("saved_at", int, (c) => c.notNull())
        .addColumn("updated_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("checkpoint_transfers")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("lease_id", "text", (c) => c.notNull())
        .addColumn("from_node_id", "text", (c) => c.notNull())
        .addColumn("from_site_id", "text", (c) => c.notNull())
        .addColumn("to_node_id", "text", (c) => c.notNull())
        .addColumn("to_site_id", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("size_bytes", int)
        .addColumn("sha256", "text")
        .addColumn("received_bytes", int, (c) => c.notNull())
        .addColumn("reason", "text")
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("updated_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("checkpoint_transfers_lease_idx")
        .on("checkpoint_transfers")
        .column("lease_id")
        .execute();
    },
  };
}
