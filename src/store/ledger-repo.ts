import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

/** The ledger's transactions and postings (filled in by the billing part). */
export class LedgerRepo {
  constructor(protected readonly db: Kysely<Database>) {}
}
