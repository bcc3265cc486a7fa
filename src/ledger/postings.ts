/**
 * Double-entry transactions: balanced, append-only, idempotent.
 *
 * A transaction is a set of postings (account, signed integer amount in minor units, currency) that
 * sum to exactly zero; positive is a debit, negative a credit (see accounts.ts). Nothing is ever
 * edited or deleted: a mistake is undone by a new `correction` transaction whose
 * `references.corrects` names the transaction it corrects.
 */
import type { JobClass } from "../domain/types.js";
import { conflict, invalid } from "../domain/errors.js";
import type { AccountId } from "./accounts.js";
import { displayBalance, parseAccount } from "./accounts.js";
import { canonicalJson, cmpStr } from "./canonical.js";
import type { Period } from "./periods.js";
import type { VatKind } from "./vat.js";

/** One leg of a transaction: a debit (positive) or credit (negative) to one account. */
export interface Posting {
  readonly account: AccountId;
  readonly amountMinor: number;
  readonly currency: string;
}

/** What happened. */
export type TransactionKind = "usage-charge" | "topup" | "payout" | "correction" | "refund" | "adjustment";

/** All transaction kinds, for validation and schemas. */
export const TRANSACTION_KINDS: readonly TransactionKind[] = [
  "usage-charge",
  "topup",
  "payout",
  "correction",
  "refund",
  "adjustment",
];

/**
 * The usage behind a usage-charge (or a correction of one): which invoice line it belongs to and by
 * how much it moves that line. Amounts here are DELTAS; a line's figures are the sums over its
 * transactions (see charges.ts).
 */
export interface UsageLine {
  readonly leaseId: string;
  readonly jobId: string;
  readonly tenantId: string;
  readonly operatorId: string;
  readonly siteId: string;
  /** Country of the site (ISO 3166-1 alpha-2). */
  readonly country: string;
  readonly gpuModel: string;
  readonly class: JobClass;
  /** Price locked at lease start, minor units per GPU-hour. */
  readonly priceMinorPerGpuHour: number;
  /** Marketplace fee in basis points of the gross, locked with the lease. */
  readonly feeBps: number;
  /** Month in which the usage happened. */
  readonly usagePeriod: Period;
  /** Month whose invoice carries the line (later than usagePeriod for late usage). */
  readonly billingPeriod: Period;
  /** Number of earlier transactions on the same line (0 for the first). */
  readonly lineSeq: number;
  /** VAT treatment in force when this delta was computed. */
  readonly vat: { readonly kind: VatKind; readonly rateBps: number; readonly country: string | null };
  readonly gpuMs: number;
  readonly gpuSeconds: number;
  readonly grossMinor: number;
  readonly feeMinor: number;
  readonly vatMinor: number;
  /** Words for the invoice (late usage, reverse charge). */
  readonly note?: string;
  /** Storage lines: the volume, its size and the window of the usage month charged so far. */
  readonly storage?: StorageLineInfo;
}

/** What a storage charge line covers: a volume's declared size over [fromMs, toMs) of its usage month. */
export interface StorageLineInfo {
  readonly volumeId: string;
  readonly volume: string;
  readonly sizeBytes: number;
  readonly fromMs: number;
  readonly toMs: number;
}

/** A balanced, immutable ledger transaction. */
export interface Transaction {
  readonly id: string;
  /** Epoch ms at which it was recorded. */
  readonly at: number;
  readonly kind: TransactionKind;
  /** Unique per ledger; posting the same key twice is a no-op (or a conflict if the content differs). */
  readonly idempotencyKey: string;
  readonly postings: readonly Posting[];
  /** Links such as leaseId, period, corrects (the id of the corrected transaction). */
  readonly references: Readonly<Record<string, string>>;
  readonly memo: string;
  /** Present on usage charges and their corrections. */
  readonly line?: UsageLine;
}

/** What `makeTransaction` takes. */
export interface TransactionInput {
  id: string;
  at: number;
  kind: TransactionKind;
  idempotencyKey: string;
  postings: readonly Posting[];
  references?: Readonly<Record<string, string>>;
  memo?: string;
  line?: UsageLine;
}

const CURRENCY_RE = /^[A-Z]{3}$/;

function checkLine(line: UsageLine, currency: string): void {
  for (const f of [
    "gpuMs",
    "gpuSeconds",
    "grossMinor",
    "feeMinor",
    "vatMinor",
    "lineSeq",
    "feeBps",
  ] as const) {
    if (!Number.isSafeInteger(line[f]))
      throw invalid(`line.${f} must be an integer, got ${line[f]}`, { field: `line.${f}`, value: line[f] });
  }
  if (!Number.isSafeInteger(line.priceMinorPerGpuHour))
    throw invalid(`line.priceMinorPerGpuHour must be an integer number of ${currency} minor units`, {
      field: "line.priceMinorPerGpuHour",
    });
}

/**
 * Builds a transaction after checking it: integer minor units, one currency (ISO 4217 code), known
 * accounts, at least two postings (zero amounts allowed), and postings summing to exactly zero.
 * Throws a DomainError("validation") naming the field otherwise.
 */
export function makeTransaction(input: TransactionInput): Transaction {
  const { id, at, kind, idempotencyKey } = input;
  const postings: readonly Posting[] = input.postings;
  if (typeof id !== "string" || id.length === 0)
    throw invalid("id must be a non-empty string", { field: "id" });
  if (!Number.isSafeInteger(at) || at < 0)
    throw invalid(`at must be epoch milliseconds (a non-negative integer), got ${at}`, {
      field: "at",
      value: at,
    });
  if (!TRANSACTION_KINDS.includes(kind))
    throw invalid(`kind must be one of ${TRANSACTION_KINDS.join(", ")}, got "${String(kind)}"`, {
      field: "kind",
    });
  if (typeof idempotencyKey !== "string" || idempotencyKey.length === 0)
    throw invalid("idempotencyKey must be a non-empty string (e.g. the request's key)", {
      field: "idempotencyKey",
    });
  if (!Array.isArray(input.postings) || postings.length < 2)
    throw invalid(
      `a transaction needs at least two postings (a debit and a credit), got ${postings.length ?? 0}`,
      {
        field: "postings",
      },
    );
  const currency = postings[0]!.currency;
  let sum = 0n;
  postings.forEach((p, i) => {
    const field = `postings[${i}]`;
    parseAccount(p.account);
    if (!Number.isSafeInteger(p.amountMinor))
      throw invalid(
        `${field}.amountMinor must be an integer number of minor units (cents), got ${p.amountMinor}`,
        {
          field: `${field}.amountMinor`,
          value: p.amountMinor,
        },
      );
    if (typeof p.currency !== "string" || !CURRENCY_RE.test(p.currency))
      throw invalid(`${field}.currency must be an ISO 4217 code such as EUR, got "${p.currency}"`, {
        field: `${field}.currency`,
      });
    if (p.currency !== currency)
      throw invalid(
        `all postings of a transaction must be in one currency: ${field} is ${p.currency}, postings[0] is ${currency}`,
        { field: `${field}.currency` },
      );
    sum += BigInt(p.amountMinor);
  });
  if (sum !== 0n)
    throw invalid(
      `postings must sum to zero (debits = credits), but they sum to ${sum} ${currency} minor units`,
      {
        field: "postings",
        sum: Number(sum),
      },
    );
  const references = { ...(input.references ?? {}) };
  for (const [k, v] of Object.entries(references)) {
    if (typeof v !== "string")
      throw invalid(`references.${k} must be a string`, { field: `references.${k}` });
  }
  if (kind === "correction" && !references.corrects)
    throw invalid("a correction must name the transaction it corrects in references.corrects", {
      field: "references.corrects",
    });
  if (input.line) checkLine(input.line, currency);
  const tx: Transaction = {
    id,
    at,
    kind,
    idempotencyKey,
    postings: postings.map((p) =>
      Object.freeze({ account: p.account, amountMinor: p.amountMinor, currency: p.currency }),
    ),
    references: Object.freeze(references),
    memo: input.memo ?? "",
    ...(input.line
      ? { line: Object.freeze({ ...input.line, vat: Object.freeze({ ...input.line.vat }) }) }
      : {}),
  };
  return Object.freeze(tx);
}

function negateLine(line: UsageLine): UsageLine {
  return {
    ...line,
    gpuMs: -line.gpuMs,
    gpuSeconds: -line.gpuSeconds,
    grossMinor: -line.grossMinor,
    feeMinor: -line.feeMinor,
    vatMinor: -line.vatMinor,
  };
}

/**
 * A correction of `original`: by default its exact reversal (every posting negated, and its usage
 * line delta negated so that invoices net it out). Pass `postings` for a partial or different fix.
 * The original stays in the ledger untouched.
 */
export function correctionOf(
  original: Transaction,
  input: { id: string; at: number; idempotencyKey: string; memo: string; postings?: readonly Posting[] },
): Transaction {
  const postings =
    input.postings ??
    original.postings.map((p) => ({
      account: p.account,
      amountMinor: 0 - p.amountMinor,
      currency: p.currency,
    }));
  return makeTransaction({
    id: input.id,
    at: input.at,
    kind: "correction",
    idempotencyKey: input.idempotencyKey,
    postings,
    references: { corrects: original.id },
    memo: input.memo,
    ...(original.line && !input.postings ? { line: negateLine(original.line) } : {}),
  });
}

function content(tx: Transaction): string {
  return canonicalJson({ kind: tx.kind, postings: tx.postings, references: tx.references, line: tx.line });
}

/**
 * Appends `tx` to an append-only ledger. Re-posting a transaction with the same idempotency key and
 * the same content is a no-op (`appended: false`); the same key with other content, a reused id, or
 * a correction of an unknown transaction is a DomainError("conflict").
 */
export function appendTransaction(
  ledger: readonly Transaction[],
  tx: Transaction,
): { ledger: readonly Transaction[]; appended: boolean } {
  const same = ledger.find((t) => t.idempotencyKey === tx.idempotencyKey);
  if (same) {
    if (content(same) === content(tx)) return { ledger, appended: false };
    throw conflict(
      `idempotency key "${tx.idempotencyKey}" was already used by transaction ${same.id} with other postings`,
      {
        idempotencyKey: tx.idempotencyKey,
        existing: same.id,
      },
    );
  }
  if (ledger.some((t) => t.id === tx.id))
    throw conflict(`transaction id "${tx.id}" is already in the ledger; ids are never reused`, { id: tx.id });
  const corrects = tx.references.corrects;
  if (corrects !== undefined && !ledger.some((t) => t.id === corrects))
    throw conflict(`transaction ${tx.id} corrects ${corrects}, which is not in the ledger`, { corrects });
  return { ledger: [...ledger, tx], appended: true };
}

/** One account's balance in one currency. */
export interface Balance {
  readonly account: AccountId;
  readonly currency: string;
  /** Sum of postings, debit positive. */
  readonly rawMinor: number;
  /** The figure people read: credit-normal accounts flipped (a tenant's prepaid money is positive). */
  readonly balanceMinor: number;
}

/** Balances of every account touched by the postings, sorted by account then currency; zero balances kept. */
export function balancesOf(postings: Iterable<Posting>): Balance[] {
  const sums = new Map<string, { account: string; currency: string; sum: bigint }>();
  for (const p of postings) {
    const key = `${p.account}\u0000${p.currency}`;
    const e = sums.get(key);
    if (e) e.sum += BigInt(p.amountMinor);
    else sums.set(key, { account: p.account, currency: p.currency, sum: BigInt(p.amountMinor) });
  }
  return [...sums.values()]
    .sort((a, b) => cmpStr(a.account, b.account) || cmpStr(a.currency, b.currency))
    .map((e) => {
      const raw = Number(e.sum);
      return {
        account: e.account,
        currency: e.currency,
        rawMinor: raw,
        balanceMinor: displayBalance(e.account, raw),
      };
    });
}

/** All postings of the transactions, in order. */
export function postingsOf(transactions: Iterable<Transaction>): Posting[] {
  const out: Posting[] = [];
  for (const t of transactions) out.push(...t.postings);
  return out;
}

/** The readable balance of one account in one currency (0 when never touched). */
export function balanceOf(transactions: Iterable<Transaction>, account: AccountId, currency: string): number {
  let raw = 0n;
  for (const t of transactions)
    for (const p of t.postings)
      if (p.account === account && p.currency === currency) raw += BigInt(p.amountMinor);
  return displayBalance(account, Number(raw));
}
