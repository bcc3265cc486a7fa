import type { Kysely, Migration } from "kysely";
import { intType, type MigrationContext } from "./context.js";

/**
 * 0014: multi-node jobs. Each node's place on its site's cluster network (address, fabric, switch
 * group, as JSON); each gang lease's rank, the gang's size and rendezvous port, and the start
 * barrier (when the node reported the rank ready, when the control plane released it).
 */
export function multinode(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("nodes").addColumn("cluster_json", "text").execute();
      for (const c of ["gang_rank", "gang_size", "gang_port", "ready_at", "go_at"])
        await db.schema.alterTable("leases").addColumn(c, int).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const c of ["go_at", "ready_at", "gang_port", "gang_size", "gang_rank"])
        await db.schema.alterTable("leases").dropColumn(c).execute();
      await db.schema.alterTable("nodes").dropColumn("cluster_json").execute();
    },
  };
}
