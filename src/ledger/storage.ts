/**
 * Storage charges: a volume is billed for its declared size per GB-hour, through the same charge
 * lines as GPU time (so invoices, VAT, fees and payouts carry it).
 *
 * A volume's line is (`storage:<volume id>`, usage month, billing month). Its target is the charge
 * for the size over the part of the month from the volume's creation to the last whole UTC hour (or
 * its deletion): size/1e9 GB × hours × price per GB-month / 730, rounded half up ONCE per line
 * (storageChargeMinor), so hourly runs add up exactly to one computation over the month. What is
 * posted is the delta from the line's earlier transactions, under the key
 * `storage-charge:<volume>:<usage month>:<through hour>`: a run repeated (a restart, a second
 * replica) computes the same delta under the same key, and the store keeps one.
 */
import { invalid } from "../domain/errors.js";
import { civilFromMs } from "../domain/calendar.js";
import { storageChargeMinor } from "../domain/volumes.js";
import type { ChargeConfig, TenantTaxProfile } from "./charges.js";
import { deltaTransaction, feeMinor, lineKey, lineStates } from "./charges.js";
import { billingPeriodFor, nextPeriod, periodBounds, periodOf } from "./periods.js";
import { makeTransaction, type Transaction } from "./postings.js";
import { vatMinor, vatTreatment } from "./vat.js";

const HOUR_MS = 3_600_000;
const pad = (n: number): string => String(n).padStart(2, "0");

/** UTC "YYYY-MM-DDTHH:MMZ" of an instant (the charge keys and memos), from the one civil calendar. */
function utcMinute(ms: number): string {
  const { y, m, d } = civilFromMs(ms);
  const inDay = ((ms % 86_400_000) + 86_400_000) % 86_400_000;
  return `${y}-${pad(m)}-${pad(d)}T${pad(Math.floor(inDay / HOUR_MS))}:${pad(Math.floor((inDay % HOUR_MS) / 60_000))}Z`;
}

/** What billing needs to know of a volume (price, place and size locked at creation). */
export interface BillableVolume {
  id: string;
  name: string;
  tenantId: string;
  operatorId: string;
  siteId: string;
  country: string;
  sizeBytes: number;
  priceMinorPerGbMonth: number;
  currency: string;
  createdAt: number;
  deletedAt: number | null;
}

/** The charge line id of a volume (in the place of a lease id). */
export function storageLineId(volumeId: string): string {
  return `storage:${volumeId}`;
}

/** Storage charges due at `now` for the volumes: new transactions (deltas), in a deterministic order. */
export function storageCharges(input: {
  ledger: Iterable<Transaction>;
  volumes: readonly BillableVolume[];
  tenants: readonly TenantTaxProfile[];
  config: ChargeConfig;
  now: number;
}): Transaction[] {
  const { config, now } = input;
  const states = lineStates(input.ledger);
  const tenants = new Map(input.tenants.map((t) => [t.tenantId, t]));
  const out: Transaction[] = [];
  for (const v of [...input.volumes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const tenant = tenants.get(v.tenantId);
    if (!tenant)
      throw invalid(`no tax profile for tenant ${v.tenantId} (volume ${v.id})`, { field: "tenants" });
    const through = Math.min(Math.floor(now / HOUR_MS) * HOUR_MS, v.deletedAt ?? Infinity);
    const end = Math.max(v.deletedAt !== null && v.deletedAt <= now ? v.deletedAt : through, v.createdAt);
    if (end <= v.createdAt) continue;
    const feeBps = config.feeBps;
    const lease = {
      id: storageLineId(v.id),
      jobId: `volume:${v.name}`,
      tenantId: v.tenantId,
      operatorId: v.operatorId,
      siteId: v.siteId,
      country: v.country,
      gpuModel: "storage",
      class: "on-demand" as const,
      priceMinorPerGpuHour: v.priceMinorPerGbMonth,
      currency: v.currency,
    };
    for (let month = periodOf(v.createdAt); periodBounds(month).startMs < end; month = nextPeriod(month)) {
      const b = periodBounds(month);
      const from = Math.max(v.createdAt, b.startMs);
      const to = Math.min(end, b.endMs);
      if (to <= from) continue;
      const billing = billingPeriodFor(month, config.closedPeriods);
      const key = lineKey(lease.id, month, billing.period);
      // Months already invoiced keep what they carry; the rest lands on the open month's line.
      let frozen = 0;
      for (const s of states.values())
        if (s.latest.leaseId === lease.id && s.latest.usagePeriod === month && s.key !== key)
          frozen += s.grossMinor;
      const grossMinor = Math.max(
        0,
        storageChargeMinor(v.sizeBytes, to - from, v.priceMinorPerGbMonth) - frozen,
      );
      const vat = vatTreatment({
        siteCountry: v.country,
        tenantCountry: tenant.country,
        tenantVatId: tenant.vatId ?? null,
        ...(config.vatRateOverrides ? { rateOverrides: config.vatRateOverrides } : {}),
        ...(config.b2c ? { b2c: config.b2c } : {}),
      });
      const posted = states.get(key);
      const tx = deltaTransaction(
        lease,
        posted?.latest.feeBps ?? feeBps,
        month,
        billing.period,
        {
          gpuMs: 0,
          gpuSeconds: 0,
          grossMinor,
          feeMinor: feeMinor(grossMinor, posted?.latest.feeBps ?? feeBps),
          vat,
          vatMinor: vatMinor(grossMinor, vat.rateBps),
          note: billing.note,
        },
        posted,
        now,
      );
      if (!tx || !tx.line) continue;
      const id = `storage-charge:${v.id}:${month}:${utcMinute(to)}`;
      out.push(
        makeTransaction({
          id,
          at: now,
          kind: "usage-charge",
          idempotencyKey: id,
          postings: tx.postings,
          references: { ...tx.references, volumeId: v.id },
          memo: `storage: volume ${v.name} (${v.sizeBytes} B) at ${v.siteId}, ${utcMinute(from)} to ${utcMinute(to)}`,
          line: {
            ...tx.line,
            storage: { volumeId: v.id, volume: v.name, sizeBytes: v.sizeBytes, fromMs: from, toMs: to },
          },
        }),
      );
    }
  }
  return out;
}
