/**
 * Ledger accounts, named by strings so that they are easy to store, index and read:
 *
 * | account                    | what it holds                                        | normal side |
 * | -------------------------- | ---------------------------------------------------- | ----------- |
 * | `tenant:<id>`              | what the marketplace owes the tenant (prepaid money) | credit      |
 * | `operator:<id>:payable`    | what the marketplace owes the operator               | credit      |
 * | `platform:fees`            | the marketplace's fee revenue                        | credit      |
 * | `tax:vat:<CC>`             | VAT payable to member state CC                       | credit      |
 * | `cash`                     | the marketplace's bank money                         | debit       |
 * | `external:<ref>`           | clearing with the outside (PSP, bank, operator bank) | debit       |
 *
 * Sign convention of postings: a positive amount is a DEBIT, a negative amount is a CREDIT; the
 * postings of a transaction sum to zero. Credit-normal accounts (tenants, operators, fees, tax) thus
 * carry negative raw sums; `displayBalance` flips them so that a tenant with 10.00 prepaid reads
 * +10.00, and a tenant on a credit line who owes 3.00 reads -3.00.
 */
import { invalid } from "../domain/errors.js";

/** An account name, e.g. "tenant:t1" or "tax:vat:ES". */
export type AccountId = string;

/** A parsed account name. */
export type AccountRef =
  | { kind: "tenant"; tenantId: string }
  | { kind: "operator-payable"; operatorId: string }
  | { kind: "platform-fees" }
  | { kind: "vat-payable"; country: string }
  | { kind: "cash" }
  | { kind: "external"; ref: string };

/** The marketplace's fee revenue account. */
export const PLATFORM_FEES: AccountId = "platform:fees";
/** The marketplace's bank money. */
export const CASH: AccountId = "cash";

const ID_RE = /^[A-Za-z0-9_.-]+$/;
const COUNTRY_RE = /^[A-Z]{2}$/;
const EXTERNAL_RE = /^[A-Za-z0-9_.:-]+$/;

function checkId(id: string, what: string): string {
  if (!ID_RE.test(id))
    throw invalid(`${what} must be non-empty and use only letters, digits, "_", "." and "-", got "${id}"`, {
      field: what,
      value: id,
    });
  return id;
}

/** The prepaid (or credit-line) account of a tenant. */
export function tenantAccount(tenantId: string): AccountId {
  return `tenant:${checkId(tenantId, "tenantId")}`;
}

/** What the marketplace owes an operator. */
export function operatorPayable(operatorId: string): AccountId {
  return `operator:${checkId(operatorId, "operatorId")}:payable`;
}

/** VAT payable to one country (ISO 3166-1 alpha-2). */
export function vatPayable(country: string): AccountId {
  if (!COUNTRY_RE.test(country))
    throw invalid(
      `VAT country must be an ISO 3166-1 alpha-2 code in upper case (e.g. ES), got "${country}"`,
      {
        field: "country",
        value: country,
      },
    );
  return `tax:vat:${country}`;
}

/** A clearing account with the outside world, e.g. external:psp or external:bank:op1. */
export function externalAccount(ref: string): AccountId {
  if (!EXTERNAL_RE.test(ref))
    throw invalid(
      `external account reference must use letters, digits, "_", ".", ":" and "-", got "${ref}"`,
      {
        field: "ref",
        value: ref,
      },
    );
  return `external:${ref}`;
}

/** Parses an account name; throws a validation error listing the accepted forms otherwise. */
export function parseAccount(account: string): AccountRef {
  if (account === PLATFORM_FEES) return { kind: "platform-fees" };
  if (account === CASH) return { kind: "cash" };
  let m = /^tenant:(.+)$/.exec(account);
  if (m && ID_RE.test(m[1]!)) return { kind: "tenant", tenantId: m[1]! };
  m = /^operator:(.+):payable$/.exec(account);
  if (m && ID_RE.test(m[1]!)) return { kind: "operator-payable", operatorId: m[1]! };
  m = /^tax:vat:([A-Z]{2})$/.exec(account);
  if (m) return { kind: "vat-payable", country: m[1]! };
  m = /^external:(.+)$/.exec(account);
  if (m && EXTERNAL_RE.test(m[1]!)) return { kind: "external", ref: m[1]! };
  throw invalid(
    `unknown account "${account}"; use tenant:<id>, operator:<id>:payable, platform:fees, tax:vat:<CC>, cash or external:<ref>`,
    { field: "account", value: account },
  );
}

/** True for accounts whose natural balance is a credit (liabilities and revenue). */
export function isCreditNormal(account: AccountId): boolean {
  const k = parseAccount(account).kind;
  return k !== "cash" && k !== "external";
}

/** A raw (debit-positive) balance turned into the figure people read for that account. */
export function displayBalance(account: AccountId, rawMinor: number): number {
  // `0 - x` rather than `-x` so that a zero balance stays +0 (JSON and Object.is friendly).
  return isCreditNormal(account) ? 0 - rawMinor : rawMinor;
}
