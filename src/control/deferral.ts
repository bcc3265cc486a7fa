import { inJurisdiction } from "../domain/index.js";
import { chooseStart, type HourlySeries } from "../energy/index.js";
import type { PendingJob, SiteView } from "../scheduler/index.js";

/** A flexible job held back for a cleaner hour. */
export interface Deferred {
  jobId: string;
  untilMs: number;
  reason: string;
}

const SLACK_MS = 10 * 60_000;

/**
 * Flexible jobs (interruptible, with a deadline and a runtime estimate) wait for the cleanest
 * start their deadline allows at the sites they may use (carbon series of each site; a margin of
 * ten minutes is kept before the deadline). Jobs whose best start is now, or that have no series
 * to judge by, go to the scheduler at once. A deferred job never misses its deadline because of
 * the deferral: chooseStart never picks a start that ends after deadline minus the margin.
 */
export function deferFlexible(
  pending: PendingJob[],
  sites: SiteView[],
  carbon: Map<string, HourlySeries>,
  now: number,
): { ready: PendingJob[]; deferred: Deferred[] } {
  const ready: PendingJob[] = [];
  const deferred: Deferred[] = [];
  for (const job of pending) {
    const r = job.request;
    if (r.class !== "interruptible" || r.deadlineAt === undefined || r.runtimeEstimateS === undefined) {
      ready.push(job);
      continue;
    }
    let best: { startMs: number; g: number; nowG: number; site: string } | undefined;
    for (const site of sites) {
      const series = carbon.get(site.id);
      if (!series) continue;
      if (r.jurisdiction && !inJurisdiction(site.country, r.jurisdiction)) continue;
      if (r.countries && !r.countries.includes(site.country)) continue;
      if (!r.gpuModels.some((m) => site.prices[m])) continue;
      const c = chooseStart(
        { earliestStartMs: now, deadlineMs: r.deadlineAt, durationMs: r.runtimeEstimateS * 1000 },
        { carbon: series, objective: "carbon", marginMs: SLACK_MS },
      );
      if (!c.feasible || c.carbonGPerKwh === null) continue;
      if (!best || c.carbonGPerKwh < best.g)
        best = {
          startMs: c.startMs,
          g: c.carbonGPerKwh,
          nowG: c.nowCarbonGPerKwh ?? c.carbonGPerKwh,
          site: site.name,
        };
    }
    if (best && best.startMs - now > 5 * 60_000) {
      deferred.push({
        jobId: job.id,
        untilMs: best.startMs,
        reason: `flexible: deferred to ${new Date(best.startMs).toISOString()} for cleaner power at ${best.site} (${Math.round(best.g)} vs ${Math.round(best.nowG)} gCO2e/kWh now); the deadline ${new Date(r.deadlineAt).toISOString()} is kept`,
      });
    } else ready.push(job);
  }
  return { ready, deferred };
}
