import type { Kysely, Migration } from "kysely";
import type { MigrationContext } from "./context.js";

/**
 * 0018: checkpoint copies between nodes. A transfer keeps the manifest the source node sent (every
 * file's path, size and sha256, as JSON), so the destination can fetch and verify it after either
 * side or the control plane restarts.
 */
export function checkpointCopy(_ctx: MigrationContext): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("checkpoint_transfers").addColumn("manifest_json", "text").execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("checkpoint_transfers").dropColumn("manifest_json").execute();
    },
  };
}
