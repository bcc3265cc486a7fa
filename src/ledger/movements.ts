/**
 * Money moving in and out of the marketplace: tenant top-ups, operator payouts, and goodwill
 * refunds. Each is one balanced transaction; see docs/billing.md for the postings.
 */
import { invalid } from "../domain/errors.js";
import { CASH, externalAccount, operatorPayable, PLATFORM_FEES, tenantAccount } from "./accounts.js";
import type { Transaction } from "./postings.js";
import { makeTransaction } from "./postings.js";

/** Common fields of the movement builders. */
export interface MovementInput {
  id: string;
  at: number;
  idempotencyKey: string;
  amountMinor: number;
  currency: string;
  memo?: string;
  /** Where the money comes from or goes to: an external:<via> account; default the `cash` account. */
  via?: string;
}

function positive(amountMinor: number): number {
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0)
    throw invalid(`amountMinor must be a positive integer of minor units (cents), got ${amountMinor}`, {
      field: "amountMinor",
      value: amountMinor,
    });
  return amountMinor;
}

function counterparty(via: string | undefined): string {
  return via === undefined ? CASH : externalAccount(via);
}

/** A tenant pays in: debit cash (or external:<via>), credit the tenant's account. */
export function topupTransaction(input: MovementInput & { tenantId: string }): Transaction {
  const a = positive(input.amountMinor);
  return makeTransaction({
    id: input.id,
    at: input.at,
    kind: "topup",
    idempotencyKey: input.idempotencyKey,
    postings: [
      { account: counterparty(input.via), amountMinor: a, currency: input.currency },
      { account: tenantAccount(input.tenantId), amountMinor: 0 - a, currency: input.currency },
    ],
    references: { tenantId: input.tenantId },
    memo: input.memo ?? "top-up",
  });
}

/** The marketplace pays an operator: debit the operator's payable, credit cash (or external:<via>). */
export function payoutTransaction(
  input: MovementInput & { operatorId: string; period?: string },
): Transaction {
  const a = positive(input.amountMinor);
  return makeTransaction({
    id: input.id,
    at: input.at,
    kind: "payout",
    idempotencyKey: input.idempotencyKey,
    postings: [
      { account: operatorPayable(input.operatorId), amountMinor: a, currency: input.currency },
      { account: counterparty(input.via), amountMinor: 0 - a, currency: input.currency },
    ],
    references: { operatorId: input.operatorId, ...(input.period ? { period: input.period } : {}) },
    memo: input.memo ?? "payout",
  });
}

/** A goodwill credit to a tenant paid from the marketplace's fees: debit platform:fees, credit the tenant. */
export function refundTransaction(input: MovementInput & { tenantId: string; reason: string }): Transaction {
  const a = positive(input.amountMinor);
  if (!input.reason)
    throw invalid("a refund needs a reason (it goes on the tenant's statement)", { field: "reason" });
  return makeTransaction({
    id: input.id,
    at: input.at,
    kind: "refund",
    idempotencyKey: input.idempotencyKey,
    postings: [
      { account: PLATFORM_FEES, amountMinor: a, currency: input.currency },
      { account: tenantAccount(input.tenantId), amountMinor: 0 - a, currency: input.currency },
    ],
    references: { tenantId: input.tenantId },
    memo: input.memo ?? input.reason,
  });
}
