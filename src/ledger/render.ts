/**
 * Renderers for invoices and payout statements: JSON, CSV (RFC 4180: CRLF line ends, fields with
 * a comma, quote, CR or LF quoted, quotes doubled) and a printable HTML page (inline CSS, no
 * script). Pure string functions: the same object always gives the same bytes.
 */
import { formatMajor } from "../domain/money.js";
import type { Invoice, PayoutStatement } from "./invoice.js";
import { formatBps } from "./vat.js";

/** Pretty JSON with a final newline; key order is the object's construction order, which is fixed. */
export function renderJson(value: Invoice | PayoutStatement): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** One CSV field, quoted when RFC 4180 requires it. */
export function csvField(v: string | number | null | undefined): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  return rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

const INVOICE_CSV_HEADER = [
  "type",
  "job_id",
  "lease_id",
  "site_id",
  "country",
  "gpu_model",
  "class",
  "usage_period",
  "gpu_seconds",
  "rate_per_gpu_hour",
  "amount",
  "vat_rate",
  "vat_amount",
  "currency",
  "note",
] as const;

/** The invoice as CSV: one row per line, one per VAT group, and a total row. */
export function renderInvoiceCsv(inv: Invoice): string {
  const c = inv.currency;
  const rows: (string | number | null)[][] = [[...INVOICE_CSV_HEADER]];
  for (const l of inv.lines)
    rows.push([
      "line",
      l.jobId,
      l.leaseId,
      l.siteId,
      l.country,
      l.gpuModel,
      l.class,
      l.usagePeriod,
      l.gpuSeconds,
      formatMajor(l.rateMinorPerGpuHour),
      formatMajor(l.amountMinor),
      formatBps(l.vatRateBps),
      formatMajor(l.vatMinor),
      c,
      l.note ?? "",
    ]);
  for (const v of inv.vat)
    rows.push([
      "vat",
      "",
      "",
      "",
      v.country ?? "",
      "",
      "",
      "",
      "",
      "",
      formatMajor(v.baseMinor),
      formatBps(v.rateBps),
      formatMajor(v.vatMinor),
      c,
      v.note,
    ]);
  rows.push([
    "total",
    "",
    "",
    "",
    "",
    "",
    "",
    inv.period,
    inv.totals.gpuSeconds,
    "",
    formatMajor(inv.totals.netMinor),
    "",
    formatMajor(inv.totals.vatMinor),
    c,
    `total due ${formatMajor(inv.totals.totalMinor)} ${c}`,
  ]);
  for (const en of inv.energy ?? [])
    rows.push([
      "energy",
      en.jobId,
      "",
      en.siteId,
      "",
      "",
      "",
      inv.period,
      "",
      "",
      "",
      "",
      "",
      "",
      `facility ${en.facilityKwh} kWh; ${en.locationKgCo2e} kgCO2e location-based; ${en.marketKgCo2e} kgCO2e market-based`,
    ]);
  return csv(rows);
}

/** The payout statement as CSV: one row per site and GPU model, then a total row. */
export function renderPayoutCsv(st: PayoutStatement): string {
  const rows: (string | number)[][] = [
    ["site_id", "country", "gpu_model", "gpu_seconds", "gross", "fee", "net", "currency"],
  ];
  for (const r of st.rows)
    rows.push([
      r.siteId,
      r.country,
      r.gpuModel,
      r.gpuSeconds,
      formatMajor(r.grossMinor),
      formatMajor(r.feeMinor),
      formatMajor(r.netMinor),
      st.currency,
    ]);
  rows.push([
    "total",
    "",
    "",
    st.totals.gpuSeconds,
    formatMajor(st.totals.grossMinor),
    formatMajor(st.totals.feeMinor),
    formatMajor(st.totals.netMinor),
    st.currency,
  ]);
  // Per node, the month's anomalies and reliability, as rows of the same eight columns.
  for (const n of st.nodes ?? [])
    rows.push([
      "node",
      n.nodeId,
      "",
      "",
      `records taken ${n.recordsTaken}`,
      `anomalies ${n.anomalies}`,
      `reliability ${n.reliability}`,
      "",
    ]);
  return csv(rows);
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const CSS = [
  "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111;margin:2rem;font-size:14px}",
  "h1{font-size:1.5rem;margin:0 0 .25rem}",
  "table{border-collapse:collapse;width:100%;margin:1rem 0}",
  "th,td{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}",
  "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}",
  "tfoot td{font-weight:600;border-top:2px solid #111}",
  ".meta{color:#444}",
  ".notes li{margin:.2rem 0}",
  "@page{size:A4;margin:15mm}",
  "@media print{body{margin:0;font-size:11px}a{color:inherit;text-decoration:none}tr{page-break-inside:avoid}}",
].join("\n");

/** A printable HTML page of the invoice: inline CSS, no script, no external resources. */
export function renderInvoiceHtml(inv: Invoice): string {
  const e = escapeHtml;
  const m = (v: number): string => e(formatMajor(v));
  const c = e(inv.currency);
  const lines = inv.lines
    .map(
      (l) =>
        `<tr><td>${e(l.jobId)}<br><span class="meta">${e(l.leaseId)}</span></td><td>${e(l.siteId)}</td><td>${e(l.country)}</td>` +
        `<td>${e(l.gpuModel)}<br><span class="meta">${e(l.class)}</span></td><td>${e(l.usagePeriod)}</td>` +
        `<td class="n">${l.gpuSeconds}</td><td class="n">${m(l.rateMinorPerGpuHour)}</td><td class="n">${m(l.amountMinor)}</td>` +
        `<td class="n">${e(formatBps(l.vatRateBps))}</td><td class="n">${m(l.vatMinor)}</td></tr>`,
    )
    .join("\n");
  const vat = inv.vat
    .map(
      (v) =>
        `<tr><td>${e(v.note)}</td><td class="n">${m(v.baseMinor)}</td><td class="n">${e(formatBps(v.rateBps))}</td><td class="n">${m(v.vatMinor)}</td></tr>`,
    )
    .join("\n");
  const energy = inv.energy?.length
    ? `<h2>Energy and emissions</h2>\n<table>\n<thead><tr><th>Job</th><th>Site</th><th class="n">Facility kWh</th><th class="n">kgCO2e (location)</th><th class="n">kgCO2e (market)</th></tr></thead>\n<tbody>\n${inv.energy
        .map(
          (x) =>
            `<tr><td>${e(x.jobId)}</td><td>${e(x.siteId)}</td><td class="n">${x.facilityKwh}</td><td class="n">${x.locationKgCo2e}</td><td class="n">${x.marketKgCo2e}</td></tr>`,
        )
        .join("\n")}\n</tbody>\n</table>\n`
    : "";
  const notes = inv.notes.length
    ? `<h2>Notes</h2>\n<ul class="notes">${inv.notes.map((n) => `<li>${e(n)}</li>`).join("")}</ul>\n`
    : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Invoice ${e(inv.number)}</title>
<style>
${CSS}
</style>
</head>
<body>
<h1>Invoice ${e(inv.number)}</h1>
<p class="meta">Tenant ${e(inv.tenantId)}${inv.customer.country ? `, ${e(inv.customer.country)}` : ""}${
    inv.customer.vatId ? `, VAT id ${e(inv.customer.vatId)}` : ""
  }<br>Period ${e(inv.period)} (UTC), amounts in ${c}</p>
<table>
<thead><tr><th>Job / lease</th><th>Site</th><th>Country</th><th>GPU</th><th>Usage</th><th class="n">GPU-seconds</th><th class="n">Rate per GPU-hour</th><th class="n">Amount</th><th class="n">VAT rate</th><th class="n">VAT</th></tr></thead>
<tbody>
${lines}
</tbody>
<tfoot><tr><td colspan="5">Total</td><td class="n">${inv.totals.gpuSeconds}</td><td></td><td class="n">${m(inv.totals.netMinor)}</td><td></td><td class="n">${m(inv.totals.vatMinor)}</td></tr></tfoot>
</table>
<h2>VAT</h2>
<table>
<thead><tr><th>Treatment</th><th class="n">Base</th><th class="n">Rate</th><th class="n">VAT</th></tr></thead>
<tbody>
${vat}
</tbody>
</table>
<table>
<tbody>
<tr><td>Net</td><td class="n">${m(inv.totals.netMinor)} ${c}</td></tr>
<tr><td>VAT</td><td class="n">${m(inv.totals.vatMinor)} ${c}</td></tr>
<tr><td><strong>Total due</strong></td><td class="n"><strong>${m(inv.totals.totalMinor)} ${c}</strong></td></tr>
</tbody>
</table>
${energy}${notes}<p class="meta">GPU-seconds are metered GPU-milliseconds rounded up to whole seconds once per line; amounts are GPU-seconds x rate / 3600 rounded half up to the cent.</p>
</body>
</html>
`;
}
