import { describe, it, expect } from "vitest";
import fc from "fast-check";
import type { UsageRecord } from "../domain/types.js";
import { billableGpuSeconds } from "../domain/money.js";
import { operatorPayable, PLATFORM_FEES, tenantAccount, vatPayable } from "./accounts.js";
import type { BillableLease } from "./charges.js";
import { aggregateUsage, chargeTotals, chargeUsage, dedupeUsage, feeMinor, lineStates } from "./charges.js";
import { buildInvoices, buildPayoutStatements } from "./invoice.js";
import { periodBounds } from "./periods.js";
import { balanceOf, balancesOf, correctionOf, postingsOf } from "./postings.js";
import type { Transaction } from "./postings.js";
import { renderInvoiceCsv, renderInvoiceHtml, renderJson } from "./render.js";
import { appendAll, chargeInBatches, lease, tenant, usage } from "./testkit.js";

const OCT = periodBounds("2026-10").startMs;
const NOV = periodBounds("2026-11").startMs;
const DEC = periodBounds("2026-12").startMs;
const config = { feeBps: 1500 };
const TENANTS = [tenant("t1", "ES"), tenant("t2", "DE", "DE123456789"), tenant("t3", "US")];

/** The worked example of docs/billing.md. */
function example(): { ledger: readonly Transaction[]; records: UsageRecord[] } {
  const records = [
    usage("n1", 1, "L1", OCT + 0, 480_000), // 8 GPUs x 60 s
    usage("n1", 2, "L1", OCT + 60_000, 480_000),
    usage("n1", 3, "L1", OCT + 120_000, 480_000),
    usage("n1", 4, "L1", OCT + 180_000, 98_765), // 8 GPUs x 12.345625 s
  ];
  const r = chargeUsage({
    ledger: [],
    usage: records,
    leases: [lease("L1")],
    tenants: TENANTS,
    config: { ...config, closedPeriods: new Set() },
    at: OCT + 200_000,
  });
  return { ledger: appendAll([], r.transactions), records };
}

describe("chargeUsage: the worked example", () => {
  it("rounds the line once, takes the fee from the operator's side and adds VAT for the tenant", () => {
    const { ledger } = example();
    expect(ledger).toHaveLength(1);
    const line = ledger[0]!.line!;
    // 1,538,765 GPU-ms -> 1,539 GPU-s; 1,539 x 200 / 3600 = 85.5 -> 86 cents (half up)
    expect(line).toMatchObject({
      gpuMs: 1_538_765,
      gpuSeconds: 1539,
      grossMinor: 86,
      feeMinor: 13,
      vatMinor: 18,
    });
    expect(balanceOf(ledger, tenantAccount("t1"), "EUR")).toBe(-104); // 86 + 18 VAT
    expect(balanceOf(ledger, operatorPayable("op1"), "EUR")).toBe(73); // 86 - 13
    expect(balanceOf(ledger, PLATFORM_FEES, "EUR")).toBe(13); // 15 % of 86 = 12.9 -> 13
    expect(balanceOf(ledger, vatPayable("ES"), "EUR")).toBe(18); // 21 % of 86 = 18.06 -> 18
  });
  it("posts nothing when run again on the same usage", () => {
    const { ledger, records } = example();
    const again = chargeUsage({
      ledger,
      usage: [...records, ...records],
      leases: [lease("L1")],
      tenants: TENANTS,
      config: { ...config, closedPeriods: new Set() },
      at: OCT + 999_999,
    });
    expect(again.transactions).toEqual([]);
  });
  it("posts only the delta when more usage arrives", () => {
    const { ledger, records } = example();
    const more = [...records, usage("n1", 5, "L1", OCT + 240_000, 1_800_000)]; // +1800 s
    const r = chargeUsage({
      ledger,
      usage: more,
      leases: [lease("L1")],
      tenants: TENANTS,
      config: { ...config, closedPeriods: new Set() },
      at: OCT + 300_000,
    });
    expect(r.transactions).toHaveLength(1);
    // 3,338,765 ms -> 3,339 s -> 185.5 -> 186 cents in total; 100 more than before
    expect(r.transactions[0]!.line).toMatchObject({
      gpuSeconds: 1800,
      grossMinor: 100,
      feeMinor: 15,
      vatMinor: 21,
      lineSeq: 1,
    });
    expect(r.transactions[0]!.idempotencyKey).toBe("usage-charge:L1:2026-10:2026-10:1");
  });
});

describe("chargeUsage: rules", () => {
  it("reverse-charges a German business on a Spanish site and posts no VAT", () => {
    const r = chargeUsage({
      ledger: [],
      usage: [usage("n1", 1, "L2", OCT, 3_600_000)],
      leases: [lease("L2", { tenantId: "t2" })],
      tenants: TENANTS,
      config: { ...config, closedPeriods: new Set() },
      at: OCT,
    });
    expect(r.transactions[0]!.postings.map((p) => p.account)).toEqual([
      tenantAccount("t2"),
      operatorPayable("op1"),
      PLATFORM_FEES,
    ]);
    expect(r.transactions[0]!.line!.vat.kind).toBe("reverse-charge");
  });
  it("moves the VAT of an open line when the tenant's VAT id changes", () => {
    const leases = [lease("L1")];
    const rec = [usage("n1", 1, "L1", OCT, 3_600_000)];
    const run = (ledger: readonly Transaction[], vatId: string | null): readonly Transaction[] =>
      appendAll(
        ledger,
        chargeUsage({
          ledger,
          usage: rec,
          leases,
          tenants: [tenant("t1", "FR", vatId)],
          config: { ...config, closedPeriods: new Set() },
          at: OCT,
        }).transactions,
      );
    const l1 = run([], null);
    expect(balanceOf(l1, vatPayable("ES"), "EUR")).toBe(42);
    const l2 = run(l1, "FRAB123456789");
    expect(l2).toHaveLength(2);
    expect(balanceOf(l2, vatPayable("ES"), "EUR")).toBe(0);
    expect(balanceOf(l2, tenantAccount("t1"), "EUR")).toBe(-200);
    const [inv] = buildInvoices({ transactions: l2, tenantId: "t1", period: "2026-10" });
    expect(inv!.vat).toEqual([
      expect.objectContaining({ kind: "reverse-charge", vatMinor: 0, baseMinor: 200 }),
    ]);
  });
  it("re-rates a line after a correction reverses its charge, ending at the same figures", () => {
    const { ledger, records } = example();
    const fix = correctionOf(ledger[0]!, { id: "c1", at: OCT + 1, idempotencyKey: "c1", memo: "re-rate" });
    const corrected = appendAll(ledger, [fix]);
    expect(balanceOf(corrected, tenantAccount("t1"), "EUR")).toBe(0);
    const r = chargeUsage({
      ledger: corrected,
      usage: records,
      leases: [lease("L1")],
      tenants: TENANTS,
      config: { ...config, closedPeriods: new Set() },
      at: OCT + 2,
    });
    const after = appendAll(corrected, r.transactions);
    expect(after).toHaveLength(3);
    expect(r.transactions[0]!.idempotencyKey).toBe("usage-charge:L1:2026-10:2026-10:2");
    expect(balanceOf(after, tenantAccount("t1"), "EUR")).toBe(-104);
    expect(
      buildInvoices({ transactions: after, tenantId: "t1", period: "2026-10" })[0]!.totals.totalMinor,
    ).toBe(104);
  });
  it("dedupes conflicting copies the same way in any order, and reports them", () => {
    const a = usage("n1", 7, "L1", OCT, 1000);
    const b = { ...a, gpuMs: 2000 };
    const x = dedupeUsage([a, b]);
    const y = dedupeUsage([b, a, a]);
    expect(x).toEqual(y);
    expect(x.records[0]!.gpuMs).toBe(2000);
    expect(x.conflicts).toEqual(["n1#7"]);
  });
  it("keeps usage of unknown leases aside instead of losing it", () => {
    const r = chargeUsage({
      ledger: [],
      usage: [usage("n1", 1, "ghost", OCT, 5000)],
      leases: [],
      tenants: TENANTS,
      config: { ...config, closedPeriods: new Set() },
      at: OCT,
    });
    expect(r.transactions).toEqual([]);
    expect(r.unbilled).toEqual([
      { leaseId: "ghost", usagePeriod: "2026-10", gpuMs: 5000, energyMilliWh: 500, records: 1 },
    ]);
  });
  it("rejects bad records naming the field", () => {
    expect(() => dedupeUsage([{ ...usage("n1", 1, "L1", OCT, 5), gpuMs: 1.5 }])).toThrow(/usage\[0\]\.gpuMs/);
    expect(() => dedupeUsage([{ ...usage("n1", 1, "L1", OCT, 5), toMs: OCT - 1 }])).toThrow(
      /usage\[0\]\.toMs/,
    );
    expect(() => feeMinor(100, 10_001)).toThrow(/feeBps/);
  });
  it("computes the fee half up and the operator's net exactly (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 10_000 }), (gross, bps) => {
        const fee = feeMinor(gross, bps);
        expect(fee + (gross - fee)).toBe(gross);
        // half up: |fee - gross*bps/10000| <= 0.5, and exact halves go up
        const twice = 2 * fee * 10_000 - 2 * gross * bps;
        expect(twice).toBeGreaterThan(-10_000 - 1);
        expect(twice).toBeLessThanOrEqual(10_000);
      }),
    );
    expect(feeMinor(10, 500)).toBe(1); // 0.5 -> 1
    expect(feeMinor(86, 1500)).toBe(13);
  });
});

describe("chargeTotals (the store sums the records)", () => {
  it("charges from per-lease-month totals exactly as from the records", () => {
    const { records, ledger } = example();
    const ctx = {
      ledger: [],
      leases: [lease("L1")],
      tenants: TENANTS,
      config: { ...config, closedPeriods: new Set<string>() },
      at: OCT + 200_000,
    };
    const r = chargeTotals({ ...ctx, totals: aggregateUsage(records) });
    expect(r.transactions).toEqual(ledger);
    expect(() =>
      chargeTotals({ ...ctx, totals: [...aggregateUsage(records), ...aggregateUsage(records)] }),
    ).toThrow(/one total per lease and month/);
  });
});

// ---------------------------------------------------------------- properties over random usage

const LEASES: BillableLease[] = [
  lease("L1"),
  lease("L2", { tenantId: "t2", priceMinorPerGpuHour: 333, feeBps: 1234 }),
  lease("L3", {
    tenantId: "t1",
    siteId: "tromso",
    country: "NO",
    operatorId: "op2",
    gpuModel: "A100",
    priceMinorPerGpuHour: 7,
  }),
  lease("L4", {
    tenantId: "t3",
    siteId: "lappeenranta",
    country: "FI",
    operatorId: "op2",
    class: "interruptible",
    priceMinorPerGpuHour: 99_999,
  }),
];
const STARTS = [OCT, NOV, DEC];

const recordsArb = fc
  .array(
    fc.record({
      lease: fc.integer({ min: 0, max: LEASES.length - 1 }),
      node: fc.constantFrom("n1", "n2", "n3"),
      month: fc.integer({ min: 0, max: 2 }),
      offset: fc.integer({ min: 0, max: 86_400_000 * 27 }),
      gpuMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 50_000_000 })),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((rs) => rs.map((r, i) => usage(r.node, i, LEASES[r.lease]!.id, STARTS[r.month]! + r.offset, r.gpuMs)));

/** The records, with duplicates, shuffled and cut into batches. */
const replayArb = recordsArb.chain((records) =>
  fc
    .tuple(
      fc.shuffledSubarray(records, { minLength: 0 }),
      fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 20 }),
    )
    .chain(([dups, cuts]) =>
      fc
        .shuffledSubarray([...records, ...dups], { minLength: records.length + dups.length })
        .map((shuffled) => {
          const batches: UsageRecord[][] = [];
          let i = 0;
          let c = 0;
          while (i < shuffled.length) {
            const n = cuts[c++ % cuts.length]!;
            batches.push(shuffled.slice(i, i + n));
            i += n;
          }
          return { records, batches };
        }),
    ),
);

function oneShot(records: readonly UsageRecord[], closed: string[] = []): readonly Transaction[] {
  return chargeInBatches({
    batches: [records],
    leases: LEASES,
    tenants: TENANTS,
    config,
    closedPeriods: closed,
  });
}

function invoiceBytes(ledger: readonly Transaction[]): string {
  const out: string[] = [];
  for (const t of ["t1", "t2", "t3"])
    for (const period of ["2026-10", "2026-11", "2026-12", "2027-01"])
      for (const inv of buildInvoices({ transactions: ledger, tenantId: t, period }))
        out.push(renderJson(inv), renderInvoiceCsv(inv), renderInvoiceHtml(inv));
  for (const op of ["op1", "op2"])
    for (const period of ["2026-10", "2026-11", "2026-12", "2027-01"])
      for (const st of buildPayoutStatements({ transactions: ledger, operatorId: op, period }))
        out.push(renderJson(st));
  return out.join("\n");
}

/** Metered GPU-ms per (lease, usage period) from the distinct records. */
function metered(records: readonly UsageRecord[]): Map<string, number> {
  return new Map(
    aggregateUsage(dedupeUsage(records).records).map((t) => [`${t.leaseId}:${t.usagePeriod}`, t.gpuMs]),
  );
}

function checkLedger(ledger: readonly Transaction[], records: readonly UsageRecord[]): void {
  // every transaction balances
  for (const t of ledger) expect(t.postings.reduce((s, p) => s + p.amountMinor, 0)).toBe(0);
  // billed GPU-seconds = metered GPU-ms rounded up, and billed GPU-ms = metered, for every lease and month
  const billedMs = new Map<string, number>();
  const billedSec = new Map<string, number>();
  for (const s of lineStates(ledger).values()) {
    const k = `${s.latest.leaseId}:${s.latest.usagePeriod}`;
    billedMs.set(k, (billedMs.get(k) ?? 0) + s.gpuMs);
    billedSec.set(k, (billedSec.get(k) ?? 0) + s.gpuSeconds);
    // fee + operator net = gross exactly on every line
    expect(s.feeMinor + (s.grossMinor - s.feeMinor)).toBe(s.grossMinor);
  }
  const m = metered(records);
  expect(new Map([...billedMs].filter(([, v]) => v !== 0))).toEqual(
    new Map([...m].filter(([, v]) => v !== 0)),
  );
  for (const [k, ms] of m) expect(billedSec.get(k) ?? 0).toBe(billableGpuSeconds(ms));
  // what tenants paid = what operators, the platform and tax authorities received
  const lines = [...lineStates(ledger).values()];
  const gross = lines.reduce((s, l) => s + l.grossMinor, 0);
  const vat = lines.reduce((s, l) => s + l.vatMinor, 0);
  const bal = balancesOf(postingsOf(ledger));
  const sumOf = (pred: (a: string) => boolean): number =>
    bal.filter((b) => pred(b.account)).reduce((s, b) => s + b.balanceMinor, 0);
  expect(sumOf((a) => a.startsWith("tenant:"))).toBe(0 - (gross + vat));
  expect(sumOf((a) => a.startsWith("operator:")) + sumOf((a) => a === PLATFORM_FEES)).toBe(gross);
  expect(sumOf((a) => a.startsWith("tax:vat:"))).toBe(vat);
}

describe("chargeUsage: properties", () => {
  it("balances every transaction and bills exactly the metered GPU-seconds, rounded up per line", () => {
    fc.assert(
      fc.property(replayArb, ({ records, batches }) => {
        const ledger = chargeInBatches({ batches, leases: LEASES, tenants: TENANTS, config });
        checkLedger(ledger, records);
      }),
      { numRuns: 150 },
    );
  });
  it("gives the same balances and the same invoice bytes for any order, duplicates and batching", () => {
    fc.assert(
      fc.property(replayArb, ({ records, batches }) => {
        const a = oneShot(records);
        const b = chargeInBatches({ batches, leases: LEASES, tenants: TENANTS, config });
        expect(balancesOf(postingsOf(b))).toEqual(balancesOf(postingsOf(a)));
        expect(invoiceBytes(b)).toBe(invoiceBytes(a));
        // and charging the same usage again posts nothing
        const again = chargeUsage({
          ledger: b,
          usage: batches.flat(),
          leases: LEASES,
          tenants: TENANTS,
          config: { ...config, closedPeriods: new Set() },
          at: 9,
        });
        expect(again.transactions).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
  it("loses and doubles nothing when months close between batches (late usage goes to the next open month)", () => {
    fc.assert(
      fc.property(
        replayArb,
        fc.integer({ min: 0, max: 19 }),
        fc.integer({ min: 0, max: 19 }),
        ({ records, batches }, c1, c2) => {
          const closeAfter = new Map<number, string[]>();
          closeAfter.set(c1, ["2026-10"]);
          closeAfter.set(c2, [...(closeAfter.get(c2) ?? []), "2026-11"]);
          const ledger = chargeInBatches({ batches, leases: LEASES, tenants: TENANTS, config, closeAfter });
          checkLedger(ledger, records);
          for (const s of lineStates(ledger).values()) {
            expect(s.latest.billingPeriod >= s.latest.usagePeriod).toBe(true);
            if (s.latest.billingPeriod !== s.latest.usagePeriod)
              expect(s.latest.note).toMatch(/^late usage from/);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
