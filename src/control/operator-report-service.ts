import {
  approvedGpusOf,
  describeInventory,
  inventoryHold,
  nodeGpuPowerW,
  type Site,
} from "../domain/index.js";
import { feeMinor } from "../ledger/index.js";
import type { LeaseRecord } from "../store/index.js";
import type { AccountsService } from "./accounts-service.js";
import { billingWindow, chargeForLease } from "./billing.js";
import { monthRange } from "./billing-service.js";
import { requireRole, type Ctx, type Principal } from "./context.js";
import { loadGpuCatalogue } from "./gpu-models-service.js";
import type { FleetService } from "./fleet-service.js";
import { nodeReliability } from "./reliability.js";

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

/** Read-only aggregations the console draws for operators and admins: site summary and utilisation. */
export class OperatorReportService {
  constructor(
    private readonly ctx: Ctx,
    private readonly fleet: FleetService,
    private readonly accounts: AccountsService,
  ) {}

  private async visibleSites(p: Principal): Promise<Site[]> {
    requireRole(p, "operator", "admin");
    return this.fleet.listSites(p);
  }

  /** Per site: GPUs total and busy, estimated draw against the contracted kW, nodes, and this month's revenue. */
  async summary(p: Principal) {
    const now = this.ctx.clock.now();
    const sites = await this.visibleSites(p);
    const ids = new Set(sites.map((x) => x.id));
    const month = new Date(now).toISOString().slice(0, 7);
    const { from, to } = monthRange(month);
    const [nodes, active, monthLeases, feeBps, trust, operators, catalogue] = await Promise.all([
      this.fleet.listNodes(p),
      this.ctx.store.jobs.activeLeases(),
      this.ctx.store.jobs.leasesOverlapping(from, to),
      this.accounts.getFeeBps(),
      nodeReliability(this.ctx, month, p.role === "operator" ? (p.ownerId ?? "-") : undefined),
      this.ctx.store.accounts.listOperators(),
      loadGpuCatalogue(this.ctx.store),
    ]);
    const trustOf = new Map(trust.map((t) => [t.nodeId, t]));
    const approverOf = new Map(operators.map((o) => [o.id, o.inventoryApprover ?? "operator"]));
    const ownLeases = monthLeases.filter((l) => ids.has(l.siteId));
    const records = await this.ctx.store.usage.forLeases(ownLeases.map((l) => l.id));
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
        // What the marketplace sells is the approved inventory; a pending change is shown beside it.
        gpusTotal += approvedGpusOf(n).length;
        const held = inventoryHold(n);
        gpusBusy += busy.size;
        if (busy.size > 0) drawW += busy.size * nodeGpuPowerW(n, catalogue.find) + site.nodeOverheadW;
        return {
          id: n.id,
          name: n.name,
          state: n.state,
          stateReason: n.stateReason ?? null,
          lastHeartbeatAt: n.lastHeartbeatAt ?? null,
          gpuModel: n.gpus[0]?.model ?? null,
          cluster: n.cluster ?? null,
          gpus: n.gpus.map((g) => ({
            index: g.index,
            healthy: g.healthy,
            busy: busy.has(g.index),
            jobId: busy.get(g.index)?.jobId ?? null,
          })),
          inventory: held
            ? {
                changedAt: n.inventoryChangedAt ?? now,
                approved: describeInventory(n.approvedGpus ?? []),
                reported: describeInventory(n.gpus),
                approver: approverOf.get(site.operatorId) ?? "operator",
                held,
              }
            : null,
          anomalies: trustOf.get(n.id)?.anomalies ?? 0,
          reliability: trustOf.get(n.id)?.reliability ?? 1,
        };
      });
      const rev = revenue.get(site.id) ?? { grossMinor: 0, gpuSeconds: 0 };
      const fee = feeMinor(rev.grossMinor, feeBps);
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
          feeMinor: fee,
          netMinor: rev.grossMinor - fee,
          gpuSeconds: rev.gpuSeconds,
        },
        nodes: nodeViews,
      };
    });
    const sum = (f: (x: (typeof out)[number]) => number): number => out.reduce((a, x) => a + f(x), 0);
    return {
      at: now,
      month,
      currency: this.ctx.config.currency,
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
  }

  /** A site's busy GPUs (peak and mean) and estimated draw over the last `windowMs`, in about 120 buckets. */
  async utilisation(p: Principal, siteId: string, windowMs: number) {
    requireRole(p, "operator", "admin");
    const site = await this.fleet.getSite(p, siteId);
    const now = this.ctx.clock.now();
    const stepMs = stepFor(windowMs);
    const from = Math.floor((now - windowMs) / stepMs) * stepMs;
    const [nodes, past, active, catalogue] = await Promise.all([
      this.fleet.listNodes(p, site.id),
      this.ctx.store.jobs.leasesOverlapping(from, now + 1),
      this.ctx.store.jobs.activeLeases(),
      loadGpuCatalogue(this.ctx.store),
    ]);
    const leases = new Map<string, LeaseRecord>();
    for (const l of [...past, ...active]) if (l.siteId === site.id) leases.set(l.id, l);
    const powers = new Map(nodes.map((n) => [n.id, nodeGpuPowerW(n, catalogue.find)]));
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
  }
}
