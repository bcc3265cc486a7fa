import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

/** Energy profiles, meter readings and curtailment events. */
export class EnergyRepo {
  constructor(protected readonly db: Kysely<Database>) {}
}
