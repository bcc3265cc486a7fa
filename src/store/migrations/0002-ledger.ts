import type { Migration } from "kysely";
import type { MigrationContext } from "./context.js";

/** 0002: the double-entry ledger (owned by the billing part). */
export function ledger(_ctx: MigrationContext): Migration {
  return { async up(): Promise<void> {} };
}
