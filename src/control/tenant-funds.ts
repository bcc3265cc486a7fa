import {
  displayBalance,
  tenantAccount,
  vatTreatment,
  type RunningBurn,
  type TenantFunds,
} from "../ledger/index.js";
import type { LeaseRecord, TenantRecord } from "../store/index.js";
import type { Ctx } from "./context.js";

const LIVE_LEASE_STATES = new Set(["assigned", "running"]);

/**
 * Funds and running burns of tenants (all tenants with live leases, plus those named), in the
 * marketplace's currency: what spend decisions and admission weigh; `active` reuses a read.
 */
export async function fundsAndBurns(
  ctx: Ctx,
  tenantIds?: readonly string[],
  active?: readonly LeaseRecord[],
): Promise<{ funds: TenantFunds[]; burns: Map<string, RunningBurn[]> }> {
  const live = (active ?? (await ctx.store.jobs.activeLeases())).filter(
    (l) =>
      LIVE_LEASE_STATES.has(l.state) &&
      l.stopRequestedAt == null &&
      (!tenantIds || tenantIds.includes(l.tenantId)),
  );
  const ids = new Set([...(tenantIds ?? []), ...live.map((l) => l.tenantId)]);
  const tenants = new Map<string, TenantRecord>();
  for (const id of ids) {
    const t = await ctx.store.accounts.getTenant(id);
    if (t) tenants.set(id, t);
  }
  const accounts = [...tenants.keys()].map(tenantAccount);
  const raw = new Map(
    (await ctx.store.ledger.balances(accounts))
      .filter((b) => b.currency === ctx.config.currency)
      .map((b) => [b.account, b.rawMinor]),
  );
  const funds = [...tenants.values()].map((t) => ({
    tenantId: t.id,
    balanceMinor: displayBalance(tenantAccount(t.id), raw.get(tenantAccount(t.id)) ?? 0),
    creditLimitMinor: t.creditLimitMinor,
  }));
  const burns = new Map<string, RunningBurn[]>();
  for (const l of live) {
    const t = tenants.get(l.tenantId);
    if (!t) continue;
    const vat = vatTreatment({ siteCountry: l.country, tenantCountry: t.country, tenantVatId: t.vatId });
    const list = burns.get(l.tenantId) ?? [];
    list.push({
      leaseId: l.id,
      gpus: Math.max(1, l.gpuIndices.length),
      priceMinorPerGpuHour: l.priceMinorPerGpuHour,
      vatRateBps: vat.rateBps,
    });
    burns.set(l.tenantId, list);
  }
  return { funds, burns };
}
