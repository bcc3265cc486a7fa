import type { Kysely, Migration } from "kysely";
import { intType, type MigrationContext } from "./context.js";

/** 0003: energy series per site, renewable contracts, meter readings, curtailment events. */
export function energy(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("energy_series")
        .addColumn("site_id", "text", (c) => c.notNull().references("sites.id"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("start_ms", int, (c) => c.notNull())
        .addColumn("step_ms", int, (c) => c.notNull())
        .addColumn("values_json", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("updated_at", int, (c) => c.notNull())
        .addPrimaryKeyConstraint("energy_series_pk", ["site_id", "kind"])
        .execute();
      await db.schema
        .createTable("renewable_contracts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("site_id", "text", (c) => c.notNull().references("sites.id"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("period_start_ms", int, (c) => c.notNull())
        .addColumn("period_end_ms", int, (c) => c.notNull())
        .addColumn("kwh", "real", (c) => c.notNull())
        .addColumn("g_per_kwh", "real")
        .addColumn("created_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("meter_readings")
        .addColumn("site_id", "text", (c) => c.notNull().references("sites.id"))
        .addColumn("month", "text", (c) => c.notNull())
        .addColumn("e_dc_kwh", "real", (c) => c.notNull())
        .addColumn("e_it_kwh", "real")
        .addColumn("e_res_tot_kwh", "real")
        .addColumn("e_reuse_kwh", "real")
        .addColumn("w_in_m3", "real")
        .addColumn("installed_it_kw", "real", (c) => c.notNull())
        .addColumn("updated_at", int, (c) => c.notNull())
        .addPrimaryKeyConstraint("meter_readings_pk", ["site_id", "month"])
        .execute();
      await db.schema
        .createTable("curtailments")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("site_id", "text", (c) => c.notNull().references("sites.id"))
        .addColumn("start_ms", int, (c) => c.notNull())
        .addColumn("end_ms", int, (c) => c.notNull())
        .addColumn("max_kw", "real", (c) => c.notNull())
        .addColumn("notice_s", int, (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("kw_before", "real")
        .addColumn("kw_at_start", "real")
        .addColumn("met_at_ms", int)
        .addColumn("stopped_json", "text", (c) => c.notNull())
        .addColumn("reasoning_json", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("curtailments_site_idx")
        .on("curtailments")
        .columns(["site_id", "end_ms"])
        .execute();
    },
  };
}
