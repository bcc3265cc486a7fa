import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { DomainError } from "../domain/errors.js";
import {
  CASH,
  displayBalance,
  externalAccount,
  operatorPayable,
  parseAccount,
  PLATFORM_FEES,
  tenantAccount,
  vatPayable,
} from "./accounts.js";
import {
  appendTransaction,
  balanceOf,
  balancesOf,
  correctionOf,
  makeTransaction,
  postingsOf,
} from "./postings.js";
import type { Posting } from "./postings.js";

const base = { id: "tx1", at: 1, kind: "topup" as const, idempotencyKey: "k1" };
const topup = (amount: number): Posting[] => [
  { account: CASH, amountMinor: amount, currency: "EUR" },
  { account: tenantAccount("t1"), amountMinor: -amount, currency: "EUR" },
];

function errorOf(f: () => unknown): DomainError {
  try {
    f();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("expected a DomainError");
}

describe("accounts", () => {
  it("builds and parses every account kind", () => {
    expect(parseAccount(tenantAccount("t-1"))).toEqual({ kind: "tenant", tenantId: "t-1" });
    expect(parseAccount(operatorPayable("op1"))).toEqual({ kind: "operator-payable", operatorId: "op1" });
    expect(parseAccount(PLATFORM_FEES)).toEqual({ kind: "platform-fees" });
    expect(parseAccount(vatPayable("ES"))).toEqual({ kind: "vat-payable", country: "ES" });
    expect(parseAccount(CASH)).toEqual({ kind: "cash" });
    expect(parseAccount(externalAccount("psp:stripe"))).toEqual({ kind: "external", ref: "psp:stripe" });
  });
  it("rejects unknown accounts and bad ids with the accepted forms", () => {
    expect(errorOf(() => parseAccount("bank")).message).toMatch(/use tenant:<id>/);
    expect(errorOf(() => tenantAccount("a b")).details.field).toBe("tenantId");
    expect(errorOf(() => vatPayable("es")).message).toMatch(/upper case/);
  });
  it("shows credit-normal balances as positive money held", () => {
    expect(displayBalance(tenantAccount("t1"), -1000)).toBe(1000);
    expect(displayBalance(CASH, 1000)).toBe(1000);
  });
});

describe("makeTransaction", () => {
  it("accepts a balanced transaction and freezes it", () => {
    const tx = makeTransaction({ ...base, postings: topup(500) });
    expect(tx.postings).toHaveLength(2);
    expect(Object.isFrozen(tx)).toBe(true);
    expect(balanceOf([tx], tenantAccount("t1"), "EUR")).toBe(500);
  });
  it.each([
    ["one posting", [{ account: CASH, amountMinor: 0, currency: "EUR" }], /at least two postings/],
    [
      "a fraction of a cent",
      [...topup(1).slice(0, 1), { account: tenantAccount("t1"), amountMinor: -0.5, currency: "EUR" }],
      /postings\[1\]\.amountMinor must be an integer/,
    ],
    [
      "two currencies",
      [topup(5)[0]!, { account: tenantAccount("t1"), amountMinor: -5, currency: "USD" }],
      /one currency/,
    ],
    [
      "an unbalanced sum",
      [topup(5)[0]!, { account: tenantAccount("t1"), amountMinor: -4, currency: "EUR" }],
      /sum to 1 EUR/,
    ],
    [
      "a bad currency code",
      [
        { ...topup(5)[0]!, currency: "eur" },
        { ...topup(5)[1]!, currency: "eur" },
      ],
      /ISO 4217/,
    ],
    ["an unknown account", [{ ...topup(5)[0]!, account: "bank" }, topup(5)[1]!], /unknown account "bank"/],
  ])("rejects %s with a clear message", (_name, postings, re) => {
    const e = errorOf(() => makeTransaction({ ...base, postings }));
    expect(e.code).toBe("validation");
    expect(e.message).toMatch(re);
  });
  it("rejects a correction that names nothing to correct", () => {
    expect(
      errorOf(() => makeTransaction({ ...base, kind: "correction", postings: topup(5) })).details.field,
    ).toBe("references.corrects");
  });
  it("accepts every balanced set of postings and rejects every unbalanced one (property)", () => {
    const accounts = fc.constantFrom(
      CASH,
      PLATFORM_FEES,
      tenantAccount("a"),
      operatorPayable("b"),
      vatPayable("DE"),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ account: accounts, amountMinor: fc.integer({ min: -1e9, max: 1e9 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: -5, max: 5 }),
        (legs, skew) => {
          const sum = legs.reduce((s, l) => s + l.amountMinor, 0);
          const postings = [...legs, { account: CASH, amountMinor: -sum + skew }].map((l) => ({
            ...l,
            currency: "EUR",
          }));
          if (skew === 0) {
            const tx = makeTransaction({ ...base, postings });
            const total = balancesOf(tx.postings).reduce((s, b) => s + b.rawMinor, 0);
            expect(total).toBe(0);
          } else {
            expect(() => makeTransaction({ ...base, postings })).toThrow(/sum to zero/);
          }
        },
      ),
    );
  });
});

describe("append-only ledger", () => {
  it("posts the same idempotency key once, and refuses the key with other content", () => {
    const a = makeTransaction({ ...base, postings: topup(500) });
    let l = appendTransaction([], a).ledger;
    const again = appendTransaction(
      l,
      makeTransaction({ ...base, id: "tx1-retry", at: 99, postings: topup(500) }),
    );
    expect(again.appended).toBe(false);
    expect(again.ledger).toHaveLength(1);
    const e = errorOf(() =>
      appendTransaction(l, makeTransaction({ ...base, id: "tx2", postings: topup(600) })),
    );
    expect(e.code).toBe("conflict");
    l = again.ledger;
    expect(
      errorOf(() =>
        appendTransaction(l, makeTransaction({ ...base, idempotencyKey: "k2", postings: topup(1) })),
      ).message,
    ).toMatch(/already in the ledger/);
  });
  it("corrects by a new reversing transaction that references the original", () => {
    const a = makeTransaction({ ...base, postings: topup(500) });
    const fix = correctionOf(a, { id: "tx2", at: 2, idempotencyKey: "k2", memo: "wrong tenant" });
    const l = appendTransaction(appendTransaction([], a).ledger, fix).ledger;
    expect(l).toHaveLength(2);
    expect(l[0]).toBe(a);
    expect(fix.references.corrects).toBe("tx1");
    expect(balancesOf(postingsOf(l)).every((b) => b.rawMinor === 0)).toBe(true);
    expect(() => appendTransaction([], fix)).toThrow(/not in the ledger/);
  });
});
