import { sql, type Kysely } from "kysely";
import { conflict } from "../domain/index.js";
import { canonicalJson, type Transaction } from "../ledger/index.js";
import type { Database } from "./schema.js";

/** What appending a set of transactions did. */
export interface AppendResult {
  /** Ids of the transactions written now. */
  appended: string[];
  /** Ids whose idempotency key was already there with the same content (no-op). */
  duplicates: string[];
  /** Ids whose idempotency key was already there with OTHER content (nothing written for them). */
  conflicts: string[];
}

/** A stored account balance (sum of postings, debit positive). */
export interface StoredBalance {
  account: string;
  currency: string;
  rawMinor: number;
}

/** Which transactions to read. */
export interface TransactionFilter {
  leaseIds?: readonly string[];
  tenantId?: string;
  operatorId?: string;
  billingPeriod?: string;
  kinds?: readonly string[];
}

const CHUNK = 400;

function contentOf(t: Transaction): string {
  const { id: _id, at: _at, ...rest } = t;
  return canonicalJson(rest);
}

/** The ledger's transactions and postings: append-only, unique id and idempotency key. */
export class LedgerRepo {
  constructor(protected readonly db: Kysely<Database>) {}

  /**
   * Appends transactions in ONE database transaction: all that are new are written with their
   * postings, or none (on error). A repeated idempotency key is skipped: as a duplicate when the
   * content matches, as a conflict otherwise (the caller decides whether that is an error).
   */
  async append(txs: readonly Transaction[]): Promise<AppendResult> {
    const out: AppendResult = { appended: [], duplicates: [], conflicts: [] };
    if (txs.length === 0) return out;
    await this.db.transaction().execute(async (trx) => {
      for (const t of txs) {
        const ins = await trx
          .insertInto("ledger_transactions")
          .values({
            id: t.id,
            idempotency_key: t.idempotencyKey,
            at: t.at,
            kind: t.kind,
            currency: t.postings[0]!.currency,
            tenant_id: t.line?.tenantId ?? t.references.tenantId ?? null,
            operator_id: t.line?.operatorId ?? t.references.operatorId ?? null,
            lease_id: t.line?.leaseId ?? t.references.leaseId ?? null,
            billing_period:
              t.line?.billingPeriod ?? t.references.billingPeriod ?? t.references.period ?? null,
            body: JSON.stringify(t),
          })
          .onConflict((oc) => oc.doNothing())
          .returning("id")
          .executeTakeFirst();
        if (ins) {
          await trx
            .insertInto("ledger_postings")
            .values(
              t.postings.map((p, idx) => ({
                txn_id: t.id,
                idx,
                account: p.account,
                currency: p.currency,
                amount_minor: p.amountMinor,
              })),
            )
            .execute();
          out.appended.push(t.id);
          continue;
        }
        const prev = await trx
          .selectFrom("ledger_transactions")
          .select(["id", "body"])
          .where((eb) => eb.or([eb("idempotency_key", "=", t.idempotencyKey), eb("id", "=", t.id)]))
          .execute();
        const same = prev.find((p) => contentOf(JSON.parse(p.body) as Transaction) === contentOf(t));
        (same ? out.duplicates : out.conflicts).push(t.id);
      }
    });
    return out;
  }

  /** Appends one transaction; a repeated key with other content is a DomainError("conflict"). */
  async appendOne(t: Transaction): Promise<{ appended: boolean; transaction: Transaction }> {
    const r = await this.append([t]);
    if (r.conflicts.length > 0)
      throw conflict(
        `idempotency key "${t.idempotencyKey}" (or id ${t.id}) was already used with other content`,
        { idempotencyKey: t.idempotencyKey },
      );
    if (r.appended.length > 0) return { appended: true, transaction: t };
    const stored = await this.byIdempotencyKey(t.idempotencyKey);
    return { appended: false, transaction: stored ?? t };
  }

  /** The transaction stored under an idempotency key. */
  async byIdempotencyKey(key: string): Promise<Transaction | undefined> {
    const r = await this.db
      .selectFrom("ledger_transactions")
      .select("body")
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    return r ? (JSON.parse(r.body) as Transaction) : undefined;
  }

  /** Transactions matching the filter, in append order. */
  async transactions(f: TransactionFilter = {}): Promise<Transaction[]> {
    const run = async (leaseIds?: readonly string[]): Promise<Transaction[]> => {
      let q = this.db.selectFrom("ledger_transactions").select(["seq", "body"]);
      if (leaseIds) q = q.where("lease_id", "in", leaseIds);
      if (f.tenantId !== undefined) q = q.where("tenant_id", "=", f.tenantId);
      if (f.operatorId !== undefined) q = q.where("operator_id", "=", f.operatorId);
      if (f.billingPeriod !== undefined) q = q.where("billing_period", "=", f.billingPeriod);
      if (f.kinds) q = q.where("kind", "in", f.kinds);
      const rows = await q.orderBy("seq").execute();
      return rows.map((r) => JSON.parse(r.body) as Transaction);
    };
    if (!f.leaseIds) return run();
    const out: Transaction[] = [];
    for (let i = 0; i < f.leaseIds.length; i += CHUNK)
      out.push(...(await run(f.leaseIds.slice(i, i + CHUNK))));
    return out;
  }

  /** Balances of every account (or those given), sorted by account and currency. */
  async balances(accounts?: readonly string[]): Promise<StoredBalance[]> {
    let q = this.db
      .selectFrom("ledger_postings")
      .select(["account", "currency", (eb) => eb.fn.sum<string | number>("amount_minor").as("sum")])
      .groupBy(["account", "currency"]);
    if (accounts) {
      if (accounts.length === 0) return [];
      q = q.where("account", "in", accounts);
    }
    const rows = await q.orderBy("account").orderBy("currency").execute();
    return rows.map((r) => ({ account: r.account, currency: r.currency, rawMinor: toSafe(r.sum) }));
  }

  /** Sum of one account's postings in one currency from transactions of the given kinds (debit positive). */
  async accountSum(account: string, currency: string, kinds: readonly string[]): Promise<number> {
    if (kinds.length === 0) return 0;
    const r = await this.db
      .selectFrom("ledger_postings as p")
      .innerJoin("ledger_transactions as t", "t.id", "p.txn_id")
      .select((eb) => eb.fn.sum<string | number | null>("p.amount_minor").as("sum"))
      .where("p.account", "=", account)
      .where("p.currency", "=", currency)
      .where("t.kind", "in", kinds)
      .executeTakeFirst();
    return toSafe(r?.sum ?? 0);
  }

  /** Sum of every posting per currency (0 when the books balance). */
  async trialBalance(): Promise<{ currency: string; sumMinor: number }[]> {
    const rows = await this.db
      .selectFrom("ledger_postings")
      .select(["currency", (eb) => eb.fn.sum<string | number>("amount_minor").as("sum")])
      .groupBy("currency")
      .orderBy("currency")
      .execute();
    return rows.map((r) => ({ currency: r.currency, sumMinor: toSafe(r.sum) }));
  }

  /** Number of stored transactions (for checks). */
  async count(kind?: string): Promise<number> {
    let q = this.db
      .selectFrom("ledger_transactions")
      .select((eb) => eb.fn.countAll<number | string>().as("n"));
    if (kind) q = q.where("kind", "=", kind);
    return Number((await q.executeTakeFirstOrThrow()).n);
  }

  /** The append order of the latest transaction (0 when none): changes whenever anything is posted. */
  async lastSeq(): Promise<number> {
    const r = await this.db
      .selectFrom("ledger_transactions")
      .select((eb) => eb.fn.max<number | string | null>("seq").as("m"))
      .executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  /** Months closed so far. */
  async closedPeriods(): Promise<Set<string>> {
    const rows = await this.db.selectFrom("ledger_periods").select("period").execute();
    return new Set(rows.map((r) => r.period));
  }

  /** Closes a month; false when it was already closed. */
  async closePeriod(period: string, at: number, by: string | null): Promise<boolean> {
    const r = await this.db
      .insertInto("ledger_periods")
      .values({ period, closed_at: at, closed_by: by })
      .onConflict((oc) => oc.column("period").doNothing())
      .returning("period")
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Database time-independent check used by tests: every transaction's postings sum to zero. */
  async unbalancedTransactions(): Promise<string[]> {
    const rows = await this.db
      .selectFrom("ledger_postings")
      .select(["txn_id", (eb) => eb.fn.sum<string | number>("amount_minor").as("sum")])
      .groupBy("txn_id")
      .having(sql`sum(amount_minor)`, "<>", 0)
      .execute();
    return rows.map((r) => r.txn_id).sort();
  }
}

function toSafe(v: string | number | null | bigint): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n))
    throw new RangeError(`ledger sum ${String(v)} is outside the safe integer range`);
  return n;
}
