import { sql, type Kysely, type Migration } from "kysely";
import type { MigrationContext } from "./context.js";

/** Every fractional column, by table (`real` in 0001 and 0003). */
const REAL_COLUMNS: Record<string, string[]> = {
  sites: ["lat", "lon", "power_kw", "pue", "node_overhead_w", "carbon_g_per_kwh"],
  renewable_contracts: ["kwh", "g_per_kwh"],
  meter_readings: ["e_dc_kwh", "e_it_kwh", "e_res_tot_kwh", "e_reuse_kwh", "w_in_m3", "installed_it_kw"],
  curtailments: ["max_kw", "kw_before", "kw_at_start"],
};

/**
 * 0010 (second part): PostgreSQL's `real` is 4 bytes: it refused values under ~1e-38 (HTTP 500) and kept
 * 1.000000000000002 as 1, where SQLite's REAL keeps the double. Fractional columns become double
 * precision on PostgreSQL; SQLite's REAL already is one.
 */
export function widenReals(ctx: MigrationContext): Migration {
  const alter = async (db: Kysely<unknown>, type: string): Promise<void> => {
    if (ctx.dialect !== "postgres") return;
    for (const [table, cols] of Object.entries(REAL_COLUMNS))
      await sql
        .raw(`alter table ${table} ${cols.map((c) => `alter column ${c} type ${type}`).join(", ")}`)
        .execute(db);
  };
  return {
    up: (db) => alter(db, "double precision"),
    down: (db) => alter(db, "real"),
  };
}
