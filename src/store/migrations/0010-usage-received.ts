import type { Kysely, Migration } from "kysely";
import type { MigrationContext } from "./context.js";

/** 0010: usage by arrival time, so that a charge run finds the leases with freshly received usage without a scan. */
export function usageReceived(_ctx: MigrationContext): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex("usage_received_idx").on("usage").columns(["received_at"]).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex("usage_received_idx").execute();
    },
  };
}
