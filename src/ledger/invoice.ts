/**
 * Monthly tenant invoices and operator payout statements, built from the ledger's usage lines only,
 * so that an invoice always says exactly what was charged. Pure and deterministic: the same
 * transactions (in any order) give the same invoice object and the same rendered bytes.
 */
import type { JobClass } from "../domain/types.js";
import { invalid } from "../domain/errors.js";
import { formatMajor } from "../domain/money.js";
import { cmpStr } from "./canonical.js";
import type { LineState } from "./charges.js";
import { lineStates } from "./charges.js";
import type { Period } from "./periods.js";
import { parsePeriod } from "./periods.js";
import type { Transaction } from "./postings.js";
import type { VatKind } from "./vat.js";
import { formatBps, normalizeVatId } from "./vat.js";

/** One invoice line: one lease's GPU time of one usage month. */
export interface InvoiceLine {
  jobId: string;
  leaseId: string;
  siteId: string;
  /** Country of the site. */
  country: string;
  gpuModel: string;
  class: JobClass;
  /** Month of the usage (earlier than the invoice's for late usage). */
  usagePeriod: Period;
  gpuSeconds: number;
  /** Locked price, minor units per GPU-hour. */
  rateMinorPerGpuHour: number;
  /** Net amount of the line (GPU-seconds x rate / 3600, rounded half up once). */
  amountMinor: number;
  vatKind: VatKind;
  vatRateBps: number;
  /** Country the VAT is payable to (null for reverse charge and outside scope). */
  vatCountry: string | null;
  vatMinor: number;
  note?: string;
  /** Storage lines: the volume and its GB-hours (size × hours charged this usage month). */
  storage?: {
    volumeId: string;
    volume: string;
    sizeBytes: number;
    gbHours: number;
    rateMinorPerGbMonth: number;
  };
}

/** The storage part of an invoice line, and its words, from a storage charge line. */
function storageOf(l: LineState["latest"]): Pick<InvoiceLine, "storage" | "note"> {
  const st = l.storage;
  if (!st) return l.note ? { note: l.note } : {};
  const gbHours = Math.round(((st.sizeBytes / 1e9) * (st.toMs - st.fromMs)) / 3_600) / 1000;
  const words = `storage: volume ${st.volume}, ${gbHours} GB-hours at ${formatMajor(l.priceMinorPerGpuHour)} per GB-month`;
  return {
    storage: {
      volumeId: st.volumeId,
      volume: st.volume,
      sizeBytes: st.sizeBytes,
      gbHours,
      rateMinorPerGbMonth: l.priceMinorPerGpuHour,
    },
    note: l.note ? `${words}; ${l.note}` : words,
  };
}

/** VAT summed per treatment, country and rate. */
export interface InvoiceVatLine {
  kind: VatKind;
  country: string | null;
  rateBps: number;
  /** Sum of the net amounts of the lines it covers. */
  baseMinor: number;
  /** Sum of the lines' VAT (VAT is rounded per line). */
  vatMinor: number;
  note: string;
}

/** A tenant's invoice for one month in one currency. */
/** A job's energy and emissions in the invoice's month, attached by the control plane. */
export interface InvoiceEnergy {
  jobId: string;
  siteId: string;
  facilityKwh: number;
  locationKgCo2e: number;
  marketKgCo2e: number;
}

export interface Invoice {
  number: string;
  tenantId: string;
  period: Period;
  currency: string;
  customer: { country: string | null; vatId: string | null };
  lines: InvoiceLine[];
  vat: InvoiceVatLine[];
  totals: { gpuSeconds: number; netMinor: number; vatMinor: number; totalMinor: number };
  notes: string[];
  /** Energy and CO2e per job (facility kWh; location- and market-based), when the control plane knows them. */
  energy?: InvoiceEnergy[];
}

/** What `buildInvoices` needs. */
export interface InvoiceInput {
  transactions: Iterable<Transaction>;
  tenantId: string;
  period: Period;
  customer?: { country?: string | null; vatId?: string | null };
  /** Invoice number; default "<tenant>-<period>-<currency>". */
  number?: (currency: string) => string;
}

function vatNote(kind: VatKind, country: string | null, rateBps: number, vatId: string | null): string {
  if (kind === "reverse-charge")
    return `Reverse charge: VAT to be accounted for by the customer${vatId ? ` (${vatId})` : ""}, Art. 196 Directive 2006/112/EC`;
  if (kind === "outside-scope") return "No EU VAT: supplied from outside the EU";
  return `VAT ${formatBps(rateBps)} ${country ?? ""}`.trim();
}

function activeLines(transactions: Iterable<Transaction>, pick: (s: LineState) => boolean): LineState[] {
  return [...lineStates(transactions).values()].filter(
    (s) => pick(s) && (s.gpuMs !== 0 || s.gpuSeconds !== 0 || s.grossMinor !== 0 || s.vatMinor !== 0),
  );
}

/** The tenant's invoices for one month, one per currency, sorted by currency. */
export function buildInvoices(input: InvoiceInput): Invoice[] {
  parsePeriod(input.period);
  if (!input.tenantId) throw invalid("tenantId must be given", { field: "tenantId" });
  const vatId = input.customer?.vatId ? normalizeVatId(input.customer.vatId) : null;
  const lines = activeLines(
    input.transactions,
    (s) => s.latest.tenantId === input.tenantId && s.latest.billingPeriod === input.period,
  );
  const currencies = [...new Set(lines.map((s) => s.currency))].sort(cmpStr);
  return currencies.map((currency) => {
    const mine = lines.filter((s) => s.currency === currency);
    const invLines: InvoiceLine[] = mine
      .map((s): InvoiceLine => {
        const l = s.latest;
        return {
          jobId: l.jobId,
          leaseId: l.leaseId,
          siteId: l.siteId,
          country: l.country,
          gpuModel: l.gpuModel,
          class: l.class,
          usagePeriod: l.usagePeriod,
          gpuSeconds: s.gpuSeconds,
          rateMinorPerGpuHour: l.priceMinorPerGpuHour,
          amountMinor: s.grossMinor,
          vatKind: l.vat.kind,
          vatRateBps: l.vat.rateBps,
          vatCountry: l.vat.country,
          vatMinor: s.vatMinor,
          ...storageOf(l),
        };
      })
      .sort(
        (a, b) =>
          cmpStr(a.usagePeriod, b.usagePeriod) || cmpStr(a.jobId, b.jobId) || cmpStr(a.leaseId, b.leaseId),
      );
    const vatGroups = new Map<string, InvoiceVatLine>();
    for (const l of invLines) {
      const country = l.vatCountry;
      const key = `${l.vatKind}|${country ?? ""}|${l.vatRateBps}`;
      const g = vatGroups.get(key);
      if (g) {
        g.baseMinor += l.amountMinor;
        g.vatMinor += l.vatMinor;
      } else
        vatGroups.set(key, {
          kind: l.vatKind,
          country,
          rateBps: l.vatRateBps,
          baseMinor: l.amountMinor,
          vatMinor: l.vatMinor,
          note: vatNote(l.vatKind, country, l.vatRateBps, vatId),
        });
    }
    const vat = [...vatGroups.entries()].sort((a, b) => cmpStr(a[0], b[0])).map(([, v]) => v);
    const netMinor = invLines.reduce((s, l) => s + l.amountMinor, 0);
    const vatMinor = invLines.reduce((s, l) => s + l.vatMinor, 0);
    const notes = [...new Set(invLines.flatMap((l) => (l.note ? [l.note] : [])))].sort(cmpStr);
    return {
      number: input.number ? input.number(currency) : `${input.tenantId}-${input.period}-${currency}`,
      tenantId: input.tenantId,
      period: input.period,
      currency,
      customer: { country: input.customer?.country ?? null, vatId },
      lines: invLines,
      vat,
      totals: {
        gpuSeconds: invLines.reduce((s, l) => s + l.gpuSeconds, 0),
        netMinor,
        vatMinor,
        totalMinor: netMinor + vatMinor,
      },
      notes,
    };
  });
}

/** GPU time one operator sold at one site of one GPU model in a month. */
export interface PayoutRow {
  siteId: string;
  country: string;
  gpuModel: string;
  gpuSeconds: number;
  grossMinor: number;
  feeMinor: number;
  netMinor: number;
}

/**
 * One node's trust figures for a month: usage records taken as sent, anomalies (claims clipped,
 * refused or clamped), and reliability = taken / (taken + anomalies) (1 when it sent nothing).
 */
export interface NodeReliability {
  nodeId: string;
  recordsTaken: number;
  anomalies: number;
  /** In [0, 1], rounded to 4 decimals. */
  reliability: number;
}

/** Reliability from records taken as sent and anomalies (1 with neither). */
export function reliabilityOf(recordsTaken: number, anomalies: number): number {
  const all = recordsTaken + anomalies;
  return all === 0 ? 1 : Math.round((recordsTaken / all) * 10_000) / 10_000;
}

/** An operator's payout statement for one month in one currency. */
export interface PayoutStatement {
  operatorId: string;
  period: Period;
  currency: string;
  rows: PayoutRow[];
  totals: { gpuSeconds: number; grossMinor: number; feeMinor: number; netMinor: number };
  /** Per node: the month's anomaly count and reliability (the money above is accepted usage only). */
  nodes?: NodeReliability[];
}

/** The operator's payout statements for one month (by billing period), one per currency. */
export function buildPayoutStatements(input: {
  transactions: Iterable<Transaction>;
  operatorId: string;
  period: Period;
}): PayoutStatement[] {
  parsePeriod(input.period);
  const lines = activeLines(
    input.transactions,
    (s) => s.latest.operatorId === input.operatorId && s.latest.billingPeriod === input.period,
  );
  const currencies = [...new Set(lines.map((s) => s.currency))].sort(cmpStr);
  return currencies.map((currency) => {
    const rows = new Map<string, PayoutRow>();
    for (const s of lines) {
      if (s.currency !== currency) continue;
      const key = `${s.latest.siteId}\u0000${s.latest.gpuModel}`;
      const r = rows.get(key) ?? {
        siteId: s.latest.siteId,
        country: s.latest.country,
        gpuModel: s.latest.gpuModel,
        gpuSeconds: 0,
        grossMinor: 0,
        feeMinor: 0,
        netMinor: 0,
      };
      r.gpuSeconds += s.gpuSeconds;
      r.grossMinor += s.grossMinor;
      r.feeMinor += s.feeMinor;
      r.netMinor = r.grossMinor - r.feeMinor;
      rows.set(key, r);
    }
    const sorted = [...rows.values()].sort(
      (a, b) => cmpStr(a.siteId, b.siteId) || cmpStr(a.gpuModel, b.gpuModel),
    );
    const sum = (f: (r: PayoutRow) => number): number => sorted.reduce((s, r) => s + f(r), 0);
    return {
      operatorId: input.operatorId,
      period: input.period,
      currency,
      rows: sorted,
      totals: {
        gpuSeconds: sum((r) => r.gpuSeconds),
        grossMinor: sum((r) => r.grossMinor),
        feeMinor: sum((r) => r.feeMinor),
        netMinor: sum((r) => r.netMinor),
      },
    };
  });
}
