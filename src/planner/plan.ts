/**
 * The planner's entry point: a validated scenario in, every figure of the plan out (rounded,
 * deterministic JSON). Formulas are in README.md beside this file.
 */
import { invalid } from "../domain/errors.js";
import { DAYS_PER_MONTH } from "./calendar.js";
import { aiGpus, aiItMw, configFlows, context, searchSplit } from "./evaluate.js";
import type { AiMode, Config, Context } from "./evaluate.js";
import { irr, monthly, netFlows, npv, paybackYears, roundTo, usd, yearly } from "./flows.js";
import type { Flows, MonthRow, YearRow } from "./flows.js";
import { breakevenGpuHourPrice, breakevenUtilisation } from "./gpu-cloud.js";
import { hostingEconomics } from "./hosting.js";
import { breakevenUsdPerKwh, fleetFor, miningFlows, miningRevenueUsdPerMwYear, NEUTRAL } from "./mining.js";
import { distribution, histogram, simulate } from "./monte-carlo.js";
import type { Distribution } from "./monte-carlo.js";
import { formatErrors, parseScenario } from "./schema.js";
import type { Scenario } from "./schema.js";
import { tornado } from "./sensitivity.js";

/** Options of a run that are not part of the scenario. */
export interface PlanOptions {
  /** Overrides monteCarlo.seed. */
  seed?: number;
  /** Overrides monteCarlo.runs. */
  runs?: number;
  /** Include monthly cash-flow tables. */
  monthly?: boolean;
}

/** Cash-flow tables of one option. */
export interface CashFlowTables {
  yearly: YearRow[];
  monthly?: MonthRow[];
}

/** Valuation of one option over the horizon. */
export interface Valuation {
  npvUsd: number;
  /** Yearly IRR, null when the flows never change sign. */
  irr: number | null;
  paybackYears: number | null;
  cashFlows: CashFlowTables;
}

/** Mining figures of a plan. */
export interface MiningResult extends Valuation {
  asic: { id: string; ths: number; watts: number; jPerTh: number };
  units: number;
  fleetPhs: number;
  fleetFacilityMw: number;
  hashpriceUsdPerPhDay: number;
  hashpriceSource: "given" | "computed";
  subsidyBtc: number;
  feesBtcPerBlock: number;
  blockHeight: number;
  /** Power price at which revenue (after pool fee) pays the facility power (PUE applied). */
  breakevenUsdPerKwh: number;
  /** Gross revenue per kWh at the machine's plug (PUE 1, no pool fee): the Hashrate Index definition. */
  breakevenUsdPerKwhAtMachine: number;
  revenueUsdPerMwYear: number;
  powerCostUsdPerMwYear: number;
  /** (revenue - power) / revenue at the start. */
  hardwareMargin: number;
  revenueUsdPerYear: number;
  ebitdaUsdPerYear: number;
  halvings: { height: number; date: string }[];
}

/** Hosting figures of a plan. */
export interface HostingResult extends Valuation {
  itMw: number;
  revenueUsdPerYear: number;
  noiUsdPerYear: number;
  revenueUsdPerMwItYear: number;
  noiUsdPerMwItYear: number;
  capexUsd: number;
}

/** GPU-cloud figures of a plan. */
export interface GpuCloudResult extends Valuation {
  gpu: string;
  gpus: number;
  itMw: number;
  priceUsdPerGpuHour: number;
  utilisation: number;
  capexUsd: number;
  /** Run-rate of the first year of operation (start price, utilisation as given). */
  revenueUsdPerYear: number;
  ebitdaUsdPerYear: number;
  revenueUsdPerMwItYear: number;
  depreciationUsdPerYear: number;
  breakevenUtilisation: number | null;
  breakevenUsdPerGpuHour: number | null;
}

/** The split search. */
export interface HybridResult {
  aiMode: AiMode;
  curve: { miningShare: number; miningMw: number; aiMw: number; npvUsd: number }[];
  best: { miningShare: number; miningMw: number; aiMw: number; npvUsd: number };
}

/** Which option the numbers favour. */
export interface Recommendation {
  option: "mining" | "hosting" | "gpuCloud" | "hybrid";
  miningShare: number;
  aiMode: AiMode | null;
  npvUsd: number;
  irr: number | null;
  paybackYears: number | null;
  summary: string;
}

/** Rounded distribution with a histogram. */
export type RoundedDistribution = Distribution & {
  histogram?: { fromUsd: number; toUsd: number; count: number }[];
};

/** Everything a plan returns (the JSON of `zumbido plan --json` and POST /v1/plans). */
export interface PlanResult {
  name: string | null;
  startDate: string;
  horizonYears: number;
  discountRate: number;
  site: { powerMw: number; pue: number; electricityUsdPerMwh: number } | null;
  mining?: MiningResult;
  hosting?: HostingResult;
  gpuCloud?: GpuCloudResult;
  hybrid?: HybridResult;
  recommendation: Recommendation;
  sensitivity: {
    option: string;
    baseNpvUsd: number;
    bars: {
      input: string;
      lowLabel: string;
      highLabel: string;
      npvLowUsd: number;
      npvHighUsd: number;
      swingUsd: number;
    }[];
  };
  monteCarlo: { seed: number; runs: number; npvUsd: Record<string, RoundedDistribution> };
}

function valuation(f: Flows, rate: number, withMonthly: boolean): Valuation {
  const net = netFlows(f);
  const r = irr(net);
  const p = paybackYears(net);
  return {
    npvUsd: usd(npv(net, rate)),
    irr: r === null ? null : roundTo(r, 4),
    paybackYears: p === null ? null : roundTo(p, 2),
    cashFlows: withMonthly ? { yearly: yearly(f), monthly: monthly(f) } : { yearly: yearly(f) },
  };
}

function miningResult(ctx: Context, withMonthly: boolean): MiningResult {
  const s = ctx.s;
  const m = s.mining!;
  const setup = ctx.mining!;
  const site = s.site!;
  const fleet = fleetFor(s, setup, site.powerMw);
  const { flows } = miningFlows(s, setup, site.powerMw, ctx.path, NEUTRAL);
  const hp = setup.hashprice0;
  const revPerMw = miningRevenueUsdPerMwYear(hp, setup.jPerTh, site.pue, m.uptime, m.poolFeeShare);
  const powerPerMw = 365.25 * 24 * m.uptime * site.electricityUsdPerMwh;
  const fleetMw = fleet.facilityKw / 1000;
  return {
    asic: {
      id: setup.unit.id,
      ths: setup.unit.ths,
      watts: setup.unit.watts,
      jPerTh: roundTo(setup.jPerTh, 3),
    },
    units: fleet.units,
    fleetPhs: roundTo(fleet.ths / 1000, 3),
    fleetFacilityMw: roundTo(fleetMw, 3),
    hashpriceUsdPerPhDay: roundTo(hp, 2),
    hashpriceSource: setup.hashpriceSource,
    subsidyBtc: setup.subsidy0,
    feesBtcPerBlock: roundTo(setup.feesBtcPerBlock, 4),
    blockHeight: setup.startHeight,
    breakevenUsdPerKwh: roundTo(breakevenUsdPerKwh(hp, setup.jPerTh, site.pue, m.poolFeeShare), 4),
    breakevenUsdPerKwhAtMachine: roundTo(breakevenUsdPerKwh(hp, setup.jPerTh), 4),
    revenueUsdPerMwYear: usd(revPerMw),
    powerCostUsdPerMwYear: usd(powerPerMw),
    hardwareMargin: roundTo(revPerMw > 0 ? (revPerMw - powerPerMw) / revPerMw : 0, 4),
    revenueUsdPerYear: usd(revPerMw * fleetMw),
    ebitdaUsdPerYear: usd((revPerMw - powerPerMw) * fleetMw - m.opexUsdPerMwYear * fleetMw),
    halvings: setup.halvings.map((h) => ({ height: h.height, date: h.date })),
    ...valuation(flows, s.discountRate, withMonthly),
  };
}

function hostingResult(ctx: Context, withMonthly: boolean): HostingResult {
  const s = ctx.s;
  const h = s.hosting!;
  const e = hostingEconomics(h);
  const cfg: Config = { miningShare: 0, aiMode: "hosting" };
  const itMw = aiItMw(ctx, cfg);
  return {
    itMw: roundTo(itMw, 3),
    revenueUsdPerYear: usd(e.revenueUsdPerYear),
    noiUsdPerYear: usd(e.noiUsdPerYear),
    revenueUsdPerMwItYear: usd(e.revenueUsdPerMwItYear),
    noiUsdPerMwItYear: usd(e.noiUsdPerMwItYear),
    capexUsd: usd(h.capexUsdPerMwIt * itMw),
    ...valuation(configFlows(ctx, cfg), s.discountRate, withMonthly),
  };
}

function gpuCloudResult(ctx: Context, withMonthly: boolean): GpuCloudResult {
  const s = ctx.s;
  const c = s.gpuCloud!;
  const g = ctx.gpu!;
  const cfg: Config = { miningShare: 0, aiMode: "gpuCloud" };
  const gpus = aiGpus(ctx, cfg);
  const itMw = (gpus * g.itWattsPerGpu) / 1e6;
  const hoursYear = DAYS_PER_MONTH * 24 * 12;
  const revenue = gpus * hoursYear * c.utilisation * g.priceUsdPerGpuHour;
  const itCapex = gpus * g.capexUsdPerGpu;
  const retrofit = c.retrofitUsdPerMwIt * itMw;
  const kw =
    ((gpus * g.itWattsPerGpu) / 1000) * (c.idlePowerShare + (1 - c.idlePowerShare) * c.utilisation) * g.pue;
  const power = (kw * hoursYear * s.site!.electricityUsdPerMwh) / 1000;
  const opex =
    c.staffUsdPerMwItYear * itMw +
    c.maintenanceShareOfItCapexPerYear * itCapex +
    c.platformFeeShare * revenue;
  const bu = breakevenUtilisation(s, g, gpus, NEUTRAL);
  const bp = breakevenGpuHourPrice(s, g, gpus, NEUTRAL);
  return {
    gpu: g.gpu,
    gpus,
    itMw: roundTo(itMw, 3),
    priceUsdPerGpuHour: g.priceUsdPerGpuHour,
    utilisation: c.utilisation,
    capexUsd: usd(itCapex + retrofit),
    revenueUsdPerYear: usd(revenue),
    ebitdaUsdPerYear: usd(revenue - power - opex),
    revenueUsdPerMwItYear: usd(itMw > 0 ? revenue / itMw : 0),
    depreciationUsdPerYear: usd(itCapex / c.depreciationYears + retrofit / c.retrofitDepreciationYears),
    breakevenUtilisation: bu === null ? null : roundTo(bu, 4),
    breakevenUsdPerGpuHour: bp === null ? null : roundTo(bp, 3),
    ...valuation(configFlows(ctx, cfg), s.discountRate, withMonthly),
  };
}

function roundDist(d: Distribution): Distribution {
  return {
    p5: usd(d.p5),
    p10: usd(d.p10),
    p25: usd(d.p25),
    p50: usd(d.p50),
    p75: usd(d.p75),
    p90: usd(d.p90),
    p95: usd(d.p95),
    mean: usd(d.mean),
    min: usd(d.min),
    max: usd(d.max),
    probLoss: roundTo(d.probLoss, 4),
  };
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
const musd = (x: number): string => `${x < 0 ? "-" : ""}$${(Math.abs(x) / 1e6).toFixed(1)}M`;

/** Runs the whole plan on a validated scenario. */
export function plan(s: Scenario, opts: PlanOptions = {}): PlanResult {
  const ctx = context(s);
  const withMonthly = opts.monthly ?? false;
  const out: Omit<PlanResult, "recommendation" | "sensitivity" | "monteCarlo"> = {
    name: s.name ?? null,
    startDate: s.startDate,
    horizonYears: s.horizonYears,
    discountRate: s.discountRate,
    site: s.site ? { ...s.site } : null,
  };
  const candidates: {
    option: Recommendation["option"];
    cfg: Config;
    npv: number;
    irr: number | null;
    payback: number | null;
  }[] = [];
  if (s.mining) {
    out.mining = miningResult(ctx, withMonthly);
    candidates.push({
      option: "mining",
      cfg: { miningShare: 1, aiMode: null },
      npv: out.mining.npvUsd,
      irr: out.mining.irr,
      payback: out.mining.paybackYears,
    });
  }
  if (s.hosting) {
    out.hosting = hostingResult(ctx, withMonthly);
    candidates.push({
      option: "hosting",
      cfg: { miningShare: 0, aiMode: "hosting" },
      npv: out.hosting.npvUsd,
      irr: out.hosting.irr,
      payback: out.hosting.paybackYears,
    });
  }
  if (s.gpuCloud) {
    out.gpuCloud = gpuCloudResult(ctx, withMonthly);
    candidates.push({
      option: "gpuCloud",
      cfg: { miningShare: 0, aiMode: "gpuCloud" },
      npv: out.gpuCloud.npvUsd,
      irr: out.gpuCloud.irr,
      payback: out.gpuCloud.paybackYears,
    });
  }
  if (s.mining && s.site && (s.hosting || s.gpuCloud)) {
    const aiMode: AiMode =
      s.hybrid?.aiMode ??
      (s.hosting && s.gpuCloud
        ? out.gpuCloud!.npvUsd >= out.hosting!.npvUsd
          ? "gpuCloud"
          : "hosting"
        : s.gpuCloud
          ? "gpuCloud"
          : "hosting");
    const { curve, best } = searchSplit(ctx, aiMode, s.hybrid?.step ?? 0.1);
    const r = (p: (typeof curve)[number]): HybridResult["best"] => ({
      miningShare: roundTo(p.miningShare, 4),
      miningMw: roundTo(p.miningMw, 3),
      aiMw: roundTo(p.aiMw, 3),
      npvUsd: usd(p.npvUsd),
    });
    out.hybrid = { aiMode, curve: curve.map(r), best: r(best) };
    if (best.miningShare > 0 && best.miningShare < 1) {
      const cfg: Config = { miningShare: best.miningShare, aiMode };
      const net = netFlows(configFlows(ctx, cfg));
      const ir = irr(net);
      const pb = paybackYears(net);
      candidates.push({
        option: "hybrid",
        cfg,
        npv: usd(best.npvUsd),
        irr: ir === null ? null : roundTo(ir, 4),
        payback: pb === null ? null : roundTo(pb, 2),
      });
    }
  }
  let rec = candidates[0]!;
  for (const c of candidates) if (c.npv > rec.npv) rec = c;
  const recommendation: Recommendation = {
    option: rec.option,
    miningShare: roundTo(rec.cfg.miningShare, 4),
    aiMode: rec.cfg.aiMode,
    npvUsd: rec.npv,
    irr: rec.irr,
    paybackYears: rec.payback,
    summary: summaryText(s, rec.option, rec.cfg, rec.npv),
  };
  const bars = tornado(ctx, rec.cfg).map((b) => ({
    ...b,
    npvLowUsd: usd(b.npvLowUsd),
    npvHighUsd: usd(b.npvHighUsd),
    swingUsd: usd(b.swingUsd),
  }));
  const seed = opts.seed ?? s.monteCarlo.seed;
  const runs = opts.runs ?? s.monteCarlo.runs;
  const configs: Record<string, Config> = {};
  for (const c of candidates) configs[c.option] = c.cfg;
  const samples = simulate(ctx, configs, seed, runs);
  const npvUsd: Record<string, RoundedDistribution> = {};
  for (const [k, v] of Object.entries(samples)) {
    const d: RoundedDistribution = roundDist(distribution(v));
    if (k === rec.option)
      d.histogram = histogram(v, 24).map((b) => ({
        fromUsd: usd(b.fromUsd),
        toUsd: usd(b.toUsd),
        count: b.count,
      }));
    npvUsd[k] = d;
  }
  return {
    ...out,
    recommendation,
    sensitivity: { option: rec.option, baseNpvUsd: rec.npv, bars },
    monteCarlo: { seed, runs, npvUsd },
  };
}

function summaryText(s: Scenario, option: Recommendation["option"], cfg: Config, npvValue: number): string {
  const rate = `${pct(s.discountRate)} over ${s.horizonYears} years`;
  let what: string;
  switch (option) {
    case "mining":
      what = "keep mining";
      break;
    case "hosting":
      what = "lease the site to an AI tenant (hosting)";
      break;
    case "gpuCloud":
      what = "run your own GPU cloud";
      break;
    case "hybrid": {
      const p = s.site!.powerMw;
      const ai = cfg.aiMode === "hosting" ? "AI hosting" : "GPU cloud";
      what = `split the site: ${pct(cfg.miningShare)} mining (${(cfg.miningShare * p).toFixed(1)} MW), ${pct(1 - cfg.miningShare)} ${ai} (${((1 - cfg.miningShare) * p).toFixed(1)} MW)`;
    }
  }
  if (npvValue < 0)
    return `No option earns the ${pct(s.discountRate)} discount rate; the least bad is to ${what}: NPV ${musd(npvValue)} at ${rate}.`;
  return `${what.charAt(0).toUpperCase()}${what.slice(1)}: NPV ${musd(npvValue)} at ${rate}.`;
}

/** Validates raw JSON and plans it; throws a DomainError "validation" listing every {path, message}. */
export function planFromJson(raw: unknown, opts: PlanOptions = {}): PlanResult {
  const r = parseScenario(raw);
  if (!r.ok) throw invalid(`invalid scenario:\n${formatErrors(r.errors)}`, { errors: r.errors });
  return plan(r.scenario, opts);
}
