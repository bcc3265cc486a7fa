import { sql, type Kysely, type Migration } from "kysely";
import type { MigrationContext } from "./context.js";

/**
 * 0015: units named so they cannot be confused. `usage.energy_mwh` held milliwatt-hours, while `Mwh` means
 * megawatt-hours in prices and the planner; the column becomes `energy_milli_wh` (values unchanged).
 */
export function units(_ctx: MigrationContext): Migration {
  const rename = (db: Kysely<unknown>, from: string, to: string): Promise<unknown> =>
    sql.raw(`alter table usage rename column ${from} to ${to}`).execute(db);
  return {
    up: (db) => rename(db, "energy_mwh", "energy_milli_wh").then(() => undefined),
    down: (db) => rename(db, "energy_milli_wh", "energy_mwh").then(() => undefined),
  };
}
