import { describe, it, expect } from "vitest";
import fc from "fast-check";
import type { UsageRecord } from "../domain/types.js";
import { buildInvoices, buildPayoutStatements } from "./invoice.js";
import type { Invoice } from "./invoice.js";
import { periodBounds } from "./periods.js";
import type { Transaction } from "./postings.js";
import { csvField, renderInvoiceCsv, renderInvoiceHtml, renderJson, renderPayoutCsv } from "./render.js";
import { chargeInBatches, lease, tenant, usage } from "./testkit.js";

const OCT = periodBounds("2026-10").startMs;
const NOV = periodBounds("2026-11").startMs;
const config = { feeBps: 1500 };
const TENANTS = [tenant("t1", "ES"), tenant("t2", "DE", "DE123456789")];
const LEASES = [
  lease("L1"), // Asturias, ES, H100 at 2.00
  lease("L3", {
    siteId: "tromso",
    country: "NO",
    operatorId: "op2",
    gpuModel: "A100",
    priceMinorPerGpuHour: 150,
  }),
  lease("L5", { jobId: 'job "x", v2', siteId: "asturias", gpuModel: "L40S", priceMinorPerGpuHour: 90 }),
  lease("L2", { tenantId: "t2", priceMinorPerGpuHour: 333 }),
];

function ledgerOf(records: UsageRecord[][], closeAfter?: Map<number, string[]>): readonly Transaction[] {
  return chargeInBatches({
    batches: records,
    leases: LEASES,
    tenants: TENANTS,
    config,
    ...(closeAfter ? { closeAfter } : {}),
  });
}

/** Tenant t1 in October: 1 h of 8 H100 in Spain, 30 min of 2 A100 in Norway, 10 min 1 L40S. */
function october(): readonly Transaction[] {
  return ledgerOf([
    [
      usage("n1", 1, "L1", OCT + 1000, 8 * 3_600_000),
      usage("n2", 1, "L3", OCT + 2000, 2 * 1_800_000 + 1), // one ms over: a started second is billed
      usage("n3", 1, "L5", OCT + 3000, 600_000),
      usage("n9", 1, "L2", OCT + 4000, 3_600_000),
    ],
  ]);
}

function checkTotals(inv: Invoice): void {
  const sum = (f: (l: Invoice["lines"][number]) => number): number => inv.lines.reduce((s, l) => s + f(l), 0);
  expect(inv.totals.netMinor).toBe(sum((l) => l.amountMinor));
  expect(inv.totals.vatMinor).toBe(sum((l) => l.vatMinor));
  expect(inv.totals.gpuSeconds).toBe(sum((l) => l.gpuSeconds));
  expect(inv.totals.totalMinor).toBe(inv.totals.netMinor + inv.totals.vatMinor);
  expect(inv.vat.reduce((s, v) => s + v.vatMinor, 0)).toBe(inv.totals.vatMinor);
  expect(inv.vat.reduce((s, v) => s + v.baseMinor, 0)).toBe(inv.totals.netMinor);
}

/** A minimal RFC 4180 reader for the tests. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let f = "";
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q && c === '"' && text[i + 1] === '"') {
      f += '"';
      i++;
    } else if (q && c === '"') {
      q = false;
    } else if (q) {
      f += c;
    } else if (c === '"') {
      q = true;
    } else if (c === ",") {
      row.push(f);
      f = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(f);
      rows.push(row);
      row = [];
      f = "";
      i++;
    } else {
      f += c;
    }
  }
  return rows;
}

describe("tenant invoice", () => {
  it("has a line per lease, VAT per treatment, and totals that are the sums of the lines", () => {
    const [inv, ...rest] = buildInvoices({
      transactions: october(),
      tenantId: "t1",
      period: "2026-10",
      customer: { country: "ES" },
    });
    expect(rest).toEqual([]);
    // sorted by usage month, then job id ('job "x", v2' sorts before "job-L1")
    expect(inv!.lines.map((l) => [l.leaseId, l.gpuSeconds, l.amountMinor, l.vatMinor])).toEqual([
      ["L5", 600, 15, 3], // 600 x 90 / 3600 = 15; VAT 3.15 -> 3
      ["L1", 28_800, 1600, 336], // 8 GPU-h at 2.00 = 16.00, VAT 21 % = 3.36
      ["L3", 3601, 150, 0], // 3,600,001 GPU-ms -> 3,601 s; 3601 x 150 / 3600 = 150.04 -> 1.50; Norway: no EU VAT
    ]);
    expect(inv!.vat).toEqual([
      { kind: "domestic", country: "ES", rateBps: 2100, baseMinor: 1615, vatMinor: 339, note: "VAT 21 % ES" },
      {
        kind: "outside-scope",
        country: null,
        rateBps: 0,
        baseMinor: 150,
        vatMinor: 0,
        note: "No EU VAT: supplied from outside the EU",
      },
    ]);
    expect(inv!.totals).toEqual({ gpuSeconds: 33_001, netMinor: 1765, vatMinor: 339, totalMinor: 2104 });
    checkTotals(inv!);
  });
  it("notes the reverse charge on a German business's invoice", () => {
    const [inv] = buildInvoices({
      transactions: october(),
      tenantId: "t2",
      period: "2026-10",
      customer: { vatId: "de 123456789" },
    });
    expect(inv!.customer.vatId).toBe("DE123456789");
    expect(inv!.vat[0]!.note).toBe(
      "Reverse charge: VAT to be accounted for by the customer (DE123456789), Art. 196 Directive 2006/112/EC",
    );
    expect(inv!.totals.vatMinor).toBe(0);
  });
  it("puts late usage of a closed month on the next month's invoice, with a note", () => {
    const closeAfter = new Map([[0, ["2026-10"]]]);
    const ledger = ledgerOf(
      [
        [usage("n1", 1, "L1", OCT, 3_600_000)],
        [usage("n1", 2, "L1", OCT + 5000, 1_800_000), usage("n1", 3, "L1", NOV, 1000)],
      ],
      closeAfter,
    );
    const [oct] = buildInvoices({ transactions: ledger, tenantId: "t1", period: "2026-10" });
    const [nov] = buildInvoices({ transactions: ledger, tenantId: "t1", period: "2026-11" });
    expect(oct!.lines.map((l) => l.gpuSeconds)).toEqual([3600]);
    expect(nov!.lines.map((l) => [l.usagePeriod, l.gpuSeconds, l.note ?? ""])).toEqual([
      ["2026-10", 1800, "late usage from 2026-10 (period closed), billed in 2026-11"],
      ["2026-11", 1, ""],
    ]);
    expect(nov!.notes).toEqual(["late usage from 2026-10 (period closed), billed in 2026-11"]);
  });
  it("renders CSV by RFC 4180: CRLF rows, quoted fields with commas and quotes, same column count", () => {
    const [inv] = buildInvoices({ transactions: october(), tenantId: "t1", period: "2026-10" });
    const text = renderInvoiceCsv(inv!);
    expect(text.endsWith("\r\n")).toBe(true);
    expect(text).toContain('"job ""x"", v2"');
    const rows = parseCsv(text);
    expect(new Set(rows.map((r) => r.length))).toEqual(new Set([15]));
    expect(rows.find((r) => r[2] === "L5")![1]).toBe('job "x", v2');
    expect(rows.at(-1)!.slice(0, 1).concat(rows.at(-1)!.slice(10, 14))).toEqual([
      "total",
      "17.65",
      "",
      "3.39",
      "EUR",
    ]);
    expect(csvField("a\nb")).toBe('"a\nb"');
    expect(csvField("plain")).toBe("plain");
  });
  it("renders a printable HTML page with inline CSS, escaped text and no script", () => {
    const [inv] = buildInvoices({ transactions: october(), tenantId: "t1", period: "2026-10" });
    const html = renderInvoiceHtml(inv!);
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("@media print");
    expect(html).not.toMatch(/<script|<link|src=|https?:/i);
    expect(html).toContain("job &quot;x&quot;, v2");
    expect(html).toContain("21.04 EUR");
  });
  it("is the same to the byte whatever the order of the transactions", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...october()], { minLength: october().length }), (txs) => {
        const a = buildInvoices({ transactions: october(), tenantId: "t1", period: "2026-10" });
        const b = buildInvoices({ transactions: txs, tenantId: "t1", period: "2026-10" });
        expect(b.map(renderJson).join()).toBe(a.map(renderJson).join());
        expect(b.map(renderInvoiceCsv).join()).toBe(a.map(renderInvoiceCsv).join());
        expect(b.map(renderInvoiceHtml).join()).toBe(a.map(renderInvoiceHtml).join());
      }),
      { numRuns: 30 },
    );
  });
  it("has totals equal to the sums of its lines for any usage (property)", () => {
    const rec = fc.array(
      fc.record({
        l: fc.integer({ min: 0, max: 3 }),
        off: fc.integer({ min: 0, max: 86_400_000 * 40 }),
        ms: fc.integer({ min: 0, max: 99_000_000 }),
      }),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(rec, (rs) => {
        const ledger = ledgerOf([rs.map((r, i) => usage("n1", i, LEASES[r.l]!.id, OCT + r.off, r.ms))]);
        for (const t of ["t1", "t2"])
          for (const p of ["2026-10", "2026-11"])
            for (const inv of buildInvoices({ transactions: ledger, tenantId: t, period: p }))
              checkTotals(inv);
        for (const op of ["op1", "op2"])
          for (const p of ["2026-10", "2026-11"])
            for (const st of buildPayoutStatements({ transactions: ledger, operatorId: op, period: p })) {
              for (const r of st.rows) expect(r.feeMinor + r.netMinor).toBe(r.grossMinor);
              expect(st.totals.feeMinor + st.totals.netMinor).toBe(st.totals.grossMinor);
              expect(st.totals.grossMinor).toBe(st.rows.reduce((s, r) => s + r.grossMinor, 0));
            }
      }),
      { numRuns: 100 },
    );
  });
});

describe("operator payout statement", () => {
  it("sums GPU-seconds, gross, fee and net per site and GPU model", () => {
    const [st] = buildPayoutStatements({ transactions: october(), operatorId: "op1", period: "2026-10" });
    expect(st!.rows).toEqual([
      {
        siteId: "asturias",
        country: "ES",
        gpuModel: "H100",
        gpuSeconds: 32_400,
        grossMinor: 1933,
        feeMinor: 290,
        netMinor: 1643,
      },
      {
        siteId: "asturias",
        country: "ES",
        gpuModel: "L40S",
        gpuSeconds: 600,
        grossMinor: 15,
        feeMinor: 2,
        netMinor: 13,
      },
    ]);
    expect(st!.totals).toEqual({ gpuSeconds: 33_000, grossMinor: 1948, feeMinor: 292, netMinor: 1656 });
    const csv = renderPayoutCsv(st!);
    expect(csv.split("\r\n")[0]).toBe("site_id,country,gpu_model,gpu_seconds,gross,fee,net,currency");
    expect(csv).toContain("total,,,33000,19.48,2.92,16.56,EUR\r\n");
  });
});
