import { describe, expect, it } from "vitest";
import { buildInvoices } from "./invoice.js";
import { balanceOf, type Transaction } from "./postings.js";
import { storageCharges, type BillableVolume } from "./storage.js";
import { tenantAccount } from "./accounts.js";

const H = 3_600_000;
const t0 = Date.UTC(2026, 10, 30, 20, 30); // 30 Nov 2026 20:30 UTC
// 10 GB at 73 cents per GB-month: exactly 1 cent per hour (10 × 73 / 730).
const vol: BillableVolume = {
  id: "vol_1",
  name: "ds",
  tenantId: "ten_1",
  operatorId: "op_1",
  siteId: "site_es",
  country: "ES",
  sizeBytes: 10e9,
  priceMinorPerGbMonth: 73,
  currency: "EUR",
  createdAt: t0,
  deletedAt: null,
};
const tenants = [{ tenantId: "ten_1", country: "ES", vatId: "ESB12345674" }];
const config = { feeBps: 1500, closedPeriods: new Set<string>() };

function run(ledger: Transaction[], now: number, volumes = [vol]): Transaction[] {
  const txs = storageCharges({ ledger, volumes, tenants, config, now });
  ledger.push(...txs);
  return txs;
}

describe("storage charges per GB-hour", () => {
  it("accrues to the last whole hour, once: running again posts nothing, a repeat run gives the same keys", () => {
    const ledger: Transaction[] = [];
    const first = run(ledger, t0 + 2 * H + 40 * 60_000); // 23:10 -> charged to 23:00 (2.5 h)
    expect(first).toHaveLength(1);
    expect(first[0]!.idempotencyKey).toBe("storage-charge:vol_1:2026-11:2026-11-30T23:00Z");
    expect(first[0]!.line!.grossMinor).toBe(3); // 2.5 cents, rounded half up once
    expect(run(ledger, t0 + 2 * H + 50 * 60_000)).toEqual([]);
    // A second replica (or a restart) from the same ledger computes the same transaction.
    const again = storageCharges({
      ledger: [],
      volumes: [vol],
      tenants,
      config,
      now: t0 + 2 * H + 40 * 60_000,
    });
    expect(again).toEqual(first);
  });

  it("splits at the month boundary and lands on the invoice as storage lines; postings balance", () => {
    const ledger: Transaction[] = [];
    run(ledger, t0 + 2 * H + 40 * 60_000);
    const next = run(ledger, Date.UTC(2026, 11, 1, 5, 0)); // 1 Dec 05:00
    expect(next.map((t) => [t.line!.usagePeriod, t.line!.grossMinor])).toEqual([
      ["2026-11", 1], // 3.5 h in November: 4 cents in all (3 posted)
      ["2026-12", 5],
    ]);
    const nov = buildInvoices({ transactions: ledger, tenantId: "ten_1", period: "2026-11" })[0]!;
    expect(nov.lines).toHaveLength(1);
    expect(nov.lines[0]).toMatchObject({
      jobId: "volume:ds",
      amountMinor: 4,
      storage: { volumeId: "vol_1", volume: "ds", gbHours: 35, rateMinorPerGbMonth: 73 },
    });
    expect(nov.lines[0]!.note).toMatch(/storage: volume ds, 35 GB-hours at 0.73 per GB-month/);
    // VAT (ES, 21 %) rides on the storage like on GPU time; the tenant owes net + VAT.
    const dec = buildInvoices({ transactions: ledger, tenantId: "ten_1", period: "2026-12" })[0]!;
    expect(dec.totals.netMinor).toBe(5);
    // The tenant's prepaid account (credit-normal) goes down by net + VAT.
    expect(-balanceOf(ledger, tenantAccount("ten_1"), "EUR")).toBe(
      nov.totals.totalMinor + dec.totals.totalMinor,
    );
    expect(dec.totals.vatMinor).toBe(1); // 21 % of 5 cents, rounded half up
  });

  it("a deleted volume is charged to its deletion, then never again", () => {
    const ledger: Transaction[] = [];
    const deleted = { ...vol, deletedAt: t0 + 90 * 60_000 }; // 1.5 h
    const txs = run(ledger, t0 + 10 * H, [deleted]);
    expect(txs.map((t) => t.line!.grossMinor)).toEqual([2]);
    expect(run(ledger, t0 + 20 * H, [deleted])).toEqual([]);
  });
});
