import { DomainError, invalid, notFound, type Site } from "../domain/index.js";
import {
  applyContracts,
  computeIndicators,
  indicatorsToCsv,
  indicatorsToJson,
  meterJob,
  parseEnergyProfileCsv,
  parseSeriesCsvDetailed,
  rollupEnergy,
  valueAt,
  type HourlySeries,
  type JobEnergy,
  type SiteEnergyProfile,
  type SiteIndicators,
} from "../energy/index.js";
import type { ContractRecord, Curtailment, LeaseRecord, MeterReading } from "../store/index.js";
import { monthRange } from "./billing-service.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";

const HOUR = 3_600_000;

/** Energy profiles, per-job energy and carbon, EU indicators and curtailment events. */
export class EnergyService {
  constructor(private readonly ctx: Ctx) {}

  /** The site, if the principal operates it (or is admin). */
  private async ownSite(p: Principal, siteId: string): Promise<Site> {
    const site = await this.ctx.store.fleet.getSite(siteId);
    if (!site) throw notFound("site", siteId);
    if (p.role === "admin" || (p.role === "operator" && site.operatorId === p.ownerId)) return site;
    if (p.role === "operator")
      throw new DomainError("forbidden", `site ${siteId} belongs to another operator`);
    throw new DomainError("forbidden", "only the site's operator or an admin may do this");
  }

  /** Imports an hourly carbon (gCO2e/kWh) or price (EUR/MWh) series from CSV. */
  async importSeries(
    p: Principal,
    siteId: string,
    kind: "carbon" | "price",
    csv: string,
  ): Promise<{ siteId: string; kind: string; hours: number; startMs: number; mean: number; format: string }> {
    await this.ownSite(p, siteId);
    let series: HourlySeries;
    let format: string;
    try {
      if (kind === "carbon") {
        const prof = parseEnergyProfileCsv(csv);
        series = prof.carbon;
        format = prof.source;
      } else {
        const d = parseSeriesCsvDetailed(csv, { nonNegative: false });
        series = d.series;
        format = d.format;
      }
    } catch (err) {
      throw invalid(`the ${kind} CSV could not be read: ${(err as Error).message}`, { field: "body" });
    }
    await this.ctx.store.energy.setSeries(siteId, kind, series, format, this.ctx.clock.now());
    this.ctx.nudge();
    const mean = series.values.reduce((a, b) => a + b, 0) / series.values.length;
    return {
      siteId,
      kind,
      hours: series.values.length,
      startMs: series.startMs,
      mean: Math.round(mean * 100) / 100,
      format,
    };
  }

  async seriesInfo(
    p: Principal,
    siteId: string,
  ): Promise<{ kind: string; hours: number; startMs: number; source: string; now: number }[]> {
    await this.ownSite(p, siteId);
    const now = this.ctx.clock.now();
    return (await this.ctx.store.energy.series(siteId)).map((s) => ({
      kind: s.kind,
      hours: s.series.values.length,
      startMs: s.series.startMs,
      source: s.source,
      now: valueAt(s.series, now),
    }));
  }

  async addContract(
    p: Principal,
    siteId: string,
    c: Omit<ContractRecord, "id" | "siteId">,
  ): Promise<ContractRecord> {
    await this.ownSite(p, siteId);
    if (!(c.periodEndMs > c.periodStartMs))
      throw invalid("periodEndMs must be after periodStartMs", { field: "periodEndMs" });
    if (!(c.kwh >= 0)) throw invalid("kwh must be >= 0", { field: "kwh" });
    const rec: ContractRecord = { ...c, id: this.ctx.ids("ppa"), siteId };
    await this.ctx.store.energy.addContract(rec, this.ctx.clock.now());
    return rec;
  }

  /** The site's energy profile for the energy core: its carbon series, or a flat one from its current figure. */
  private async profile(site: Site): Promise<SiteEnergyProfile> {
    const series = await this.ctx.store.energy.series(site.id);
    const carbon = series.find((s) => s.kind === "carbon")?.series ?? {
      startMs: 0,
      stepMs: HOUR,
      values: [site.carbonGPerKwh ?? 0],
    };
    const price = series.find((s) => s.kind === "price")?.series;
    return {
      siteId: site.id,
      pue: site.pue,
      nodeOverheadW: site.nodeOverheadW,
      carbon,
      ...(price ? { price } : {}),
    };
  }

  /** Energy, cost and emissions of every job that ran at a site in a window, market-based after its contracts. */
  private async siteJobs(site: Site, from: number, to: number): Promise<JobEnergy[]> {
    const leases = (await this.ctx.store.jobs.leasesOverlapping(from, to)).filter(
      (l) => l.siteId === site.id,
    );
    if (leases.length === 0) return [];
    const records = await this.ctx.store.usage.forLeases(leases.map((l) => l.id));
    const nodes = new Map((await this.ctx.store.fleet.listNodes([site.id])).map((n) => [n.id, n]));
    const prof = await this.profile(site);
    const byJob = new Map<string, LeaseRecord[]>();
    for (const l of leases) byJob.set(l.jobId, [...(byJob.get(l.jobId) ?? []), l]);
    const jobs: JobEnergy[] = [];
    for (const [jobId, ls] of byJob) {
      const intervals = records
        .filter((r) => ls.some((l) => l.id === r.leaseId) && r.fromMs < to && r.toMs > from)
        .map((r) => {
          const l = ls.find((x) => x.id === r.leaseId)!;
          const n = nodes.get(l.nodeId)?.gpus.length || l.gpuIndices.length;
          return {
            fromMs: r.fromMs,
            toMs: Math.max(r.toMs, r.fromMs + 1),
            gpuWh: r.energyMilliWh / 1000,
            nodeShare: l.gpuIndices.length / n,
          };
        });
      if (intervals.length === 0) continue;
      jobs.push(
        meterJob(
          {
            jobId,
            tenantId: ls[0]!.tenantId,
            siteId: site.id,
            nodeShare: intervals[0]!.nodeShare,
            intervals,
          },
          prof,
        ),
      );
    }
    const contracts = await this.ctx.store.energy.contracts(site.id);
    if (contracts.length === 0) return jobs;
    return applyContracts(
      jobs,
      contracts.map((c) => ({
        kind: c.kind,
        periodStartMs: c.periodStartMs,
        periodEndMs: c.periodEndMs,
        kwh: c.kwh,
        ...(c.gPerKwh !== null ? { gPerKwh: c.gPerKwh } : {}),
      })),
    ).jobs;
  }

  /**
   * A job's energy at each site it ran: each site metered over the whole months the job's leases
   * span there. `memo` shares those site meterings between jobs (same site and window, same answer).
   */
  private async jobSites(
    jobId: string,
    leases: readonly LeaseRecord[],
    memo: Map<string, Promise<JobEnergy[]>>,
  ): Promise<JobEnergy[]> {
    const out: JobEnergy[] = [];
    for (const siteId of [...new Set(leases.map((l) => l.siteId))]) {
      const ls = leases.filter((l) => l.siteId === siteId && l.startedAt != null);
      if (ls.length === 0) continue;
      const from = Math.min(...ls.map((l) => l.startedAt!));
      const to = Math.max(...ls.map((l) => l.endedAt ?? this.ctx.clock.now())) + 1;
      // Market-based figures need the whole site's consumption in each contract period: meter the site's month(s).
      const mFrom = monthRange(new Date(from).toISOString().slice(0, 7)).from;
      const mTo = monthRange(new Date(to).toISOString().slice(0, 7)).to;
      const key = `${siteId}|${mFrom}|${mTo}`;
      let jobs = memo.get(key);
      if (!jobs) {
        jobs = this.ctx.store.fleet.getSite(siteId).then((site) => this.siteJobs(site!, mFrom, mTo));
        memo.set(key, jobs);
      }
      const j = (await jobs).find((x) => x.jobId === jobId);
      if (j) out.push({ ...j, parts: [] });
    }
    return out;
  }

  /**
   * Energy at each site of several jobs (admin reads, e.g. for an invoice): the same figures as
   * jobEnergy's `sites`, metering each site and window once for all of them. Unknown jobs are absent.
   */
  async jobsSites(jobIds: readonly string[]): Promise<Map<string, JobEnergy[]>> {
    const memo = new Map<string, Promise<JobEnergy[]>>();
    const out = new Map<string, JobEnergy[]>();
    for (const jobId of jobIds) {
      if (!(await this.ctx.store.jobs.getJob(jobId))) continue;
      const leases = await this.ctx.store.jobs.leasesForJob(jobId);
      // As jobEnergy read one by one: a job whose figures cannot be computed has none.
      const sites = await this.jobSites(jobId, leases, memo).catch(() => undefined);
      if (sites) out.set(jobId, sites);
    }
    return out;
  }

  /** A job's energy and carbon at each site it ran (the tenant's own jobs; operators see jobs on their sites). */
  async jobEnergy(
    p: Principal,
    jobId: string,
  ): Promise<{
    jobId: string;
    facilityKwh: number;
    gpuKwh: number;
    locationKgCo2e: number;
    marketKgCo2e: number;
    energyCostMinor: number | null;
    sites: JobEnergy[];
  }> {
    const job = await this.ctx.store.jobs.getJob(jobId);
    const leases = job ? await this.ctx.store.jobs.leasesForJob(jobId) : [];
    const visible =
      job &&
      (p.role === "admin" ||
        (p.role === "tenant" && job.tenantId === p.ownerId) ||
        (p.role === "operator" && leases.some((l) => l.operatorId === p.ownerId)));
    if (!job || !visible) throw notFound("job", jobId);
    const out = await this.jobSites(jobId, leases, new Map());
    const sum = (f: (j: JobEnergy) => number): number =>
      Math.round(out.reduce((a, j) => a + f(j), 0) * 1e6) / 1e6;
    const costs = out.map((j) => j.costMinor);
    return {
      jobId,
      facilityKwh: sum((j) => j.facilityKwh),
      gpuKwh: sum((j) => j.gpuKwh),
      locationKgCo2e: sum((j) => j.locationKgCo2e),
      marketKgCo2e: sum((j) => j.marketKgCo2e),
      energyCostMinor: costs.some((c) => c === null) ? null : costs.reduce<number>((a, c) => a + (c ?? 0), 0),
      sites: out,
    };
  }

  /** Energy and carbon per tenant, site or job for a month (what the caller may see). */
  async summary(
    p: Principal,
    month: string,
    by: "tenant" | "site" | "job",
  ): Promise<ReturnType<typeof rollupEnergy>> {
    const { from, to } = monthRange(month);
    let sites = await this.ctx.store.fleet.listSites(p.role === "operator" ? ownerOf(p) : undefined);
    if (p.role === "node") throw new DomainError("forbidden", "nodes have no energy reports");
    if (p.role === "tenant") {
      const leases = (await this.ctx.store.jobs.leasesOverlapping(from, to, ownerOf(p))).map((l) => l.siteId);
      sites = sites.filter((s) => leases.includes(s.id));
    }
    let jobs: JobEnergy[] = [];
    for (const s of sites) jobs.push(...(await this.siteJobs(s, from, to)));
    if (p.role === "tenant") jobs = jobs.filter((j) => j.tenantId === p.ownerId);
    return rollupEnergy(jobs, [by, "month"]);
  }

  async putReading(p: Principal, siteId: string, m: Omit<MeterReading, "siteId">): Promise<SiteIndicators> {
    const site = await this.ownSite(p, siteId);
    const ind = await this.computeFor(site, { ...m, siteId });
    await this.ctx.store.energy.putReading({ ...m, siteId }, this.ctx.clock.now());
    return ind;
  }

  private async computeFor(site: Site, m: MeterReading): Promise<SiteIndicators> {
    const { from, to } = monthRange(m.month);
    const jobs = await this.siteJobs(site, from, to);
    const zumbidoItKwh = jobs.reduce(
      (a, j) => a + j.lines.filter((l) => l.month === m.month).reduce((b, l) => b + l.itKwh, 0),
      0,
    );
    return computeIndicators({
      siteId: site.id,
      periodStartMs: from,
      periodEndMs: to,
      eDcKwh: m.eDcKwh,
      ...(m.eItKwh !== null ? { eItKwh: m.eItKwh } : {}),
      ...(zumbidoItKwh > 0 ? { zumbidoItKwh } : {}),
      ...(m.eResTotKwh !== null ? { eResTotKwh: m.eResTotKwh } : {}),
      ...(m.eReuseKwh !== null ? { eReuseKwh: m.eReuseKwh } : {}),
      ...(m.wInM3 !== null ? { wInM3: m.wInM3 } : {}),
      installedItPowerKw: m.installedItKw,
    });
  }

  /** The EU indicators of the caller's sites for a month, as JSON rows or CSV. */
  async indicators(
    p: Principal,
    month: string,
    siteId?: string,
  ): Promise<{ json: ReturnType<typeof indicatorsToJson>; csv: string; missing: string[] }> {
    requireRole(p, "operator", "admin");
    const sites = siteId
      ? [await this.ownSite(p, siteId)]
      : await this.ctx.store.fleet.listSites(p.role === "operator" ? ownerOf(p) : undefined);
    const rows: SiteIndicators[] = [];
    const missing: string[] = [];
    for (const s of sites) {
      const m = await this.ctx.store.energy.reading(s.id, month);
      if (!m) missing.push(s.id);
      else rows.push(await this.computeFor(s, m));
    }
    return { json: indicatorsToJson(rows), csv: indicatorsToCsv(rows), missing };
  }

  /** Declares a curtailment: the site must draw at most maxKw in [startMs, endMs). */
  async declareCurtailment(
    p: Principal,
    input: {
      siteId: string;
      startMs: number;
      endMs: number;
      maxKw: number;
      noticeS?: number;
      reason?: string;
    },
  ): Promise<Curtailment> {
    const site = await this.ownSite(p, input.siteId);
    const now = this.ctx.clock.now();
    if (!(input.endMs > input.startMs)) throw invalid("end must be after start", { field: "endMs" });
    if (input.endMs <= now) throw invalid("this window is already over", { field: "endMs" });
    if (!(input.maxKw >= 0)) throw invalid("maxKw must be >= 0", { field: "maxKw" });
    if (input.maxKw >= site.powerKw)
      throw invalid(
        `maxKw ${input.maxKw} is not below the site's contracted ${site.powerKw} kW: nothing to curtail`,
        { field: "maxKw" },
      );
    const c: Curtailment = {
      id: this.ctx.ids("curt"),
      siteId: site.id,
      startMs: input.startMs,
      endMs: input.endMs,
      maxKw: input.maxKw,
      noticeS: input.noticeS ?? Math.max(0, Math.round((input.startMs - now) / 1000)),
      reason: input.reason ?? "grid curtailment request",
      state: "scheduled",
      createdAt: now,
      kwBefore: null,
      kwAtStart: null,
      metAtMs: null,
      stopped: [],
      reasoning: [],
    };
    await this.ctx.store.energy.createCurtailment(c);
    this.ctx.nudge();
    return c;
  }

  async curtailments(p: Principal): Promise<Curtailment[]> {
    requireRole(p, "operator", "admin");
    if (p.role === "admin") return this.ctx.store.energy.curtailments();
    const sites = (await this.ctx.store.fleet.listSites(ownerOf(p))).map((s) => s.id);
    return this.ctx.store.energy.curtailments({ siteIds: sites });
  }

  async curtailment(p: Principal, id: string): Promise<Curtailment> {
    const c = await this.ctx.store.energy.curtailment(id);
    if (!c) throw notFound("curtailment", id);
    await this.ownSite(p, c.siteId);
    return c;
  }
}
