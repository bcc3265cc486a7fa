import type { Kysely } from "kysely";

/** What a migration needs to know: big integers and auto-increment ids differ between SQLite and PostgreSQL. */
export interface MigrationContext {
  dialect: "sqlite" | "postgres";
}

/** Integer column type for ms timestamps and minor units. */
export function intType(ctx: MigrationContext): "bigint" | "integer" {
  return ctx.dialect === "postgres" ? "bigint" : "integer";
}

/** Adds an auto-increment primary key `id` to a table being created. */
export function serialId(ctx: MigrationContext) {
  return (t: ReturnType<Kysely<unknown>["schema"]["createTable"]>) =>
    ctx.dialect === "postgres"
      ? t.addColumn("id", "bigserial", (c) => c.primaryKey())
      : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
}
