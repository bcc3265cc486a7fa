/**
 * Per-job energy, cost and emissions, and their rollups (docs/energy.md, "Per-job energy").
 *
 * facility Wh = (metered GPU Wh + node overhead W x node share x h) x PUE, spread evenly over each
 * metered interval and split at the carbon and price series' step boundaries. Location-based
 * emissions read the grid series hour by hour; market-based emissions (applyContracts) first take
 * out the share of the site's consumption covered by renewable contracts in each period.
 */
import { invalid } from "../domain/errors.js";
import { divRoundHalfUp, type Minor } from "../domain/money.js";
import { HOUR_MS, assertSeries, utcMonth, valueAt, type HourlySeries } from "./series.js";

/** What the energy core needs to know about a site. */
export interface SiteEnergyProfile {
  siteId: string;
  /** Power usage effectiveness of the hall, >= 1. */
  pue: number;
  /** Per-node overhead (CPUs, fans, NICs), watts, IT side. */
  nodeOverheadW: number;
  /** Grid carbon intensity, gCO2e/kWh (location-based factor). */
  carbon: HourlySeries;
  /** Energy price, EUR/MWh; without it costs are null. */
  price?: HourlySeries;
}

/** One metered interval of a job (a usage record, or a sum of them). */
export interface MeteredInterval {
  fromMs: number;
  toMs: number;
  /** GPU energy measured (or modelled) over the interval, Wh. */
  gpuWh: number;
  /** Node-equivalents this record covers (one record per node of a gang: that node's share); default the job's nodeShare. */
  nodeShare?: number;
}

/** A job's metering at one site. */
export interface JobMeter {
  jobId: string;
  tenantId: string;
  siteId: string;
  /** Node-equivalents the job holds: sum over its nodes of (its GPUs / the node's GPUs). */
  nodeShare: number;
  intervals: MeteredInterval[];
}

/** A piece of a job's energy within one step of both series (uniform power inside). */
export interface EnergyPart {
  fromMs: number;
  toMs: number;
  facilityKwh: number;
  /** Grid intensity in force, gCO2e/kWh. */
  gridGPerKwh: number;
  /** Energy price in force, EUR/MWh; null without a price series. */
  priceEurPerMwh: number | null;
  /** Share of this energy covered by renewable contracts (0 until applyContracts). */
  coveredShare: number;
  /** Factor for uncovered energy under market-based accounting, gCO2e/kWh. */
  residualGPerKwh: number;
  /** Factor of the covered energy (the contracts' own, usually 0), gCO2e/kWh. */
  contractGPerKwh: number;
}

/** Market-based kgCO2e of a part: uncovered energy at the residual factor, covered at the contracts'. */
export function partMarketKg(p: EnergyPart): number {
  return (
    (p.facilityKwh * ((1 - p.coveredShare) * p.residualGPerKwh + p.coveredShare * p.contractGPerKwh)) / 1000
  );
}

/** One UTC month of a job: the line that is rounded (cost) and rolled up. */
export interface JobEnergyLine {
  month: string;
  gpuKwh: number;
  itKwh: number;
  facilityKwh: number;
  locationKgCo2e: number;
  marketKgCo2e: number;
  /** Energy cost in minor units (EUR cents), rounded half up once per line; null without prices. */
  costMinor: Minor | null;
}

/** A job's energy, cost and emissions; totals are sums of its monthly lines. */
export interface JobEnergy extends Omit<JobEnergyLine, "month"> {
  jobId: string;
  tenantId: string;
  siteId: string;
  fromMs: number;
  toMs: number;
  lines: JobEnergyLine[];
  parts: EnergyPart[];
}

/** Computes a job's facility energy, cost and location-based emissions (market = location until applyContracts). */
export function meterJob(job: JobMeter, site: SiteEnergyProfile): JobEnergy {
  validateSite(site);
  if (job.siteId !== site.siteId)
    throw invalid(
      `job ${job.jobId} ran at site ${job.siteId}, not ${site.siteId}: pass that site's profile`,
      {
        field: "siteId",
      },
    );
  if (!(job.nodeShare >= 0) || !Number.isFinite(job.nodeShare))
    throw invalid(
      `nodeShare of job ${job.jobId} must be a number >= 0 (node-equivalents held), got ${job.nodeShare}`,
      {
        field: "nodeShare",
      },
    );
  const parts: EnergyPart[] = [];
  const gpuByMonth = new Map<string, number>();
  const itByMonth = new Map<string, number>();
  job.intervals.forEach((iv, i) => {
    const where = `intervals[${i}] of job ${job.jobId}`;
    if (!Number.isFinite(iv.fromMs) || !(iv.toMs > iv.fromMs))
      throw invalid(`${where}: toMs must be after fromMs (got ${iv.fromMs}..${iv.toMs})`, { field: "toMs" });
    if (!(iv.gpuWh >= 0) || !Number.isFinite(iv.gpuWh))
      throw invalid(`${where}: gpuWh must be a number >= 0, got ${iv.gpuWh}`, { field: "gpuWh" });
    const dur = iv.toMs - iv.fromMs;
    const share = iv.nodeShare ?? job.nodeShare;
    if (!(share >= 0) || !Number.isFinite(share))
      throw invalid(`${where}: nodeShare must be a number >= 0, got ${share}`, { field: "nodeShare" });
    const overheadWh = (site.nodeOverheadW * share * dur) / HOUR_MS;
    const itWh = iv.gpuWh + overheadWh;
    const facWh = itWh * site.pue;
    for (const [a, b] of splitAtSteps(iv.fromMs, iv.toMs, site.carbon, site.price)) {
      const f = (b - a) / dur;
      const grid = valueAt(site.carbon, a);
      parts.push({
        fromMs: a,
        toMs: b,
        facilityKwh: (facWh * f) / 1000,
        gridGPerKwh: grid,
        priceEurPerMwh: site.price ? valueAt(site.price, a) : null,
        coveredShare: 0,
        residualGPerKwh: grid,
        contractGPerKwh: 0,
      });
      const m = utcMonth(a);
      gpuByMonth.set(m, (gpuByMonth.get(m) ?? 0) + (iv.gpuWh * f) / 1000);
      itByMonth.set(m, (itByMonth.get(m) ?? 0) + (itWh * f) / 1000);
    }
  });
  const fromMs = job.intervals.reduce((m, x) => Math.min(m, x.fromMs), job.intervals[0]?.fromMs ?? 0);
  const toMs = job.intervals.reduce((m, x) => Math.max(m, x.toMs), job.intervals[0]?.toMs ?? 0);
  return assemble(
    { jobId: job.jobId, tenantId: job.tenantId, siteId: job.siteId, fromMs, toMs },
    parts,
    gpuByMonth,
    itByMonth,
  );
}

/** Throws a validation error naming the field unless the profile is usable. */
export function validateSite(site: SiteEnergyProfile): void {
  if (!(site.pue >= 1) || !Number.isFinite(site.pue))
    throw invalid(`site ${site.siteId}: pue must be >= 1 (facility energy / IT energy), got ${site.pue}`, {
      field: "pue",
    });
  if (!(site.nodeOverheadW >= 0) || !Number.isFinite(site.nodeOverheadW))
    throw invalid(
      `site ${site.siteId}: nodeOverheadW must be a number of watts >= 0, got ${site.nodeOverheadW}`,
      {
        field: "nodeOverheadW",
      },
    );
  assertSeries(site.carbon, `site ${site.siteId} carbon`);
  if (site.price) assertSeries(site.price, `site ${site.siteId} price`);
}

/** Sub-intervals of [from, to) cut at every step boundary of the given series. */
function splitAtSteps(from: number, to: number, ...series: (HourlySeries | undefined)[]): [number, number][] {
  const out: [number, number][] = [];
  let t = from;
  while (t < to) {
    let next = to;
    for (const s of series) {
      if (!s) continue;
      const b = s.startMs + (Math.floor((t - s.startMs) / s.stepMs) + 1) * s.stepMs;
      if (b < next) next = b;
    }
    out.push([t, next]);
    t = next;
  }
  return out;
}

type Head = Pick<JobEnergy, "jobId" | "tenantId" | "siteId" | "fromMs" | "toMs">;

/** Builds monthly lines and totals from parts (the one place energy cost is rounded). */
function assemble(
  head: Head,
  parts: EnergyPart[],
  gpuByMonth: Map<string, number>,
  itByMonth: Map<string, number>,
): JobEnergy {
  const lines = new Map<string, JobEnergyLine & { costE10: bigint; priced: boolean }>();
  for (const p of parts) {
    const m = utcMonth(p.fromMs);
    let l = lines.get(m);
    if (!l) {
      l = {
        month: m,
        gpuKwh: gpuByMonth.get(m) ?? 0,
        itKwh: itByMonth.get(m) ?? 0,
        facilityKwh: 0,
        locationKgCo2e: 0,
        marketKgCo2e: 0,
        costMinor: null,
        costE10: 0n,
        priced: p.priceEurPerMwh !== null,
      };
      lines.set(m, l);
    }
    l.facilityKwh += p.facilityKwh;
    l.locationKgCo2e += (p.facilityKwh * p.gridGPerKwh) / 1000;
    l.marketKgCo2e += partMarketKg(p);
    if (p.priceEurPerMwh !== null) l.costE10 += energyCostE10(p.facilityKwh, p.priceEurPerMwh);
  }
  const out: JobEnergyLine[] = [...lines.values()]
    .sort((a, b) => (a.month < b.month ? -1 : a.month > b.month ? 1 : 0))
    .map(({ costE10, priced, ...l }) => ({
      ...l,
      costMinor: priced ? Number(divRoundHalfUp(costE10, E10)) : null,
    }));
  const sum = (f: (l: JobEnergyLine) => number): number => out.reduce((s, l) => s + f(l), 0);
  const priced = out.length > 0 && out.every((l) => l.costMinor !== null);
  return {
    ...head,
    gpuKwh: sum((l) => l.gpuKwh),
    itKwh: sum((l) => l.itKwh),
    facilityKwh: sum((l) => l.facilityKwh),
    locationKgCo2e: sum((l) => l.locationKgCo2e),
    marketKgCo2e: sum((l) => l.marketKgCo2e),
    costMinor: priced ? sum((l) => l.costMinor ?? 0) : null,
    lines: out,
    parts,
  };
}

/** 1e10: (mWh x milli-EUR/MWh) per cent. */
const E10 = 10_000_000_000n;

/** Exact cost numerator: energy in integer mWh times price in integer milli-EUR/MWh (1e-10 cent units). */
export function energyCostE10(kwh: number, eurPerMwh: number): bigint {
  return BigInt(Math.round(kwh * 1_000_000)) * BigInt(Math.round(eurPerMwh * 1000));
}

/** Energy cost in minor units (EUR cents) of kWh at EUR/MWh, rounded half up once. */
export function energyCostMinor(kwh: number, eurPerMwh: number): Minor {
  return Number(divRoundHalfUp(energyCostE10(kwh, eurPerMwh), E10));
}

/** Kinds of contractual instruments recognised for market-based Scope 2. */
export type ContractKind = "ppa" | "guarantee-of-origin" | "on-site";

/** Renewable supply contracted by a site for one period, kWh. */
export interface RenewableContract {
  kind: ContractKind;
  periodStartMs: number;
  periodEndMs: number;
  kwh: number;
  /** Emission factor of the contracted energy, gCO2e/kWh; default 0 (renewable). */
  gPerKwh?: number;
}

/** How a period's contracted supply was allocated. */
export interface PeriodAllocation {
  periodStartMs: number;
  periodEndMs: number;
  /** Site consumption in the period: the jobs' facility kWh plus other load given. */
  consumptionKwh: number;
  contractedKwh: number;
  /** min(contracted, consumption). */
  coveredKwh: number;
  /** covered / consumption (0 when nothing was consumed). */
  coverageRatio: number;
  /** Contracted energy left unused (not carried to other periods). */
  unusedKwh: number;
}

/** Options of applyContracts. */
export interface ContractOptions {
  /** Facility kWh consumed in each period by load that is not a metered job (keyed by periodStartMs). */
  otherLoadKwh?: Map<number, number>;
  /** Residual-mix factor for uncovered energy, gCO2e/kWh; default the site's grid series (GHG Protocol fallback). */
  residual?: HourlySeries;
}

/**
 * Market-based emissions: in each contract period, the contracted kWh cover the site's consumption
 * pro rata (each kWh consumed in the period is covered by the same share); uncovered energy is
 * counted at the residual factor. Returns the jobs with market figures and the allocation per period.
 */
export function applyContracts(
  jobs: JobEnergy[],
  contracts: RenewableContract[],
  options: ContractOptions = {},
): { jobs: JobEnergy[]; periods: PeriodAllocation[] } {
  const periods = groupPeriods(contracts);
  if (options.residual) assertSeries(options.residual, "residual");
  // 1. Consumption per period, from the jobs' parts (time-proportional where a part straddles).
  const consumption = periods.map((p) => options.otherLoadKwh?.get(p.start) ?? 0);
  for (const j of jobs)
    for (const part of j.parts)
      periods.forEach((p, i) => {
        consumption[i]! += part.facilityKwh * overlapShare(part, p.start, p.end);
      });
  const ratio = periods.map((p, i) =>
    consumption[i]! > 0 ? Math.min(p.kwh, consumption[i]!) / consumption[i]! : 0,
  );
  const factor = periods.map((p) => (p.kwh > 0 ? p.gWeighted / p.kwh : 0));
  // 2. Each part: covered share (and the contract's own factor) by its overlap with each period.
  const out = jobs.map((j) => {
    const parts = j.parts.map((part) => {
      let covered = 0;
      let coveredG = 0;
      periods.forEach((p, i) => {
        const s = overlapShare(part, p.start, p.end) * ratio[i]!;
        covered += s;
        coveredG += s * factor[i]!;
      });
      const residual = options.residual ? valueAt(options.residual, part.fromMs) : part.gridGPerKwh;
      return {
        ...part,
        coveredShare: covered,
        residualGPerKwh: residual,
        contractGPerKwh: covered > 0 ? coveredG / covered : 0,
      };
    });
    const lines = rebuildMarket(j, parts);
    return { ...j, parts, lines, marketKgCo2e: lines.reduce((s, l) => s + l.marketKgCo2e, 0) };
  });
  return {
    jobs: out,
    periods: periods.map((p, i) => ({
      periodStartMs: p.start,
      periodEndMs: p.end,
      consumptionKwh: consumption[i]!,
      contractedKwh: p.kwh,
      coveredKwh: Math.min(p.kwh, consumption[i]!),
      coverageRatio: ratio[i]!,
      unusedKwh: Math.max(0, p.kwh - consumption[i]!),
    })),
  };
}

/** Recomputes the market-based figure of each monthly line from updated parts. */
function rebuildMarket(j: JobEnergy, parts: EnergyPart[]): JobEnergyLine[] {
  const byMonth = new Map<string, number>();
  for (const p of parts) {
    const m = utcMonth(p.fromMs);
    byMonth.set(m, (byMonth.get(m) ?? 0) + partMarketKg(p));
  }
  return j.lines.map((l) => ({ ...l, marketKgCo2e: byMonth.get(l.month) ?? 0 }));
}

function overlapShare(part: { fromMs: number; toMs: number }, start: number, end: number): number {
  const o = Math.min(part.toMs, end) - Math.max(part.fromMs, start);
  return o > 0 ? o / (part.toMs - part.fromMs) : 0;
}

/** Sums contracts per period; periods must be identical or disjoint. */
function groupPeriods(
  contracts: RenewableContract[],
): { start: number; end: number; kwh: number; gWeighted: number }[] {
  const map = new Map<string, { start: number; end: number; kwh: number; gWeighted: number }>();
  contracts.forEach((c, i) => {
    const where = `contracts[${i}] (${c.kind})`;
    if (!(c.periodEndMs > c.periodStartMs))
      throw invalid(`${where}: periodEndMs must be after periodStartMs`, { field: "periodEndMs" });
    if (!(c.kwh >= 0) || !Number.isFinite(c.kwh))
      throw invalid(`${where}: kwh must be a number >= 0, got ${c.kwh}`, { field: "kwh" });
    const g = c.gPerKwh ?? 0;
    if (!(g >= 0)) throw invalid(`${where}: gPerKwh must be >= 0, got ${g}`, { field: "gPerKwh" });
    const key = `${c.periodStartMs}:${c.periodEndMs}`;
    const p = map.get(key) ?? { start: c.periodStartMs, end: c.periodEndMs, kwh: 0, gWeighted: 0 };
    p.kwh += c.kwh;
    p.gWeighted += c.kwh * g;
    map.set(key, p);
  });
  const list = [...map.values()].sort((a, b) => a.start - b.start);
  for (let i = 1; i < list.length; i++)
    if (list[i]!.start < list[i - 1]!.end)
      throw invalid(
        `contract periods overlap (${list[i - 1]!.start}..${list[i - 1]!.end} and ${list[i]!.start}..${list[i]!.end}): give each period's supply on the same period bounds, or disjoint periods`,
        { field: "periodStartMs" },
      );
  return list;
}

/** What a rollup groups by. */
export type RollupKey = "job" | "tenant" | "site" | "month";

/** One row of a rollup: sums of monthly lines. */
export interface EnergyRollupRow {
  key: Partial<Record<RollupKey, string>>;
  jobs: number;
  gpuKwh: number;
  itKwh: number;
  facilityKwh: number;
  locationKgCo2e: number;
  marketKgCo2e: number;
  /** Sum of rounded line costs; null if any line had no price. */
  costMinor: Minor | null;
}

/** Rolls job records up by any combination of job, tenant, site and month (sums of rounded lines). */
export function rollupEnergy(records: JobEnergy[], by: RollupKey[]): EnergyRollupRow[] {
  const rows = new Map<string, EnergyRollupRow & { ids: Set<string> }>();
  for (const r of records)
    for (const l of r.lines) {
      const key: Partial<Record<RollupKey, string>> = {};
      for (const k of by)
        key[k] = k === "job" ? r.jobId : k === "tenant" ? r.tenantId : k === "site" ? r.siteId : l.month;
      const id = JSON.stringify(by.map((k) => key[k]));
      let row = rows.get(id);
      if (!row) {
        row = {
          key,
          jobs: 0,
          gpuKwh: 0,
          itKwh: 0,
          facilityKwh: 0,
          locationKgCo2e: 0,
          marketKgCo2e: 0,
          costMinor: 0,
          ids: new Set(),
        };
        rows.set(id, row);
      }
      row.ids.add(r.jobId);
      row.gpuKwh += l.gpuKwh;
      row.itKwh += l.itKwh;
      row.facilityKwh += l.facilityKwh;
      row.locationKgCo2e += l.locationKgCo2e;
      row.marketKgCo2e += l.marketKgCo2e;
      row.costMinor = row.costMinor === null || l.costMinor === null ? null : row.costMinor + l.costMinor;
    }
  return [...rows.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, { ids, ...row }]) => ({ ...row, jobs: ids.size }));
}
