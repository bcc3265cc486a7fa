/**
 * Invoice reads served from the ledger as the charge runs posted it. Building an invoice reads the
 * month's posted transactions and meters the energy of its jobs (each site and month once); the
 * result is kept per (tenant, customer details, month, currency) until anything new is posted to the
 * ledger or `maxAgeMs` passes, and concurrent identical requests share one computation.
 */
import { buildInvoices, normalizeVatId, type Invoice, type InvoiceEnergy } from "../ledger/index.js";
import type { JobEnergy } from "../energy/index.js";
import type { TenantRecord } from "../store/index.js";
import type { Ctx, Principal } from "./context.js";
import { EnergyService } from "./energy-service.js";

/** Settings of the invoice cache. */
export interface InvoiceReadOptions {
  /** Longest an invoice is served without rebuilding it (energy inputs such as contracts post nothing). */
  maxAgeMs?: number;
  /** Most invoices kept; the oldest go first. */
  maxEntries?: number;
}

interface Entry {
  seq: number;
  at: number;
  value: Promise<Invoice>;
}

/** Cached, single-flight invoice reads; `catchUp` brings the ledger up to date with the usage received. */
export class InvoiceReads {
  private readonly cache = new Map<string, Entry>();
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  /** Invoices built (not served from the cache), for tests and the benchmark. */
  builds = 0;

  constructor(
    private readonly ctx: Ctx,
    private readonly catchUp: () => Promise<unknown>,
    opts: InvoiceReadOptions = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 1_000;
  }

  /** The tenant's invoice for a month in one currency, as the ledger stands after an incremental charge run. */
  async invoice(tenant: TenantRecord, month: string, currency: string): Promise<Invoice> {
    await this.catchUp();
    const seq = await this.ctx.store.ledger.lastSeq();
    const now = this.ctx.clock.now();
    const key = JSON.stringify([tenant.id, tenant.country, tenant.vatId, month, currency]);
    const hit = this.cache.get(key);
    if (hit && hit.seq === seq && now - hit.at < this.maxAgeMs && now >= hit.at) return hit.value;
    const value = this.build(tenant, month, currency, "batched");
    this.cache.delete(key);
    this.cache.set(key, { seq, at: now, value });
    value.catch(() => {
      if (this.cache.get(key)?.value === value) this.cache.delete(key);
    });
    for (const k of this.cache.keys()) {
      if (this.cache.size <= this.maxEntries) break;
      this.cache.delete(k);
    }
    return value;
  }

  /**
   * Builds the invoice from the posted transactions. `energy: "per-job"` meters every job on its own,
   * as invoices did before they were cached (the reference tests and the benchmark compare with).
   */
  async build(
    tenant: TenantRecord,
    month: string,
    currency: string,
    energy: "batched" | "per-job",
  ): Promise<Invoice> {
    this.builds += 1;
    const transactions = await this.ctx.store.ledger.transactions({
      tenantId: tenant.id,
      billingPeriod: month,
    });
    const customer = { country: tenant.country, vatId: tenant.vatId };
    const inv =
      buildInvoices({ transactions, tenantId: tenant.id, period: month, customer }).find(
        (i) => i.currency === currency,
      ) ?? emptyInvoice(tenant.id, month, currency, customer);
    const jobIds = [...new Set(inv.lines.map((l) => l.jobId))].sort();
    const sites = energy === "batched" ? await this.batchedSites(jobIds) : await this.perJobSites(jobIds);
    const out: InvoiceEnergy[] = [];
    for (const jobId of jobIds)
      out.push(...energyLines(tenant.id, inv.period, jobId, sites.get(jobId) ?? []));
    return { ...inv, energy: out };
  }

  private batchedSites(jobIds: readonly string[]): Promise<Map<string, JobEnergy[]>> {
    return new EnergyService(this.ctx).jobsSites(jobIds);
  }

  private async perJobSites(jobIds: readonly string[]): Promise<Map<string, JobEnergy[]>> {
    const energy = new EnergyService(this.ctx);
    const admin: Principal = { role: "admin", ownerId: null, keyId: "ledger" };
    const out = new Map<string, JobEnergy[]>();
    for (const jobId of jobIds) {
      const e = await energy.jobEnergy(admin, jobId).catch(() => undefined);
      if (e) out.set(jobId, e.sites);
    }
    return out;
  }
}

/** A job's energy lines on an invoice: its sites' figures for the invoice's month, for that tenant. */
function energyLines(
  tenantId: string,
  period: string,
  jobId: string,
  sites: readonly JobEnergy[],
): InvoiceEnergy[] {
  const out: InvoiceEnergy[] = [];
  for (const site of sites) {
    const line = site.lines.find((l) => l.month === period);
    if (!line || site.tenantId !== tenantId) continue;
    out.push({
      jobId,
      siteId: site.siteId,
      facilityKwh: round6(line.facilityKwh),
      locationKgCo2e: round6(line.locationKgCo2e),
      marketKgCo2e: round6(line.marketKgCo2e),
    });
  }
  return out;
}

function emptyInvoice(
  tenantId: string,
  period: string,
  currency: string,
  customer: { country: string; vatId: string | null },
): Invoice {
  return {
    number: `${tenantId}-${period}-${currency}`,
    tenantId,
    period,
    currency,
    customer: { country: customer.country, vatId: customer.vatId ? normalizeVatId(customer.vatId) : null },
    lines: [],
    vat: [],
    totals: { gpuSeconds: 0, netMinor: 0, vatMinor: 0, totalMinor: 0 },
    notes: [],
  };
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
