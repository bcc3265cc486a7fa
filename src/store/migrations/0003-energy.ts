import type { Migration } from "kysely";
import type { MigrationContext } from "./context.js";

/** 0003: energy profiles, meter readings, curtailment events. */
export function energy(_ctx: MigrationContext): Migration {
  return { async up(): Promise<void> {} };
}
