import type { Kysely, Migration } from "kysely";
import type { MigrationContext } from "./context.js";

/** 0006: per-site image policy (default image, allow/deny patterns, network) and each node's advertised runtime. */
export function isolation(_ctx: MigrationContext): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("sites").addColumn("default_image", "text").execute();
      await db.schema
        .alterTable("sites")
        .addColumn("allow_images_json", "text", (c) => c.notNull().defaultTo("[]"))
        .execute();
      await db.schema
        .alterTable("sites")
        .addColumn("deny_images_json", "text", (c) => c.notNull().defaultTo("[]"))
        .execute();
      await db.schema
        .alterTable("sites")
        .addColumn("allow_network", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("nodes").addColumn("runtime_json", "text").execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("nodes").dropColumn("runtime_json").execute();
      for (const c of ["allow_network", "deny_images_json", "allow_images_json", "default_image"])
        await db.schema.alterTable("sites").dropColumn(c).execute();
    },
  };
}
