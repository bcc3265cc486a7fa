import type { Kysely, Migration } from "kysely";
import { intType, type MigrationContext } from "./context.js";

/**
 * 0009: tenants' secrets, sealed with the server's key (AES-256-GCM; the key's id beside each
 * value): named secrets such as registry logins, and the secret env values of jobs (deleted when
 * the job ends).
 */
export function secrets(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("tenant_secrets")
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("registry", "text", (c) => c.notNull())
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("sealed", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("tenant_secrets_pk", ["tenant_id", "name"])
        .execute();
      await db.schema
        .createTable("job_secrets")
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("sealed", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("job_secrets_pk", ["job_id", "name"])
        .execute();
    },
  };
}
