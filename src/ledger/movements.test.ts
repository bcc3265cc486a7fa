import { describe, it, expect } from "vitest";
import { CASH, externalAccount, operatorPayable, PLATFORM_FEES, tenantAccount } from "./accounts.js";
import { payoutTransaction, refundTransaction, topupTransaction } from "./movements.js";
import { balanceOf } from "./postings.js";

const common = { at: 5, currency: "EUR" };

describe("money movements", () => {
  it("tops up a tenant, pays out an operator and refunds from fees, each balanced", () => {
    const txs = [
      topupTransaction({
        ...common,
        id: "a",
        idempotencyKey: "a",
        tenantId: "t1",
        amountMinor: 5000,
        via: "psp",
      }),
      payoutTransaction({
        ...common,
        id: "b",
        idempotencyKey: "b",
        operatorId: "op1",
        amountMinor: 1200,
        period: "2026-10",
      }),
      refundTransaction({
        ...common,
        id: "c",
        idempotencyKey: "c",
        tenantId: "t1",
        amountMinor: 100,
        reason: "outage 2026-10-03",
      }),
    ];
    for (const t of txs) expect(t.postings.reduce((s, p) => s + p.amountMinor, 0)).toBe(0);
    expect(balanceOf(txs, tenantAccount("t1"), "EUR")).toBe(5100);
    expect(balanceOf(txs, externalAccount("psp"), "EUR")).toBe(5000);
    expect(balanceOf(txs, CASH, "EUR")).toBe(-1200);
    expect(balanceOf(txs, operatorPayable("op1"), "EUR")).toBe(-1200);
    expect(balanceOf(txs, PLATFORM_FEES, "EUR")).toBe(-100);
  });
  it("rejects non-positive or fractional amounts", () => {
    expect(() =>
      topupTransaction({ ...common, id: "a", idempotencyKey: "a", tenantId: "t1", amountMinor: 0 }),
    ).toThrow(/positive integer/);
    expect(() =>
      payoutTransaction({ ...common, id: "a", idempotencyKey: "a", operatorId: "op1", amountMinor: 2.5 }),
    ).toThrow(/amountMinor/);
  });
});
