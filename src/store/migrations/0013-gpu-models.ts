import type { Kysely, Migration } from "kysely";
import { intType, type MigrationContext } from "./context.js";

/**
 * 0013: operator-defined GPU models (the catalogue beyond the built-in models): proposed by an
 * operator with power, memory and a display name, placed and sold only once an admin approves them.
 */
export function gpuModels(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("gpu_models")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("vendor", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("memory_gb", int, (c) => c.notNull())
        .addColumn("tdp_w", int, (c) => c.notNull())
        // Throughput relative to an A100, in thousandths (integers keep both dialects exact).
        .addColumn("rel_throughput_milli", int, (c) => c.notNull())
        .addColumn("match_json", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("proposed_by", "text")
        .addColumn("proposed_at", int, (c) => c.notNull())
        .addColumn("decided_at", int)
        .addColumn("reason", "text")
        .execute();
    },
  };
}
