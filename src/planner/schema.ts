/**
 * The scenario a planner run reads: a zod schema with defaults, cross-field checks, and errors
 * that name the field path and say how to fix it. Units are in the field names (Mw, UsdPerMwh, Ehs).
 */
import { z } from "zod";
import { asicModels, findAsic, findPlannerGpu, plannerGpus } from "./catalogue.js";
import { parseIsoDate } from "./calendar.js";

type Rule = { gt?: number; min?: number; max?: number; lt?: number; int?: boolean };

/** A number field whose errors say the rule and what the field is for. */
function num(hint: string, rule: Rule = {}): z.ZodNumber {
  const parts: string[] = [];
  if (rule.int) parts.push("a whole number");
  else parts.push("a number");
  if (rule.gt !== undefined) parts.push(`> ${rule.gt}`);
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.lt !== undefined) parts.push(`< ${rule.lt}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  const text = `must be ${parts.join(" ")}: ${hint}`;
  const err = { error: (iss: { input?: unknown }) => `${text} (got ${show(iss.input)})` };
  let s = z.number(err);
  if (rule.int) s = s.int(err);
  if (rule.gt !== undefined) s = s.gt(rule.gt, err);
  if (rule.min !== undefined) s = s.min(rule.min, err);
  if (rule.lt !== undefined) s = s.lt(rule.lt, err);
  if (rule.max !== undefined) s = s.max(rule.max, err);
  return s;
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s === undefined ? typeof v : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

const asicIds = asicModels()
  .map((a) => `"${a.id}"`)
  .join(", ");
const gpuIds = plannerGpus()
  .map((g) => `"${g.id}"`)
  .join(", ");

const customAsic = z.strictObject({
  name: z.string({ error: "must be a string: a label for your custom miner" }).min(1),
  ths: num("hashrate of one unit in TH/s, e.g. 200", { gt: 0 }),
  watts: num("wall power of one unit in W, e.g. 3500", { gt: 0 }),
});

const asic = z.union([z.string(), customAsic], {
  error: `must be a catalogue id (${asicIds}) or a custom unit {"name","ths","watts"}`,
});

const site = z.strictObject({
  powerMw: num("the site's contracted grid power in MW, e.g. 20", { gt: 0 }),
  pue: num("power usage effectiveness (facility power / IT power), e.g. 1.05 for air-cooled ASICs", {
    min: 1,
    max: 3,
  }).default(1.1),
  electricityUsdPerMwh: num("all-in power price in USD per MWh, e.g. 45", { min: 0 }),
});

const mining = z.strictObject({
  asic,
  units: num("how many miners run; leave out to fill the site's power", { gt: 0, int: true }).optional(),
  btcPriceUsd: num("bitcoin price in USD, e.g. 93450", { gt: 0 }).optional(),
  networkHashrateEhs: num("network hashrate in EH/s, e.g. 795", { gt: 0 }).optional(),
  feesBtcPerBlock: num("average transaction fees per block in BTC, e.g. 0.09", { min: 0 }).optional(),
  feeShare: num("fees as a share of the block reward, e.g. 0.03", { min: 0, lt: 1 }).optional(),
  subsidyBtc: num("block subsidy in BTC now, e.g. 3.125 (leave out to derive it from the date)", {
    gt: 0,
  }).optional(),
  hashpriceUsdPerPhDay: num("hashprice in USD per PH/s per day, e.g. 54.3", { gt: 0 }).optional(),
  blockHeight: num("block height at startDate (leave out to estimate it from the date)", {
    min: 0,
    int: true,
  }).optional(),
  btcPriceGrowthPerYear: num("yearly BTC price growth, e.g. 0.1 for +10%/yr", { gt: -1, max: 10 }).default(0),
  networkGrowthPerYear: num("yearly network hashrate growth, e.g. 0.2 for +20%/yr", {
    gt: -1,
    max: 10,
  }).default(0.2),
  poolFeeShare: num("pool fee as a share of revenue, e.g. 0.02", { min: 0, lt: 1 }).default(0.02),
  uptime: num("share of time the fleet hashes, e.g. 0.97", { gt: 0, max: 1 }).default(0.97),
  opexUsdPerMwYear: num("non-power operating cost per MW of site power per year in USD", { min: 0 }).default(
    25_000,
  ),
  fleetCapexUsd: num("money spent on the fleet at the start in USD (0 for a fleet you already own)", {
    min: 0,
  }).default(0),
  fleetDepreciationYears: num("years over which fleet capex is depreciated", { gt: 0, max: 30 }).default(4),
  curtailWhenUnprofitable: z
    .boolean({
      error: "must be true or false: switch the fleet off in months when power costs more than it earns",
    })
    .default(true),
});

const hosting = z.strictObject({
  itMw: num("critical IT power leased to the tenant in MW, e.g. 200", { gt: 0 }),
  contractUsd: num("total contract value in USD over its whole term, e.g. 3700000000", { gt: 0 }),
  years: num("contract length in years, e.g. 10", { gt: 0, max: 50 }),
  noiMargin: num("net operating income as a share of revenue, e.g. 0.85", { gt: 0, max: 1 }),
  capexUsdPerMwIt: num("retrofit capex per MW of IT power in USD, e.g. 10000000", { min: 0 }).default(
    10_000_000,
  ),
  buildMonths: num("months of retrofit before the tenant starts paying", {
    min: 0,
    max: 60,
    int: true,
  }).default(12),
  pue: num("PUE of the retrofitted halls (defaults to site.pue)", { min: 1, max: 3 }).optional(),
  depreciationYears: num("years over which the retrofit is depreciated", { gt: 0, max: 50 }).default(15),
});

const gpuCloud = z.strictObject({
  gpu: z.string({ error: `must be a GPU id: one of ${gpuIds}` }).default("H100"),
  gpus: num("how many GPUs; leave out to fill the power the site allows", { gt: 0, int: true }).optional(),
  pue: num("PUE of the GPU halls (defaults to site.pue)", { min: 1, max: 3 }).optional(),
  itWattsPerGpu: num("IT watts per GPU including its server share", { gt: 0 }).optional(),
  utilisation: num("share of GPU-hours sold, e.g. 0.7", { min: 0, max: 1 }).default(0.7),
  priceUsdPerGpuHour: num("price of one GPU-hour in USD, e.g. 2.2", { min: 0 }).optional(),
  priceChangePerYear: num("yearly change of the GPU-hour price, e.g. -0.15", { gt: -1, max: 1 }).default(
    -0.15,
  ),
  gpuUsd: num("price of one GPU in USD", { min: 0 }).optional(),
  serverUsdPerGpu: num("server cost per GPU in USD", { min: 0 }).optional(),
  networkUsdPerGpu: num("network (fabric, switches, optics) cost per GPU in USD", { min: 0 }).default(4_000),
  retrofitUsdPerMwIt: num("retrofit capex per MW of IT power in USD, e.g. 10000000", { min: 0 }).default(
    10_000_000,
  ),
  idlePowerShare: num("power an idle GPU server draws as a share of its full power", {
    min: 0,
    max: 1,
  }).default(0.3),
  staffUsdPerMwItYear: num("staff cost per MW of IT power per year in USD", { min: 0 }).default(150_000),
  maintenanceShareOfItCapexPerYear: num("yearly maintenance as a share of IT capex", {
    min: 0,
    max: 1,
  }).default(0.03),
  platformFeeShare: num("marketplace and sales fees as a share of revenue", { min: 0, lt: 1 }).default(0),
  depreciationYears: num("years over which GPUs, servers and network are depreciated", {
    gt: 0,
    max: 30,
  }).default(5),
  retrofitDepreciationYears: num("years over which the retrofit is depreciated", { gt: 0, max: 50 }).default(
    15,
  ),
  buildMonths: num("months of retrofit and delivery before GPU-hours sell", {
    min: 0,
    max: 60,
    int: true,
  }).default(12),
});

const hybrid = z.strictObject({
  step: num("share of the site moved per step of the split search, e.g. 0.1", { gt: 0, max: 0.5 }).default(
    0.1,
  ),
  aiMode: z.enum(["hosting", "gpuCloud"], { error: 'must be "hosting" or "gpuCloud"' }).optional(),
});

const monteCarlo = z.strictObject({
  seed: num("seed of the random draws (same seed, same result)", { min: 0, int: true }).default(1),
  runs: num("number of Monte Carlo draws", { min: 1, max: 20_000, int: true }).default(500),
  btcVolatility: num("yearly volatility of the BTC price (log), e.g. 0.6", { min: 0, max: 5 }).default(0.6),
  networkGrowthSd: num("standard deviation of yearly network growth, e.g. 0.15", { min: 0, max: 2 }).default(
    0.15,
  ),
  electricitySd: num("log standard deviation of the power price level, e.g. 0.15", {
    min: 0,
    max: 2,
  }).default(0.15),
  gpuPriceSd: num("log standard deviation of the GPU-hour price level, e.g. 0.25", {
    min: 0,
    max: 2,
  }).default(0.25),
  utilisationSd: num("standard deviation of utilisation, e.g. 0.1", { min: 0, max: 1 }).default(0.1),
  capexSd: num("log standard deviation of capex, e.g. 0.1", { min: 0, max: 2 }).default(0.1),
});

/** Zod schema of a planner scenario (defaults filled in, cross-field checks included). */
export const scenarioSchema = z
  .strictObject({
    name: z.string({ error: "must be a string" }).optional(),
    notes: z
      .union([z.string(), z.array(z.string())], { error: "must be a string or a list of strings" })
      .optional(),
    startDate: z
      .string({ error: 'must be a date "YYYY-MM-DD": the month the plan starts' })
      .default("2026-01-01"),
    horizonYears: num("years the plan covers, e.g. 10", { min: 1, max: 30, int: true }).default(10),
    discountRate: num("yearly discount rate, e.g. 0.1 for 10%", { min: 0, max: 1 }).default(0.1),
    site: site.optional(),
    mining: mining.optional(),
    hosting: hosting.optional(),
    gpuCloud: gpuCloud.optional(),
    hybrid: hybrid.optional(),
    monteCarlo: monteCarlo.default(() => monteCarlo.parse({})),
  })
  .superRefine((s, ctx) => {
    const add = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: "custom", path, message });
    };
    if (parseIsoDate(s.startDate) === undefined)
      add(["startDate"], `must be a date "YYYY-MM-DD", e.g. "2026-01-01" (got ${show(s.startDate)})`);
    if (!s.mining && !s.hosting && !s.gpuCloud)
      add([], "nothing to plan: add at least one of the sections mining, hosting, gpuCloud");
    if ((s.mining || s.gpuCloud) && !s.site)
      add(["site"], 'is required with mining or gpuCloud: add {"powerMw", "pue", "electricityUsdPerMwh"}');
    const m = s.mining;
    if (m) {
      if (typeof m.asic === "string" && !findAsic(m.asic))
        add(
          ["mining", "asic"],
          `unknown ASIC "${m.asic}": use one of ${asicIds} or a custom unit {"name","ths","watts"}`,
        );
      if (m.feesBtcPerBlock !== undefined && m.feeShare !== undefined)
        add(["mining", "feeShare"], "give either feesBtcPerBlock or feeShare, not both");
      if (m.hashpriceUsdPerPhDay === undefined) {
        if (m.btcPriceUsd === undefined)
          add(
            ["mining", "btcPriceUsd"],
            "is required unless hashpriceUsdPerPhDay is given: add the BTC price in USD, e.g. 93450",
          );
        if (m.networkHashrateEhs === undefined)
          add(
            ["mining", "networkHashrateEhs"],
            "is required unless hashpriceUsdPerPhDay is given: add the network hashrate in EH/s, e.g. 795",
          );
      }
      const unit = typeof m.asic === "string" ? findAsic(m.asic) : m.asic;
      if (unit && s.site && m.units !== undefined) {
        const max = Math.floor((s.site.powerMw * 1e6) / (unit.watts * s.site.pue));
        if (m.units > max)
          add(
            ["mining", "units"],
            `${m.units} units draw more than site.powerMw allows at site.pue (${max} at most): lower units or raise site.powerMw`,
          );
      }
    }
    if (s.gpuCloud) {
      const g = findPlannerGpu(s.gpuCloud.gpu);
      if (!g) add(["gpuCloud", "gpu"], `unknown GPU "${s.gpuCloud.gpu}": use one of ${gpuIds}`);
      else if (s.site && s.gpuCloud.gpus !== undefined) {
        const w = s.gpuCloud.itWattsPerGpu ?? g.itWattsPerGpu;
        const max = Math.floor((s.site.powerMw * 1e6) / ((s.gpuCloud.pue ?? s.site.pue) * w));
        if (s.gpuCloud.gpus > max)
          add(
            ["gpuCloud", "gpus"],
            `${s.gpuCloud.gpus} GPUs need more than site.powerMw allows (${max} at most at ${w} W each and the PUE): lower gpus`,
          );
      }
    }
    if (s.hosting && s.site) {
      const max = s.site.powerMw / (s.hosting.pue ?? s.site.pue);
      if (s.hosting.itMw > max + 1e-9)
        add(
          ["hosting", "itMw"],
          `exceeds what the site can power (${round2(max)} MW of IT at site.powerMw / pue): lower itMw or raise site.powerMw`,
        );
    }
    if (s.hybrid) {
      if (!s.mining) add(["hybrid"], "needs a mining section to split the site with");
      if (!s.hosting && !s.gpuCloud) add(["hybrid"], "needs a hosting or gpuCloud section for the AI share");
      if (s.hybrid.aiMode && !s[s.hybrid.aiMode])
        add(["hybrid", "aiMode"], `is "${s.hybrid.aiMode}" but there is no ${s.hybrid.aiMode} section`);
    }
  });

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** A scenario as written by the user (defaults not yet applied). */
export type ScenarioInput = z.input<typeof scenarioSchema>;
/** A validated scenario with every default filled in. */
export type Scenario = z.output<typeof scenarioSchema>;

/** One problem with a scenario: the field path (dotted, "" for the whole scenario) and what to do. */
export interface ScenarioError {
  readonly path: string;
  readonly message: string;
}

/** Validation result: the scenario, or every problem found. */
export type ParseResult = { ok: true; scenario: Scenario } | { ok: false; errors: ScenarioError[] };

/** Validates raw JSON into a scenario; never throws. */
export function parseScenario(raw: unknown): ParseResult {
  const r = scenarioSchema.safeParse(raw);
  if (r.success) return { ok: true, scenario: r.data };
  return { ok: false, errors: r.error.issues.flatMap(toErrors) };
}

function dotted(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
    .join(".")
    .replace(/\.\[/g, "[");
}

function toErrors(iss: z.core.$ZodIssue): ScenarioError[] {
  const base = dotted(iss.path);
  if (iss.code === "unrecognized_keys") {
    return iss.keys.map((k) => ({
      path: base ? `${base}.${k}` : k,
      message: `unknown field "${k}": check its spelling against docs/planner.md or remove it`,
    }));
  }
  if (iss.code === "invalid_type" && iss.expected === "object") {
    return [{ path: base, message: `must be an object (got ${show(iss.input)})` }];
  }
  return [{ path: base, message: iss.message }];
}

/** Formats errors as "path: message" lines for a terminal. */
export function formatErrors(errors: readonly ScenarioError[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("\n");
}
