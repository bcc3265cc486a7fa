/**
 * AI hosting: lease the powered, retrofitted shell to a GPU tenant under a fixed contract.
 * The tenant pays power through (so it is outside NOI); the operator keeps the NOI margin.
 */
import { emptyFlows } from "./flows.js";
import type { Flows } from "./flows.js";
import type { Levers } from "./mining.js";
import type { Scenario } from "./schema.js";

/** Contract figures of a hosting lease: revenue = contract / years; NOI = revenue x margin. */
export interface HostingUnitEconomics {
  readonly revenueUsdPerYear: number;
  readonly noiUsdPerYear: number;
  readonly revenueUsdPerMwItYear: number;
  readonly noiUsdPerMwItYear: number;
}

/** Yearly revenue and NOI of a contract, in total and per MW of IT power. */
export function hostingEconomics(h: {
  itMw: number;
  contractUsd: number;
  years: number;
  noiMargin: number;
}): HostingUnitEconomics {
  const revenue = h.contractUsd / h.years;
  const noi = revenue * h.noiMargin;
  return {
    revenueUsdPerYear: revenue,
    noiUsdPerYear: noi,
    revenueUsdPerMwItYear: revenue / h.itMw,
    noiUsdPerMwItYear: noi / h.itMw,
  };
}

/** Monthly hosting cash flows for `itMw` of IT power at the contract's rate per MW. */
export function hostingFlows(s: Scenario, itMw: number, lv: Levers): Flows {
  const h = s.hosting!;
  const months = s.horizonYears * 12;
  const f = emptyFlows(months);
  if (itMw <= 0) return f;
  const e = hostingEconomics(h);
  const monthlyRevenue = (e.revenueUsdPerMwItYear * itMw * lv.hostingFactor) / 12;
  const capex = h.capexUsdPerMwIt * itMw * lv.capexFactor;
  const paidMonths = Math.round(h.years * 12);
  f.capex[0] = capex;
  for (let k = 0; k < months; k++) {
    const paying = k >= h.buildMonths && k < h.buildMonths + paidMonths;
    if (paying) {
      f.revenue[k + 1] = monthlyRevenue;
      f.opex[k + 1] = monthlyRevenue * (1 - h.noiMargin);
    }
    f.depreciation[k + 1] = k < h.depreciationYears * 12 ? capex / (h.depreciationYears * 12) : 0;
  }
  f.residual[months] = capex * Math.max(0, 1 - s.horizonYears / h.depreciationYears);
  return f;
}
