import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  billingWindow,
  chargeForLease,
  monthRange,
  requireRole,
  type Principal,
} from "../../control/index.js";
import { divRoundHalfUp, findGpuModel, type Node, type Site } from "../../domain/index.js";
import type { LeaseRecord } from "../../store/index.js";
import { who } from "../auth.js";
import { IdParam } from "../schemas.js";
import type { Services } from "../server.js";
import { OPS } from "../access.js";

/** One lease as a busy interval on a node: `gpus` GPUs from `from` to `to` (ms, half-open). */
export interface BusyInterval {
  nodeId: string;
  gpus: number;
  from: number;
  to: number;
}

/** One bucket of a site's utilisation series. */
export interface UtilisationPoint {
  /** Start of the bucket (ms). */
  at: number;
  /** Most GPUs busy at once within the bucket. */
  busyPeak: number;
  /** Time-weighted mean of busy GPUs within the bucket. */
  busyAvg: number;
  /** Estimated facility draw, kW: (busy GPUs × GPU power + busy nodes' overhead) × PUE, time-weighted. */
  powerKw: number;
}

const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;

/** GPU board power of a node as the scheduler's budget counts it (reported limit, else catalogue TDP, else 700 W). */
export function nodeGpuPowerW(n: Pick<Node, "gpus">): number {
  const g = n.gpus[0];
  if (!g) return 0;
  return g.powerLimitW || findGpuModel(g.model)?.tdpW || 700;
}

/** Buckets [from, to) by `stepMs` and measures busy GPUs (peak and mean) and estimated power in each. */
export function utilisationSeries(
  intervals: BusyInterval[],
  gpuPowerW: ReadonlyMap<string, number>,
  site: Pick<Site, "pue" | "nodeOverheadW">,
  from: number,
  to: number,
  stepMs: number,
): UtilisationPoint[] {
  const ivs = intervals.filter((i) => i.to > i.from && i.gpus > 0);
  // Concurrency sweep for peaks: ends before starts at the same instant (half-open intervals).
  const events = ivs.flatMap((i) => [
    { t: i.from, d: i.gpus },
    { t: i.to, d: -i.gpus },
  ]);
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  // Per node, the union of its busy intervals (the node's overhead is drawn once however many leases it runs).
  const unions = new Map<string, { from: number; to: number }[]>();
  for (const i of [...ivs].sort((a, b) => a.from - b.from)) {
    const u = unions.get(i.nodeId) ?? [];
    const last = u[u.length - 1];
    if (last && i.from <= last.to) last.to = Math.max(last.to, i.to);
    else u.push({ from: i.from, to: i.to });
    unions.set(i.nodeId, u);
  }
  const overlap = (a0: number, a1: number, b0: number, b1: number): number =>
    Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
  const points: UtilisationPoint[] = [];
  let e = 0;
  let conc = 0;
  for (let b0 = from; b0 < to; b0 += stepMs) {
    const b1 = Math.min(b0 + stepMs, to);
    while (e < events.length && events[e]!.t <= b0) conc += events[e++]!.d;
    let peak = conc;
    while (e < events.length && events[e]!.t < b1) {
      conc += events[e++]!.d;
      peak = Math.max(peak, conc);
    }
    let gpuMs = 0;
    let gpuWattMs = 0;
    for (const i of ivs) {
      const o = overlap(i.from, i.to, b0, b1);
      gpuMs += i.gpus * o;
      gpuWattMs += i.gpus * o * (gpuPowerW.get(i.nodeId) ?? 0);
    }
    let overheadMs = 0;
    for (const u of unions.values()) for (const x of u) overheadMs += overlap(x.from, x.to, b0, b1);
    const len = b1 - b0;
    points.push({
      at: b0,
      busyPeak: peak,
      busyAvg: round(gpuMs / len, 3),
      powerKw: round(((gpuWattMs + overheadMs * site.nodeOverheadW) * site.pue) / len / 1000, 3),
    });
  }
  return points;
}

/** Bucket length for a window, about 120 buckets: multiples of 10 s up to a minute, whole minutes beyond. */
export function stepFor(windowMs: number): number {
  const raw = windowMs / 120;
  if (raw <= 60_000) return Math.max(10_000, Math.ceil(raw / 10_000) * 10_000);
  return Math.ceil(raw / 60_000) * 60_000;
}

/** A lease as a busy interval: from its start (or creation while assigned) to its end (or now). */
function busyInterval(l: LeaseRecord, now: number): BusyInterval {
  return {
    nodeId: l.nodeId,
    gpus: l.gpuIndices.length,
    from: l.startedAt ?? l.createdAt,
    to: l.endedAt ?? now,
  };
}

/** Read-only aggregations the web console draws: operator summary and site utilisation. */
export async function consoleDataRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const store = s.ctx.store;

  const visibleSites = async (p: Principal): Promise<Site[]> => {
    requireRole(p, "operator", "admin");
    return s.fleet.listSites(p);
  };

  r.get(
    "/v1/operator/summary",
    {
      config: { access: OPS },
      schema: {
        tags: ["console"],
        summary:
          "Per site: GPUs total and busy, estimated power draw against the contracted kW, nodes, and revenue this month (operator: own sites; admin: all)",
      },
    },
    async (req) => {
      const p = who(req);
      const now = s.ctx.clock.now();
      const sites = await visibleSites(p);
      const ids = new Set(sites.map((x) => x.id));
      const month = new Date(now).toISOString().slice(0, 7);
      const { from, to } = monthRange(month);
      const [nodes, active, monthLeases, feeBps] = await Promise.all([
        s.fleet.listNodes(p),
        store.jobs.activeLeases(),
        store.jobs.leasesOverlapping(from, to),
        s.accounts.getFeeBps(),
      ]);
      const ownLeases = monthLeases.filter((l) => ids.has(l.siteId));
      const records = await store.usage.forLeases(ownLeases.map((l) => l.id));
      const revenue = new Map<string, { grossMinor: number; gpuSeconds: number }>();
      for (const l of ownLeases) {
        const w = billingWindow(l);
        const clipped: LeaseRecord = {
          ...l,
          startedAt: Math.max(w?.from ?? from, from),
          stopRequestedAt: Math.min(w?.to ?? to, to),
        };
        const c = chargeForLease(clipped, records);
        const acc = revenue.get(l.siteId) ?? { grossMinor: 0, gpuSeconds: 0 };
        acc.grossMinor += c.costMinor;
        acc.gpuSeconds += c.gpuSeconds;
        revenue.set(l.siteId, acc);
      }
      const busyByNode = new Map<string, Map<number, LeaseRecord>>();
      for (const l of active) {
        const m = busyByNode.get(l.nodeId) ?? new Map<number, LeaseRecord>();
        for (const g of l.gpuIndices) m.set(g, l);
        busyByNode.set(l.nodeId, m);
      }
      const out = sites.map((site) => {
        const siteNodes = nodes.filter((n) => n.siteId === site.id);
        let gpusTotal = 0;
        let gpusBusy = 0;
        let drawW = 0;
        const nodeViews = siteNodes.map((n) => {
          const busy = busyByNode.get(n.id) ?? new Map<number, LeaseRecord>();
          gpusTotal += n.gpus.length;
          gpusBusy += busy.size;
          if (busy.size > 0) drawW += busy.size * nodeGpuPowerW(n) + site.nodeOverheadW;
          return {
            id: n.id,
            name: n.name,
            state: n.state,
            stateReason: n.stateReason ?? null,
            lastHeartbeatAt: n.lastHeartbeatAt ?? null,
            gpuModel: n.gpus[0]?.model ?? null,
            gpus: n.gpus.map((g) => ({
              index: g.index,
              healthy: g.healthy,
              busy: busy.has(g.index),
              jobId: busy.get(g.index)?.jobId ?? null,
            })),
          };
        });
        const rev = revenue.get(site.id) ?? { grossMinor: 0, gpuSeconds: 0 };
        const feeMinor = Number(divRoundHalfUp(BigInt(rev.grossMinor) * BigInt(feeBps), 10_000n));
        return {
          id: site.id,
          name: site.name,
          country: site.country,
          pue: site.pue,
          cooling: site.cooling,
          carbonGPerKwh: site.carbonGPerKwh ?? null,
          contractedKw: site.powerKw,
          powerDrawKw: round((drawW * site.pue) / 1000, 3),
          gpusTotal,
          gpusBusy,
          revenue: {
            grossMinor: rev.grossMinor,
            feeMinor,
            netMinor: rev.grossMinor - feeMinor,
            gpuSeconds: rev.gpuSeconds,
          },
          nodes: nodeViews,
        };
      });
      const sum = (f: (x: (typeof out)[number]) => number): number => out.reduce((a, x) => a + f(x), 0);
      return {
        at: now,
        month,
        currency: s.ctx.config.currency,
        feeBps,
        sites: out,
        totals: {
          gpusTotal: sum((x) => x.gpusTotal),
          gpusBusy: sum((x) => x.gpusBusy),
          powerDrawKw: round(
            sum((x) => x.powerDrawKw),
            3,
          ),
          contractedKw: sum((x) => x.contractedKw),
          revenueGrossMinor: sum((x) => x.revenue.grossMinor),
          revenueNetMinor: sum((x) => x.revenue.netMinor),
        },
      };
    },
  );

  r.get(
    "/v1/sites/:id/utilisation",
    {
      config: { access: OPS },
      schema: {
        tags: ["console"],
        summary:
          "A site's busy GPUs (peak and mean) and estimated power draw over the last hours (or minutes), from its leases",
        params: IdParam,
        querystring: z.object({
          hours: z.coerce
            .number()
            .int("hours must be a whole number")
            .min(1, "hours must be at least 1")
            .max(720, "hours can be at most 720 (30 days)")
            .default(24),
          minutes: z.coerce
            .number()
            .int("minutes must be a whole number")
            .min(5, "minutes must be at least 5")
            .max(43_200, "minutes can be at most 43200 (30 days)")
            .optional(),
        }),
      },
    },
    async (req) => {
      const p = who(req);
      requireRole(p, "operator", "admin");
      const site = await s.fleet.getSite(p, req.params.id);
      const now = s.ctx.clock.now();
      const windowMs =
        req.query.minutes !== undefined ? req.query.minutes * 60_000 : req.query.hours * 3_600_000;
      const stepMs = stepFor(windowMs);
      const from = Math.floor((now - windowMs) / stepMs) * stepMs;
      const [nodes, past, active] = await Promise.all([
        s.fleet.listNodes(p, site.id),
        store.jobs.leasesOverlapping(from, now + 1),
        store.jobs.activeLeases(),
      ]);
      const leases = new Map<string, LeaseRecord>();
      for (const l of [...past, ...active]) if (l.siteId === site.id) leases.set(l.id, l);
      const powers = new Map(nodes.map((n) => [n.id, nodeGpuPowerW(n)]));
      const points = utilisationSeries(
        [...leases.values()].map((l) => busyInterval(l, now)),
        powers,
        site,
        from,
        now + 1,
        stepMs,
      );
      return {
        siteId: site.id,
        from,
        to: now,
        stepMs,
        totalGpus: nodes.reduce((a, n) => a + n.gpus.length, 0),
        contractedKw: site.powerKw,
        points,
      };
    },
  );
}
