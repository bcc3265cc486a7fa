import type { Kysely, Migration } from "kysely";
import { intType, type MigrationContext } from "./context.js";

type Db = Kysely<unknown>;

/** 0002: the double-entry ledger: transactions (unique id and idempotency key), postings, closed months. */
export function ledger(ctx: MigrationContext): Migration {
  const int = intType(ctx);
  return {
    async up(db: Db): Promise<void> {
      let t = db.schema.createTable("ledger_transactions");
      t =
        ctx.dialect === "postgres"
          ? t.addColumn("seq", "bigserial", (c) => c.primaryKey())
          : t.addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement());
      await t
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
        .addColumn("at", int, (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("currency", "text", (c) => c.notNull())
        .addColumn("tenant_id", "text")
        .addColumn("operator_id", "text")
        .addColumn("lease_id", "text")
        .addColumn("billing_period", "text")
        .addColumn("body", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("ledger_tx_lease_idx")
        .on("ledger_transactions")
        .columns(["lease_id"])
        .execute();
      await db.schema
        .createIndex("ledger_tx_tenant_idx")
        .on("ledger_transactions")
        .columns(["tenant_id", "billing_period"])
        .execute();
      await db.schema
        .createIndex("ledger_tx_operator_idx")
        .on("ledger_transactions")
        .columns(["operator_id", "billing_period"])
        .execute();
      await db.schema
        .createTable("ledger_postings")
        .addColumn("txn_id", "text", (c) => c.notNull().references("ledger_transactions.id"))
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("account", "text", (c) => c.notNull())
        .addColumn("currency", "text", (c) => c.notNull())
        .addColumn("amount_minor", int, (c) => c.notNull())
        .addPrimaryKeyConstraint("ledger_postings_pk", ["txn_id", "idx"])
        .execute();
      await db.schema
        .createIndex("ledger_postings_account_idx")
        .on("ledger_postings")
        .columns(["account", "currency"])
        .execute();
      await db.schema
        .createTable("ledger_periods")
        .addColumn("period", "text", (c) => c.primaryKey())
        .addColumn("closed_at", int, (c) => c.notNull())
        .addColumn("closed_by", "text")
        .execute();
    },
    async down(db: Db): Promise<void> {
      for (const t of ["ledger_periods", "ledger_postings", "ledger_transactions"])
        await db.schema.dropTable(t).ifExists().execute();
    },
  };
}
