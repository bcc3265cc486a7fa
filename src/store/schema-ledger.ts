import type { Generated } from "kysely";

/** Integer columns (PostgreSQL bigint parsed to safe integers by db.ts). */
type Int = number;

/** One ledger transaction; `body` is its full JSON (postings, references, usage line). */
export interface LedgerTransactionsTable {
  /** Append order (auto-increment). */
  seq: Generated<Int>;
  id: string;
  idempotency_key: string;
  at: Int;
  kind: string;
  currency: string;
  tenant_id: string | null;
  operator_id: string | null;
  lease_id: string | null;
  billing_period: string | null;
  body: string;
}

/** One leg of a transaction: positive debit, negative credit. */
export interface LedgerPostingsTable {
  txn_id: string;
  idx: Int;
  account: string;
  currency: string;
  amount_minor: Int;
}

/** Months that are invoiced: late usage for them is billed in the next open month. */
export interface LedgerPeriodsTable {
  period: string;
  closed_at: Int;
  closed_by: string | null;
}

/** Tables of the double-entry ledger (migration 0002). */
export interface LedgerTables {
  ledger_transactions: LedgerTransactionsTable;
  ledger_postings: LedgerPostingsTable;
  ledger_periods: LedgerPeriodsTable;
}
