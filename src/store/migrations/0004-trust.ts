import { sql, type Kysely, type Migration } from "kysely";
import { intType, serialId, type MigrationContext } from "./context.js";

/**
 * 0004: the bill is the control plane's word. Usage rows keep the node's original claim when the
 * server clipped it (`claim_json`), and an index finds a lease's intervals by start; `anomalies`
 * keeps every refused or clipped claim as evidence; nodes carry their approved GPU inventory;
 * operators say who approves inventory changes; API keys say how they are hashed.
 */
export function trust(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("usage").addColumn("claim_json", "text").execute();
      await db.schema
        .createIndex("usage_lease_from_idx")
        .on("usage")
        .columns(["lease_id", "from_ms"])
        .execute();
      await serialId(ctx)(db.schema.createTable("anomalies"))
        .addColumn("at", int, (c) => c.notNull())
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("operator_id", "text", (c) => c.notNull())
        .addColumn("lease_id", "text")
        .addColumn("seq", int)
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("claim_json", "text")
        .addColumn("accepted_json", "text")
        .execute();
      await db.schema.createIndex("anomalies_node_idx").on("anomalies").columns(["node_id", "at"]).execute();
      await db.schema
        .createIndex("anomalies_operator_idx")
        .on("anomalies")
        .columns(["operator_id", "at"])
        .execute();
      // Approved inventory: what placement and capacity use. Existing nodes keep what they declared.
      await db.schema.alterTable("nodes").addColumn("approved_gpus_json", "text").execute();
      await db.schema.alterTable("nodes").addColumn("inventory_changed_at", int).execute();
      await sql`update nodes set approved_gpus_json = gpus_json`.execute(db);
      await db.schema
        .alterTable("operators")
        .addColumn("inventory_approver", "text", (c) => c.notNull().defaultTo("operator"))
        .execute();
      await db.schema
        .alterTable("api_keys")
        .addColumn("hash_kind", "text", (c) => c.notNull().defaultTo("sha256"))
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("api_keys").dropColumn("hash_kind").execute();
      await db.schema.alterTable("operators").dropColumn("inventory_approver").execute();
      await db.schema.alterTable("nodes").dropColumn("inventory_changed_at").execute();
      await db.schema.alterTable("nodes").dropColumn("approved_gpus_json").execute();
      await db.schema.dropTable("anomalies").execute();
      await db.schema.dropIndex("usage_lease_from_idx").execute();
      await db.schema.alterTable("usage").dropColumn("claim_json").execute();
    },
  };
}
