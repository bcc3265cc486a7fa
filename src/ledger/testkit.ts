/**
 * Builders for ledger tests and examples (no test framework inside, so examples and docs can use
 * them too): leases, tenants, usage records, and a loop that charges usage batch by batch.
 */
import type { UsageRecord } from "../domain/types.js";
import type { BillableLease, ChargeConfig, TenantTaxProfile } from "./charges.js";
import { chargeUsage } from "./charges.js";
import type { Transaction } from "./postings.js";
import { appendTransaction } from "./postings.js";

/** A lease with sensible defaults (H100 in Spain at 2.00 EUR per GPU-hour). */
export function lease(id: string, over: Partial<BillableLease> = {}): BillableLease {
  return {
    id,
    jobId: `job-${id}`,
    tenantId: "t1",
    operatorId: "op1",
    siteId: "asturias",
    country: "ES",
    gpuModel: "H100",
    class: "on-demand",
    priceMinorPerGpuHour: 200,
    currency: "EUR",
    ...over,
  };
}

/** A tenant tax profile. */
export function tenant(tenantId: string, country = "ES", vatId: string | null = null): TenantTaxProfile {
  return { tenantId, country, vatId };
}

/** A usage record. */
export function usage(
  nodeId: string,
  seq: number,
  leaseId: string,
  fromMs: number,
  gpuMs: number,
): UsageRecord {
  return {
    nodeId,
    seq,
    leaseId,
    fromMs,
    toMs: fromMs + 1000,
    gpuMs,
    energyMilliWh: Math.floor(gpuMs / 10),
    energySource: "modelled",
  };
}

/** Appends all transactions, checking each is new. */
export function appendAll(
  ledger: readonly Transaction[],
  txs: readonly Transaction[],
): readonly Transaction[] {
  let l = ledger;
  for (const t of txs) l = appendTransaction(l, t).ledger;
  return l;
}

/**
 * Feeds usage batch by batch (the union of batches so far is what the store would hold) and charges
 * after each one; `closeAfter[i]` closes periods after batch i. Returns the final ledger.
 */
export function chargeInBatches(opts: {
  batches: readonly (readonly UsageRecord[])[];
  leases: readonly BillableLease[];
  tenants: readonly TenantTaxProfile[];
  config: Omit<ChargeConfig, "closedPeriods">;
  closedPeriods?: readonly string[];
  closeAfter?: ReadonlyMap<number, readonly string[]>;
  ledger?: readonly Transaction[];
}): readonly Transaction[] {
  let ledger = opts.ledger ?? [];
  const seen: UsageRecord[] = [];
  const closed = new Set(opts.closedPeriods ?? []);
  opts.batches.forEach((batch, i) => {
    seen.push(...batch);
    const r = chargeUsage({
      ledger,
      usage: seen,
      leases: opts.leases,
      tenants: opts.tenants,
      config: { ...opts.config, closedPeriods: new Set(closed) },
      at: 1_000 + i,
    });
    ledger = appendAll(ledger, r.transactions);
    for (const p of opts.closeAfter?.get(i) ?? []) closed.add(p);
  });
  return ledger;
}
