/**
 * Spend limits. A tenant's money available = readable balance of tenant:<id> (prepaid money, which
 * goes negative as a credit line is used) + credit limit (0 for prepaid tenants). Running leases
 * burn GPUs x locked price per hour, plus VAT where it is charged. As the available money nears
 * zero the tenant's running jobs get a notice, then are stopped; and no job starts that the tenant
 * cannot pay for its first hour.
 */
import { invalid } from "../domain/errors.js";
import { vatMinor } from "./vat.js";

/** One running lease's burn. */
export interface RunningBurn {
  leaseId: string;
  gpus: number;
  priceMinorPerGpuHour: number;
  /** VAT rate charged on the lease (0 for reverse charge or outside scope); default 0. */
  vatRateBps?: number;
}

/** A tenant's money position. */
export interface TenantFunds {
  tenantId: string;
  /** Readable balance of tenant:<id> (see accounts.ts): positive = prepaid money left, negative = owed. */
  balanceMinor: number;
  /** Credit line granted; 0 (default) for a prepaid tenant. */
  creditLimitMinor?: number;
}

/** Thresholds, in minutes of burn left. */
export interface SpendPolicy {
  /** Notice when the money left covers fewer minutes than this (default 60). */
  noticeMinutes?: number;
  /**
   * Stop when it covers fewer minutes than this (default 0: stop when nothing is left). Set it to at
   * least the delay between metering and charging so a tenant cannot run into overdraft.
   */
  stopMinutes?: number;
}

/** What to do about a tenant. */
export type SpendDecisionKind = "ok" | "notice" | "stop";

/** The decision for one tenant, with its figures. */
export interface SpendDecision {
  tenantId: string;
  decision: SpendDecisionKind;
  availableMinor: number;
  burnMinorPerHour: number;
  /** Whole minutes the available money covers at the current burn; null when nothing burns. */
  minutesLeft: number | null;
  /** Leases to notify (notice) or stop (stop); empty for ok. */
  leaseIds: string[];
  reason: string;
}

function int(v: number, field: string, min = 0): number {
  if (!Number.isSafeInteger(v) || v < min)
    throw invalid(`${field} must be an integer >= ${min}, got ${v}`, { field, value: v });
  return v;
}

/** One hour of a lease: GPUs x price, plus VAT rounded half up. */
export function hourCostMinor(b: Omit<RunningBurn, "leaseId">): number {
  const gross = int(b.gpus, "gpus", 1) * int(b.priceMinorPerGpuHour, "priceMinorPerGpuHour");
  return gross + vatMinor(gross, b.vatRateBps ?? 0);
}

/** Money the tenant may still spend: balance + credit limit. */
export function availableMinor(f: TenantFunds): number {
  int(f.balanceMinor, "balanceMinor", Number.MIN_SAFE_INTEGER);
  return f.balanceMinor + int(f.creditLimitMinor ?? 0, "creditLimitMinor");
}

/** Decides ok / notice / stop for one tenant from its funds and its running leases. */
export function decideSpend(
  funds: TenantFunds,
  running: readonly RunningBurn[],
  policy: SpendPolicy = {},
): SpendDecision {
  const noticeMinutes = int(policy.noticeMinutes ?? 60, "noticeMinutes");
  const stopMinutes = int(policy.stopMinutes ?? 0, "stopMinutes");
  if (stopMinutes > noticeMinutes)
    throw invalid(`stopMinutes (${stopMinutes}) must not exceed noticeMinutes (${noticeMinutes})`, {
      field: "stopMinutes",
    });
  const available = availableMinor(funds);
  const burn = running.reduce((s, r) => s + hourCostMinor(r), 0);
  const leaseIds = running.map((r) => r.leaseId).sort();
  const base = { tenantId: funds.tenantId, availableMinor: available, burnMinorPerHour: burn };
  if (burn === 0) {
    return available < 0
      ? {
          ...base,
          decision: "stop",
          minutesLeft: null,
          leaseIds: [],
          reason: "balance below zero: new jobs are refused",
        }
      : { ...base, decision: "ok", minutesLeft: null, leaseIds: [], reason: "nothing running" };
  }
  const minutesLeft = available <= 0 ? 0 : Number((BigInt(available) * 60n) / BigInt(burn));
  if (available <= 0 || minutesLeft < stopMinutes)
    return {
      ...base,
      decision: "stop",
      minutesLeft,
      leaseIds,
      reason: `money left covers ${minutesLeft} min at ${burn} minor units/h (stop below ${stopMinutes} min)`,
    };
  if (minutesLeft < noticeMinutes)
    return {
      ...base,
      decision: "notice",
      minutesLeft,
      leaseIds,
      reason: `money left covers ${minutesLeft} min at ${burn} minor units/h (notice below ${noticeMinutes} min)`,
    };
  return {
    ...base,
    decision: "ok",
    minutesLeft,
    leaseIds: [],
    reason: `money left covers ${minutesLeft} min`,
  };
}

/** True when the tenant's available money pays for the job's first hour. */
export function canAfford(firstHourCostMinor: number, availableMinorNow: number): boolean {
  int(firstHourCostMinor, "firstHourCostMinor");
  int(availableMinorNow, "availableMinor", Number.MIN_SAFE_INTEGER);
  return firstHourCostMinor <= availableMinorNow;
}

/** Admission of a new job: its first hour must fit in what is left after the running leases' next hour. */
export function admitJob(
  funds: TenantFunds,
  running: readonly RunningBurn[],
  job: Omit<RunningBurn, "leaseId">,
): { ok: boolean; firstHourCostMinor: number; availableMinor: number; reason: string } {
  const firstHour = hourCostMinor(job);
  const available = availableMinor(funds) - running.reduce((s, r) => s + hourCostMinor(r), 0);
  const ok = canAfford(firstHour, available);
  return {
    ok,
    firstHourCostMinor: firstHour,
    availableMinor: available,
    reason: ok
      ? "the first hour is covered"
      : `the first hour costs ${firstHour} minor units but only ${available} are available after running jobs' next hour; top up or raise the credit limit`,
  };
}

/** Decisions for many tenants at once, sorted by tenant id; leases are matched by tenant id. */
export function decideSpendAll(
  funds: readonly TenantFunds[],
  runningByTenant: ReadonlyMap<string, readonly RunningBurn[]>,
  policy: SpendPolicy = {},
): SpendDecision[] {
  return [...funds]
    .sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0))
    .map((f) => decideSpend(f, runningByTenant.get(f.tenantId) ?? [], policy));
}
