/**
 * Usage to charges.
 *
 * THE DESIGN (also in docs/billing.md):
 * 1. Usage records are deduplicated by (nodeId, seq). Two different records under one key are a
 *    conflict: the one with more GPU-ms wins (ties: the smaller canonical JSON), whatever the arrival
 *    order, and the conflict is reported.
 * 2. A record belongs to the UTC month in which its interval starts (`fromMs`): its usage period.
 * 3. A charge LINE is (lease, usage period, billing period). The billing period is the usage period
 *    while that month is open, or else the next open month (late usage, with a note).
 * 4. For each (lease, usage period) the run sums the GPU-ms of all records, S, and rounds ONCE by
 *    money.ts: total GPU-seconds = billableGpuSeconds(S). Lines in other (closed) billing periods
 *    are frozen; the open line's target is the rest: GPU-ms = S - frozen GPU-ms, GPU-seconds =
 *    total GPU-seconds - frozen GPU-seconds, gross = costMinor(GPU-seconds, locked price), fee =
 *    feeMinor(gross), VAT = vatMinor(gross, rate).
 * 5. What is posted is the DELTA between that target and what the line's earlier transactions
 *    already posted. Targets depend only on the set of records, so running again posts nothing,
 *    running after every batch or once at the end ends at the same balances, and the order and
 *    duplicates of records do not matter. The idempotency key is (line, number of earlier
 *    transactions on the line): two runs racing from the same ledger state produce the same key
 *    and the store keeps one.
 */
import type { JobClass, UsageRecord } from "../domain/types.js";
import { invalid } from "../domain/errors.js";
import { billableGpuSeconds, costMinor, divRoundHalfUp } from "../domain/money.js";
import { operatorPayable, PLATFORM_FEES, tenantAccount, vatPayable } from "./accounts.js";
import { canonicalJson, cmpStr } from "./canonical.js";
import type { Period } from "./periods.js";
import { billingPeriodFor, periodOf } from "./periods.js";
import type { Posting, Transaction, UsageLine } from "./postings.js";
import { makeTransaction } from "./postings.js";
import type { VatRateTable, VatTreatment } from "./vat.js";
import { vatMinor, vatTreatment } from "./vat.js";

/** What billing needs to know of a lease (price, place and fee locked at its start). */
export interface BillableLease {
  id: string;
  jobId: string;
  tenantId: string;
  operatorId: string;
  siteId: string;
  /** Country of the site. */
  country: string;
  gpuModel: string;
  class: JobClass;
  priceMinorPerGpuHour: number;
  currency: string;
  /** Marketplace fee for this lease in basis points; defaults to the run's `feeBps`. */
  feeBps?: number;
}

/** A tenant's tax identity. */
export interface TenantTaxProfile {
  tenantId: string;
  /** ISO 3166-1 alpha-2 country of establishment. */
  country: string;
  vatId?: string | null;
}

/** Settings of a charge run. */
export interface ChargeConfig {
  /** Default marketplace fee in basis points of the gross (1500 = 15 %). */
  feeBps: number;
  /** Months already invoiced; late usage for them goes to the next open month. */
  closedPeriods: ReadonlySet<Period>;
  vatRateOverrides?: VatRateTable;
  b2c?: "supplier-country" | "customer-country";
}

/** Marketplace fee on a gross amount: gross x bps / 10000, rounded half up; the operator gets the rest. */
export function feeMinor(grossMinor: number, feeBps: number): number {
  if (!Number.isSafeInteger(grossMinor) || grossMinor < 0)
    throw invalid(`gross must be a non-negative integer of minor units, got ${grossMinor}`, {
      field: "grossMinor",
    });
  if (!Number.isSafeInteger(feeBps) || feeBps < 0 || feeBps > 10_000)
    throw invalid(`feeBps must be an integer from 0 to 10000 (basis points of the gross), got ${feeBps}`, {
      field: "feeBps",
    });
  return Number(divRoundHalfUp(BigInt(grossMinor) * BigInt(feeBps), 10_000n));
}

function badRecord(i: number, name: string, msg: string): never {
  throw invalid(`usage[${i}].${name} ${msg}`, { field: `usage[${i}].${name}` });
}

function checkRecord(r: UsageRecord, i: number): void {
  if (typeof r.nodeId !== "string" || r.nodeId.length === 0)
    badRecord(i, "nodeId", "must be a non-empty string");
  if (!Number.isSafeInteger(r.seq) || r.seq < 0)
    badRecord(i, "seq", `must be a non-negative integer, got ${r.seq}`);
  if (typeof r.leaseId !== "string" || r.leaseId.length === 0)
    badRecord(i, "leaseId", "must be a non-empty string");
  if (!Number.isSafeInteger(r.fromMs) || r.fromMs < 0)
    badRecord(i, "fromMs", `must be epoch milliseconds, got ${r.fromMs}`);
  if (!Number.isSafeInteger(r.toMs) || r.toMs < r.fromMs)
    badRecord(i, "toMs", `must be epoch milliseconds >= fromMs, got ${r.toMs}`);
  if (!Number.isSafeInteger(r.gpuMs) || r.gpuMs < 0)
    badRecord(i, "gpuMs", `must be a non-negative integer, got ${r.gpuMs}`);
  if (!Number.isSafeInteger(r.energyMilliWh) || r.energyMilliWh < 0)
    badRecord(i, "energyMilliWh", `must be a non-negative integer, got ${r.energyMilliWh}`);
}

/** Records after dedupe, and the keys whose copies disagreed. */
export interface DedupedUsage {
  records: UsageRecord[];
  /** "nodeId#seq" of keys seen with different contents. */
  conflicts: string[];
}

/** Dedupes records by (nodeId, seq); which copy wins is independent of order (rule 1 above); records in first-seen order. */
export function dedupeUsage(usage: readonly UsageRecord[]): DedupedUsage {
  // Canonical JSON is only computed for keys seen more than once (rare), to keep the common path fast.
  const byKey = new Map<string, { rec: UsageRecord; canon: string | null; conflict: boolean }>();
  usage.forEach((r, i) => {
    checkRecord(r, i);
    const key = `${r.nodeId}#${r.seq}`;
    const prev = byKey.get(key);
    if (!prev) {
      byKey.set(key, { rec: r, canon: null, conflict: false });
      return;
    }
    prev.canon ??= canonicalJson(prev.rec);
    const canon = canonicalJson(r);
    if (prev.canon === canon) return;
    const wins = r.gpuMs > prev.rec.gpuMs || (r.gpuMs === prev.rec.gpuMs && canon < prev.canon);
    byKey.set(key, wins ? { rec: r, canon, conflict: true } : { ...prev, conflict: true });
  });
  const records: UsageRecord[] = [];
  const conflicts: string[] = [];
  for (const [k, v] of byKey) {
    records.push(v.rec);
    if (v.conflict) conflicts.push(k);
  }
  return { records, conflicts: conflicts.sort(cmpStr) };
}

/** Metered totals of one lease in one usage period. */
export interface UsageTotal {
  leaseId: string;
  usagePeriod: Period;
  gpuMs: number;
  energyMilliWh: number;
  records: number;
}

/** Sums deduped records per (lease, usage period), sorted by lease then period. */
export function aggregateUsage(records: readonly UsageRecord[]): UsageTotal[] {
  const m = new Map<string, UsageTotal>();
  for (const r of records) {
    const usagePeriod = periodOf(r.fromMs);
    const key = `${r.leaseId}\u0000${usagePeriod}`;
    const t = m.get(key);
    if (t) {
      t.gpuMs += r.gpuMs;
      t.energyMilliWh += r.energyMilliWh;
      t.records += 1;
    } else
      m.set(key, {
        leaseId: r.leaseId,
        usagePeriod,
        gpuMs: r.gpuMs,
        energyMilliWh: r.energyMilliWh,
        records: 1,
      });
  }
  return [...m.values()].sort((a, b) => cmpStr(a.leaseId, b.leaseId) || cmpStr(a.usagePeriod, b.usagePeriod));
}

/** A line's state: the sums of all its transactions' deltas and the latest metadata. */
export interface LineState {
  key: string;
  /** The line metadata of the transaction with the highest lineSeq. */
  latest: UsageLine;
  currency: string;
  transactions: number;
  gpuMs: number;
  gpuSeconds: number;
  grossMinor: number;
  feeMinor: number;
  vatMinor: number;
  /** VAT posted per country over the line's life. */
  vatByCountry: Map<string, number>;
}

/** Identifies a charge line. */
export function lineKey(leaseId: string, usagePeriod: Period, billingPeriod: Period): string {
  return `${leaseId}:${usagePeriod}:${billingPeriod}`;
}

/** Folds the usage lines of transactions (in any order) into line states, keyed by lineKey. */
export function lineStates(transactions: Iterable<Transaction>): Map<string, LineState> {
  const m = new Map<string, LineState>();
  for (const t of transactions) {
    const l = t.line;
    if (!l) continue;
    const key = lineKey(l.leaseId, l.usagePeriod, l.billingPeriod);
    let s = m.get(key);
    if (!s) {
      s = {
        key,
        latest: l,
        currency: t.postings[0]!.currency,
        transactions: 0,
        gpuMs: 0,
        gpuSeconds: 0,
        grossMinor: 0,
        feeMinor: 0,
        vatMinor: 0,
        vatByCountry: new Map(),
      };
      m.set(key, s);
    }
    s.transactions += 1;
    s.gpuMs += l.gpuMs;
    s.gpuSeconds += l.gpuSeconds;
    s.grossMinor += l.grossMinor;
    s.feeMinor += l.feeMinor;
    s.vatMinor += l.vatMinor;
    for (const p of t.postings) {
      if (!p.account.startsWith("tax:vat:")) continue;
      const c = p.account.slice("tax:vat:".length);
      // VAT payable is credit-normal: a credit (negative) posting is VAT charged.
      s.vatByCountry.set(c, (s.vatByCountry.get(c) ?? 0) - p.amountMinor);
    }
    if (l.lineSeq > s.latest.lineSeq || (l.lineSeq === s.latest.lineSeq && t.kind === "correction"))
      s.latest = l;
  }
  return m;
}

/** Settings and context shared by both charge entry points. */
export interface ChargeContext {
  /** The ledger so far; only transactions with a usage line matter, and only those of the leases charged. */
  ledger: Iterable<Transaction>;
  leases: readonly BillableLease[];
  tenants: readonly TenantTaxProfile[];
  config: ChargeConfig;
  /** Epoch ms stamped on the new transactions. */
  at: number;
}

/** Input of a charge run from raw records. */
export interface ChargeRunInput extends ChargeContext {
  /** Every usage record known for the leases to charge: any order, duplicates welcome. */
  usage: readonly UsageRecord[];
}

/** Output of a charge run. */
export interface ChargeRunResult {
  /** New transactions to append, in a deterministic order. */
  transactions: Transaction[];
  /** Usage whose lease is unknown: not billed yet, to be retried once the lease is known. */
  unbilled: UsageTotal[];
  /** Duplicate keys whose copies disagreed. */
  conflicts: string[];
  /** Remarks worth logging (e.g. a line that would go negative and was held at zero). */
  notes: string[];
}

/** What a charge line should stand at after a run. */
export interface Target {
  gpuMs: number;
  gpuSeconds: number;
  grossMinor: number;
  feeMinor: number;
  vat: VatTreatment;
  vatMinor: number;
  note: string | undefined;
}

/** Computes the transactions that bring every charge line to its target (see the design above). */
export function chargeUsage(input: ChargeRunInput): ChargeRunResult {
  const { records, conflicts } = dedupeUsage(input.usage);
  return { ...chargeTotals({ ...input, totals: aggregateUsage(records) }), conflicts };
}

/**
 * The same from per-(lease, usage period) totals of DISTINCT records (e.g. summed by the store with
 * SQL over a table whose primary key is (nodeId, seq)). Each total must cover all the records of
 * its lease and month, not an increment.
 */
export function chargeTotals(
  input: ChargeContext & { totals: readonly UsageTotal[] },
): Omit<ChargeRunResult, "conflicts"> {
  const { config } = input;
  if (!Number.isSafeInteger(input.at) || input.at < 0)
    throw invalid("at must be epoch milliseconds", { field: "at" });
  feeMinor(0, config.feeBps);
  const leases = new Map(input.leases.map((l) => [l.id, l]));
  const tenants = new Map(input.tenants.map((t) => [t.tenantId, t]));
  const states = lineStates(input.ledger);
  const byUsage = new Map<string, LineState[]>();
  for (const s of states.values()) {
    const k = `${s.latest.leaseId}\u0000${s.latest.usagePeriod}`;
    byUsage.set(k, [...(byUsage.get(k) ?? []), s]);
  }
  const out: Transaction[] = [];
  const unbilled: UsageTotal[] = [];
  const notes: string[] = [];
  const seenTotals = new Set<string>();
  input.totals.forEach((t, i) => {
    if (!Number.isSafeInteger(t.gpuMs) || t.gpuMs < 0)
      throw invalid(`totals[${i}].gpuMs must be a non-negative integer, got ${t.gpuMs}`, {
        field: `totals[${i}].gpuMs`,
      });
    const k = `${t.leaseId}\u0000${t.usagePeriod}`;
    if (seenTotals.has(k))
      throw invalid(
        `totals[${i}] repeats lease ${t.leaseId} in ${t.usagePeriod}; give one total per lease and month`,
        {
          field: `totals[${i}]`,
        },
      );
    seenTotals.add(k);
  });
  const totals = [...input.totals].sort(
    (a, b) => cmpStr(a.leaseId, b.leaseId) || cmpStr(a.usagePeriod, b.usagePeriod),
  );
  for (const total of totals) {
    const lease = leases.get(total.leaseId);
    if (!lease) {
      unbilled.push(total);
      continue;
    }
    const tenant = tenants.get(lease.tenantId);
    if (!tenant)
      throw invalid(`no tax profile for tenant ${lease.tenantId} (lease ${lease.id}): pass it in tenants`, {
        field: "tenants",
        tenantId: lease.tenantId,
      });
    const billing = billingPeriodFor(total.usagePeriod, config.closedPeriods);
    const key = lineKey(lease.id, total.usagePeriod, billing.period);
    let frozenMs = 0;
    let frozenSec = 0;
    for (const s of byUsage.get(`${lease.id}\u0000${total.usagePeriod}`) ?? []) {
      if (s.key === key) continue;
      frozenMs += s.gpuMs;
      frozenSec += s.gpuSeconds;
    }
    let gpuMs = total.gpuMs - frozenMs;
    let gpuSeconds = billableGpuSeconds(total.gpuMs) - frozenSec;
    if (gpuMs < 0 || gpuSeconds < 0) {
      notes.push(`line ${key}: closed periods already carry more usage than metered now; held at zero`);
      gpuMs = Math.max(0, gpuMs);
      gpuSeconds = Math.max(0, gpuSeconds);
    }
    const feeBps = lease.feeBps ?? config.feeBps;
    const grossMinor = costMinor(gpuSeconds, lease.priceMinorPerGpuHour);
    const vat = vatTreatment({
      siteCountry: lease.country,
      tenantCountry: tenant.country,
      tenantVatId: tenant.vatId ?? null,
      ...(config.vatRateOverrides ? { rateOverrides: config.vatRateOverrides } : {}),
      ...(config.b2c ? { b2c: config.b2c } : {}),
    });
    const target: Target = {
      gpuMs,
      gpuSeconds,
      grossMinor,
      feeMinor: feeMinor(grossMinor, feeBps),
      vat,
      vatMinor: vatMinor(grossMinor, vat.rateBps),
      note: billing.note,
    };
    const tx = deltaTransaction(
      lease,
      feeBps,
      total.usagePeriod,
      billing.period,
      target,
      states.get(key),
      input.at,
    );
    if (tx) out.push(tx);
  }
  return { transactions: out, unbilled, notes };
}

/** The transaction moving a line from what was posted to its target (null when nothing moves). */
export function deltaTransaction(
  lease: BillableLease,
  feeBps: number,
  usagePeriod: Period,
  billingPeriod: Period,
  t: Target,
  posted: LineState | undefined,
  at: number,
): Transaction | null {
  const p = posted ?? {
    gpuMs: 0,
    gpuSeconds: 0,
    grossMinor: 0,
    feeMinor: 0,
    vatMinor: 0,
    vatByCountry: new Map(),
    transactions: 0,
  };
  if (posted && posted.currency !== lease.currency)
    throw invalid(
      `lease ${lease.id} changed currency from ${posted.currency} to ${lease.currency}; prices are locked`,
      {
        field: "currency",
      },
    );
  const d = {
    gpuMs: t.gpuMs - p.gpuMs,
    gpuSeconds: t.gpuSeconds - p.gpuSeconds,
    grossMinor: t.grossMinor - p.grossMinor,
    feeMinor: t.feeMinor - p.feeMinor,
  };
  const vatTargets = new Map<string, number>(p.vatByCountry);
  for (const c of vatTargets.keys()) vatTargets.set(c, 0);
  if (t.vat.country !== null) vatTargets.set(t.vat.country, t.vatMinor);
  const vatDeltas = [...vatTargets.entries()]
    .map(([c, target]) => [c, target - (p.vatByCountry.get(c) ?? 0)] as const)
    .filter(([, v]) => v !== 0)
    .sort((a, b) => cmpStr(a[0], b[0]));
  const dVat = vatDeltas.reduce((s, [, v]) => s + v, 0);
  const treatmentChanged =
    posted !== undefined &&
    (posted.latest.vat.kind !== t.vat.kind ||
      posted.latest.vat.rateBps !== t.vat.rateBps ||
      posted.latest.vat.country !== t.vat.country);
  const moved = d.gpuMs !== 0 || d.gpuSeconds !== 0 || d.grossMinor !== 0 || d.feeMinor !== 0 || dVat !== 0;
  if (!moved && !treatmentChanged) return null;
  const lineSeq = p.transactions;
  const postings: Posting[] = [
    { account: tenantAccount(lease.tenantId), amountMinor: d.grossMinor + dVat, currency: lease.currency },
    {
      account: operatorPayable(lease.operatorId),
      amountMinor: 0 - (d.grossMinor - d.feeMinor),
      currency: lease.currency,
    },
  ];
  if (d.feeMinor !== 0)
    postings.push({ account: PLATFORM_FEES, amountMinor: 0 - d.feeMinor, currency: lease.currency });
  for (const [c, v] of vatDeltas)
    postings.push({ account: vatPayable(c), amountMinor: 0 - v, currency: lease.currency });
  const key = `usage-charge:${lineKey(lease.id, usagePeriod, billingPeriod)}:${lineSeq}`;
  const line: UsageLine = {
    leaseId: lease.id,
    jobId: lease.jobId,
    tenantId: lease.tenantId,
    operatorId: lease.operatorId,
    siteId: lease.siteId,
    country: lease.country,
    gpuModel: lease.gpuModel,
    class: lease.class,
    priceMinorPerGpuHour: lease.priceMinorPerGpuHour,
    feeBps,
    usagePeriod,
    billingPeriod,
    lineSeq,
    vat: { kind: t.vat.kind, rateBps: t.vat.rateBps, country: t.vat.country },
    gpuMs: d.gpuMs,
    gpuSeconds: d.gpuSeconds,
    grossMinor: d.grossMinor,
    feeMinor: d.feeMinor,
    vatMinor: dVat,
    ...(t.note ? { note: t.note } : {}),
  };
  return makeTransaction({
    id: key,
    at,
    kind: "usage-charge",
    idempotencyKey: key,
    postings,
    references: { leaseId: lease.id, jobId: lease.jobId, usagePeriod, billingPeriod },
    memo: `${t.gpuSeconds} GPU-s of ${lease.gpuModel} at ${lease.siteId} for lease ${lease.id}, ${usagePeriod}${
      t.note ? ` (${t.note})` : ""
    }`,
    line,
  });
}
