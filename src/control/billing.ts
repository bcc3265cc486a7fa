import { billableGpuSeconds, costMinor, type UsageRecord } from "../domain/index.js";
import type { LeaseRecord } from "../store/index.js";

/**
 * Billing window of a lease: from its start to the first of (stop requested, ended).
 * A tenant's cancel, a preemption or a curtailment stops billing at the moment it is asked for;
 * the grace period the workload gets to checkpoint is not billed.
 */
export function billingWindow(
  lease: Pick<LeaseRecord, "startedAt" | "endedAt" | "stopRequestedAt">,
): { from: number; to: number } | null {
  if (lease.startedAt == null) return null;
  const ends = [lease.stopRequestedAt, lease.endedAt].filter((x): x is number => x != null);
  return { from: lease.startedAt, to: ends.length ? Math.min(...ends) : Number.POSITIVE_INFINITY };
}

/** GPU-milliseconds of one record inside a window (pro rata, rounded down to the millisecond). */
export function clipGpuMs(
  r: Pick<UsageRecord, "fromMs" | "toMs" | "gpuMs">,
  w: { from: number; to: number },
): number {
  if (r.toMs <= r.fromMs) return r.fromMs >= w.from && r.fromMs < w.to ? r.gpuMs : 0;
  const overlap = Math.min(r.toMs, w.to) - Math.max(r.fromMs, w.from);
  if (overlap <= 0) return 0;
  if (overlap >= r.toMs - r.fromMs) return r.gpuMs;
  return Number((BigInt(r.gpuMs) * BigInt(overlap)) / BigInt(r.toMs - r.fromMs));
}

/** One bill line: one lease's metered use at its locked price. */
export interface LeaseCharge {
  leaseId: string;
  jobId: string;
  siteId: string;
  country: string;
  gpuModel: string;
  gpus: number;
  class: string;
  priceMinorPerGpuHour: number;
  meteredGpuMs: number;
  billedGpuMs: number;
  gpuSeconds: number;
  costMinor: number;
  energyWh: number;
  energySource: "measured" | "modelled" | "none";
}

/** Computes a lease's charge from its usage records (deduplicated by node and seq). */
export function chargeForLease(lease: LeaseRecord, records: UsageRecord[]): LeaseCharge {
  const seen = new Set<string>();
  const w = billingWindow(lease);
  let metered = 0;
  let billed = 0;
  let energyMilliWh = 0;
  let source = "none" as LeaseCharge["energySource"];
  for (const r of records) {
    if (r.leaseId !== lease.id) continue;
    const key = `${r.nodeId}:${r.seq}`;
    if (seen.has(key)) continue;
    seen.add(key);
    metered += r.gpuMs;
    energyMilliWh += r.energyMilliWh;
    source = r.energySource === "measured" || source === "measured" ? "measured" : "modelled";
    if (w) billed += clipGpuMs(r, w);
  }
  const gpuSeconds = billableGpuSeconds(billed);
  return {
    leaseId: lease.id,
    jobId: lease.jobId,
    siteId: lease.siteId,
    country: lease.country,
    gpuModel: lease.gpuModel,
    gpus: lease.gpuIndices.length,
    class: lease.class,
    priceMinorPerGpuHour: lease.priceMinorPerGpuHour,
    meteredGpuMs: metered,
    billedGpuMs: billed,
    gpuSeconds,
    costMinor: costMinor(gpuSeconds, lease.priceMinorPerGpuHour),
    energyWh: energyMilliWh / 1000,
    energySource: source,
  };
}
