import type { Kysely, Migration } from "kysely";
import { intType, type MigrationContext } from "./context.js";

/**
 * 0007: the scheduler leader's term (a fencing token). A replica that takes the leader lock bumps the
 * term; every placement and preemption commit checks it in its own transaction, so a leader that lost
 * its lock can no longer write.
 */
export function leaderTerms(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("leader_terms")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("term", int, (c) => c.notNull())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("acquired_at", int, (c) => c.notNull())
        .execute();
    },
  };
}
