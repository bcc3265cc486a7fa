import { DomainError, invalid } from "../domain/index.js";
import type { LeaseRecord } from "../store/index.js";
import { billingWindow, chargeForLease, type LeaseCharge } from "./billing.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";

/** A month's statement for a tenant. */
export interface Statement {
  tenantId: string;
  month: string;
  currency: string;
  lines: LeaseCharge[];
  totalGpuSeconds: number;
  totalMinor: number;
  energyWh: number;
}

/** Parses "YYYY-MM" into [start, end) epoch ms (UTC). */
export function monthRange(month: string): { from: number; to: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12)
    throw invalid(`month "${month}" is not of the form YYYY-MM, e.g. 2026-11`, { field: "month" });
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { from: Date.UTC(y, mo, 1), to: Date.UTC(y, mo + 1, 1) };
}

/** Running balances and monthly statements from metered usage. */
export class BillingService {
  constructor(private readonly ctx: Ctx) {}

  private tenantOf(p: Principal, tenantId?: string): string {
    if (p.role === "tenant") {
      if (tenantId && tenantId !== p.ownerId)
        throw new DomainError("forbidden", "a tenant can only read its own statements");
      return ownerOf(p);
    }
    requireRole(p, "admin");
    if (!tenantId) throw invalid("name the tenant: tenantId", { field: "tenantId" });
    return tenantId;
  }

  /** Charges of a tenant's leases within a window (each lease's billing window intersected with it). */
  private async charges(tenantId: string, from: number, to: number): Promise<LeaseCharge[]> {
    const leases = await this.ctx.store.jobs.leasesOverlapping(from, to, tenantId);
    const records = await this.ctx.store.usage.forLeases(leases.map((l) => l.id));
    return leases
      .map((l) => {
        const w = billingWindow(l);
        const clipped: LeaseRecord = {
          ...l,
          startedAt: Math.max(w?.from ?? from, from),
          stopRequestedAt: Math.min(w?.to ?? to, to),
        };
        return chargeForLease(clipped, records);
      })
      .filter((c) => c.meteredGpuMs > 0 || c.billedGpuMs > 0);
  }

  async statement(p: Principal, month: string, tenantId?: string): Promise<Statement> {
    const tid = this.tenantOf(p, tenantId);
    const { from, to } = monthRange(month);
    const lines = await this.charges(tid, from, to);
    return {
      tenantId: tid,
      month,
      currency: this.ctx.config.currency,
      lines,
      totalGpuSeconds: lines.reduce((a, l) => a + l.gpuSeconds, 0),
      totalMinor: lines.reduce((a, l) => a + l.costMinor, 0),
      energyWh: Math.round(lines.reduce((a, l) => a + l.energyWh, 0) * 1000) / 1000,
    };
  }

  /** Spend to date and what is left of the credit line. */
  async balance(
    p: Principal,
    tenantId?: string,
  ): Promise<{
    tenantId: string;
    currency: string;
    spentMinor: number;
    creditLimitMinor: number;
    availableMinor: number;
    runningLeases: number;
  }> {
    const tid = this.tenantOf(p, tenantId);
    const tenant = await this.ctx.store.accounts.getTenant(tid);
    const lines = await this.charges(tid, 0, this.ctx.clock.now() + 1);
    const spent = lines.reduce((a, l) => a + l.costMinor, 0);
    const running = (await this.ctx.store.jobs.activeLeases()).filter((l) => l.tenantId === tid).length;
    const limit = tenant?.creditLimitMinor ?? 0;
    return {
      tenantId: tid,
      currency: this.ctx.config.currency,
      spentMinor: spent,
      creditLimitMinor: limit,
      availableMinor: limit - spent,
      runningLeases: running,
    };
  }
}
