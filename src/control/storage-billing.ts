import { storageCharges, storageLineId, type ChargeConfig, type TenantTaxProfile } from "../ledger/index.js";
import type { Ctx } from "./context.js";

/** What one storage charge pass did. */
export interface StorageChargeSummary {
  volumes: number;
  posted: number;
  duplicates: number;
  conflicts: number;
}

/**
 * Charges volumes' storage up to the last whole hour (deleted volumes: to their deletion) through
 * the ledger (src/ledger/storage.ts), then moves each volume's billed-until mark. Safe to run again
 * or concurrently: the same hour gives the same transaction key.
 */
export async function chargeStorage(
  ctx: Ctx,
  at: number,
  config: ChargeConfig,
  taxProfiles: (ids: Set<string>) => Promise<TenantTaxProfile[]>,
): Promise<StorageChargeSummary> {
  const hour = Math.floor(at / 3_600_000) * 3_600_000;
  const due = (await ctx.store.volumes.listVolumes({ withDeleted: true })).filter((v) =>
    v.state === "deleted" ? v.billedUntil < (v.deletedAt ?? 0) : v.billedUntil < hour,
  );
  if (due.length === 0) return { volumes: 0, posted: 0, duplicates: 0, conflicts: 0 };
  const ledger = await ctx.store.ledger.transactions({ leaseIds: due.map((v) => storageLineId(v.id)) });
  const txs = storageCharges({
    ledger,
    volumes: due.map((v) => ({ ...v, currency: ctx.config.currency })),
    tenants: await taxProfiles(new Set(due.map((v) => v.tenantId))),
    config,
    now: at,
  });
  const r = await ctx.store.ledger.append(txs);
  if (r.conflicts.length === 0)
    for (const v of due) {
      const to = v.state === "deleted" ? (v.deletedAt ?? hour) : hour;
      await ctx.store.volumes.advanceBilled(v.id, v.billedUntil, Math.max(v.billedUntil, to));
    }
  return {
    volumes: due.length,
    posted: r.appended.length,
    duplicates: r.duplicates.length,
    conflicts: r.conflicts.length,
  };
}
