import { sql, type Kysely, type Migration } from "kysely";
import { intType, serialId, type MigrationContext } from "./context.js";

/**
 * The tables the scheduler's in-memory cluster view (src/control/cluster-view.ts) follows: the column
 * that names the changed row, or null where any change reloads the whole (small) table. Node
 * liveness (`last_heartbeat_at` alone) is not a change: it is written for every node every second.
 */
export const VIEW_TABLES: Record<string, { key: string | null; columns?: string[] }> = {
  jobs: { key: "id", columns: ["state"] },
  leases: { key: "id" },
  nodes: {
    key: "id",
    columns: [
      "site_id",
      "name",
      "state",
      "state_reason",
      "executor",
      "gpus_json",
      "driver_version",
      "approved_gpus_json",
      "inventory_changed_at",
      "runtime_json",
      "cluster_json",
    ],
  },
  job_checkpoints: { key: "job_id" },
  sites: { key: null },
  prices: { key: null },
  curtailments: { key: null },
  energy_series: { key: null },
  gpu_reservations: { key: null },
  gpu_models: { key: null },
  checkpoint_transfers: { key: null },
  // Not the cycle's: node-key caches on every replica drop a key that changed (revoked, rotated).
  api_keys: { key: "id" },
};

/**
 * 0019: a change feed for the scheduler's cluster view. Triggers on the tables the scheduling cycle
 * reads append (table, row id) to `view_changes`, in the writing transaction, whoever writes
 * (any replica, the CLI, a migration), so the leader re-reads only what changed instead of the world.
 * A later migration that rebuilds one of these tables (SQLite table copies) must recreate its triggers.
 */
export function viewChanges(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  const pg = ctx.dialect === "postgres";
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await serialId(ctx)(db.schema.createTable("view_changes"))
        .addColumn("tbl", "text", (c) => c.notNull())
        .addColumn("row_id", "text", (c) => c.notNull())
        .addColumn("at", int, (c) => c.notNull())
        .execute();
      if (pg) {
        await sql
          .raw(
            `CREATE FUNCTION zumbido_view_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO view_changes (tbl, row_id, at) VALUES (TG_TABLE_NAME,
                CASE WHEN TG_NARGS = 0 THEN '*'
                     WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ->> TG_ARGV[0]
                     ELSE to_jsonb(NEW) ->> TG_ARGV[0] END,
                (extract(epoch from clock_timestamp()) * 1000)::bigint);
              RETURN NULL;
            END $$`,
          )
          .execute(db);
        for (const [table, t] of Object.entries(VIEW_TABLES)) {
          const update = t.columns ? `UPDATE OF ${t.columns.join(", ")}` : "UPDATE";
          const args = t.key ? `'${t.key}'` : "";
          await sql
            .raw(
              `CREATE TRIGGER view_change_${table} AFTER INSERT OR ${update} OR DELETE ON ${table}
               FOR EACH ROW EXECUTE FUNCTION zumbido_view_change(${args})`,
            )
            .execute(db);
        }
        return;
      }
      const now = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;
      for (const [table, t] of Object.entries(VIEW_TABLES)) {
        const update = t.columns ? `UPDATE OF ${t.columns.join(", ")}` : "UPDATE";
        for (const [op, event, row] of [
          ["ins", "INSERT", "NEW"],
          ["upd", update, "NEW"],
          ["del", "DELETE", "OLD"],
        ] as const) {
          const id = t.key ? `${row}.${t.key}` : `'*'`;
          await sql
            .raw(
              `CREATE TRIGGER view_change_${table}_${op} AFTER ${event} ON ${table} FOR EACH ROW
               BEGIN INSERT INTO view_changes (tbl, row_id, at) VALUES ('${table}', ${id}, ${now}); END`,
            )
            .execute(db);
        }
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of Object.keys(VIEW_TABLES)) {
        if (pg) await sql.raw(`DROP TRIGGER IF EXISTS view_change_${table} ON ${table}`).execute(db);
        else
          for (const op of ["ins", "upd", "del"])
            await sql.raw(`DROP TRIGGER IF EXISTS view_change_${table}_${op}`).execute(db);
      }
      if (pg) await sql.raw(`DROP FUNCTION IF EXISTS zumbido_view_change()`).execute(db);
      await db.schema.dropTable("view_changes").execute();
    },
  };
}
