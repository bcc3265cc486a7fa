import type { Kysely, Migration } from "kysely";
import { intType, type MigrationContext } from "./context.js";

/**
 * 0017: interactive instances' guardrails (copied from the job's spec at submit, so the control loop
 * finds running guarded instances in one join) and the last time a heartbeat reported their GPUs busy.
 */
export function instances(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("instances")
        .addColumn("job_id", "text", (c) => c.primaryKey())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("max_duration_s", int)
        .addColumn("idle_stop_s", int)
        .addColumn("gpu_active_at", int)
        .addColumn("created_at", int, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable("instances").execute();
    },
  };
}
