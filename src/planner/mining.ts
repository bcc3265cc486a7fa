/**
 * Mining economics: hashprice from the block reward, break-even power price, revenue per MW, and the
 * monthly cash flows of a fleet over the horizon (halvings, network growth, BTC price path).
 */
import { asicJPerTh, findAsic } from "./catalogue.js";
import type { AsicModel } from "./catalogue.js";
import {
  BLOCKS_PER_DAY,
  DAYS_PER_MONTH,
  estimateHeight,
  halvingsWithin,
  parseIsoDate,
  subsidyAtHeight,
} from "./calendar.js";
import type { HalvingEvent } from "./calendar.js";
import { emptyFlows } from "./flows.js";
import type { Flows } from "./flows.js";
import type { Scenario } from "./schema.js";

/** Hashprice in USD per PH/s per day: 144 x (subsidy + fees) x BTC price / network PH/s. */
export function hashpriceUsdPerPhDay(
  btcPriceUsd: number,
  networkHashrateEhs: number,
  subsidyBtc: number,
  feesBtcPerBlock: number,
): number {
  return (BLOCKS_PER_DAY * (subsidyBtc + feesBtcPerBlock) * btcPriceUsd) / (networkHashrateEhs * 1000);
}

/** Power price in USD/kWh at which a machine's revenue equals its power cost: hashprice per TH-day / kWh per TH-day. */
export function breakevenUsdPerKwh(
  hashpriceUsdPerPhDayValue: number,
  jPerTh: number,
  pue = 1,
  poolFeeShare = 0,
): number {
  const revenuePerThDay = (hashpriceUsdPerPhDayValue / 1000) * (1 - poolFeeShare);
  const kwhPerThDay = (jPerTh * 24 * pue) / 1000;
  return revenuePerThDay / kwhPerThDay;
}

/** Revenue in USD per MW of facility power per year at a hashprice (uptime and pool fee applied). */
export function miningRevenueUsdPerMwYear(
  hashprice: number,
  jPerTh: number,
  pue: number,
  uptime: number,
  poolFeeShare: number,
): number {
  const phPerMw = 1e6 / (jPerTh * pue) / 1000;
  return hashprice * phPerMw * 365.25 * uptime * (1 - poolFeeShare);
}

/** Everything about the mining section that does not depend on the split or the random draws. */
export interface MiningSetup {
  readonly unit: AsicModel;
  readonly jPerTh: number;
  readonly hashprice0: number;
  readonly hashpriceSource: "given" | "computed";
  readonly subsidy0: number;
  readonly feesBtcPerBlock: number;
  /** (subsidy + fees) of each month / (subsidy + fees) at the start. */
  readonly rewardFactor: readonly number[];
  /** Subsidy in BTC of each month (mid-month). */
  readonly subsidy: readonly number[];
  readonly halvings: readonly HalvingEvent[];
  readonly startHeight: number;
}

/** Derives the mining setup of a validated scenario (which must have a mining section). */
export function miningSetup(s: Scenario): MiningSetup {
  const m = s.mining!;
  const unit: AsicModel = typeof m.asic === "string" ? findAsic(m.asic)! : { id: m.asic.name, ...m.asic };
  const months = s.horizonYears * 12;
  const startDay = parseIsoDate(s.startDate)!;
  const startHeight = m.blockHeight ?? estimateHeight(startDay);
  const scheduleSubsidy0 = subsidyAtHeight(startHeight);
  const subsidy0 = m.subsidyBtc ?? scheduleSubsidy0;
  const scale = subsidy0 / scheduleSubsidy0;
  const feeShare = m.feeShare ?? 0.03;
  const fees = m.feesBtcPerBlock ?? (subsidy0 * feeShare) / (1 - feeShare);
  const subsidy: number[] = [];
  const rewardFactor: number[] = [];
  for (let k = 0; k < months; k++) {
    const h = startHeight + (k + 0.5) * DAYS_PER_MONTH * BLOCKS_PER_DAY;
    const sub = subsidyAtHeight(h) * scale;
    subsidy.push(sub);
    rewardFactor.push((sub + fees) / (subsidy0 + fees));
  }
  const given = m.hashpriceUsdPerPhDay;
  const hashprice0 = given ?? hashpriceUsdPerPhDay(m.btcPriceUsd!, m.networkHashrateEhs!, subsidy0, fees);
  return {
    unit,
    jPerTh: asicJPerTh(unit),
    hashprice0,
    hashpriceSource: given === undefined ? "computed" : "given",
    subsidy0,
    feesBtcPerBlock: fees,
    rewardFactor,
    subsidy,
    halvings: halvingsWithin(startDay, startHeight, months),
    startHeight,
  };
}

/** The market a run sees: BTC price and network hashrate per month as factors of their start values. */
export interface MarketPath {
  readonly btcFactor: readonly number[];
  readonly netFactor: readonly number[];
}

/** The deterministic path: constant yearly growth, evaluated at mid-month. */
export function basePath(s: Scenario): MarketPath {
  const months = s.horizonYears * 12;
  const g = s.mining?.btcPriceGrowthPerYear ?? 0;
  const n = s.mining?.networkGrowthPerYear ?? 0;
  const btcFactor: number[] = [];
  const netFactor: number[] = [];
  for (let k = 0; k < months; k++) {
    const t = (k + 0.5) / 12;
    btcFactor.push((1 + g) ** t);
    netFactor.push((1 + n) ** t);
  }
  return { btcFactor, netFactor };
}

/** Multipliers on the inputs, used by the sensitivity and the Monte Carlo (1 / 0 = as written). */
export interface Levers {
  electricityFactor: number;
  gpuPriceFactor: number;
  utilisationDelta: number;
  capexFactor: number;
  hostingFactor: number;
}

/** Levers that change nothing. */
export const NEUTRAL: Levers = {
  electricityFactor: 1,
  gpuPriceFactor: 1,
  utilisationDelta: 0,
  capexFactor: 1,
  hostingFactor: 1,
};

/** Size of a fleet that fits `facilityMw` of site power. */
export interface FleetSize {
  readonly units: number;
  readonly ths: number;
  readonly wallKw: number;
  readonly facilityKw: number;
}

/** The fleet a share of the site runs: the scenario's units, capped by the power available. */
export function fleetFor(s: Scenario, setup: MiningSetup, facilityMw: number): FleetSize {
  const pue = s.site!.pue;
  const max = Math.floor((facilityMw * 1e6) / (setup.unit.watts * pue) + 1e-9);
  const units = Math.max(0, Math.min(s.mining!.units ?? max, max));
  const wallKw = (units * setup.unit.watts) / 1000;
  return { units, ths: units * setup.unit.ths, wallKw, facilityKw: wallKw * pue };
}

/** Monthly mining cash flows of a fleet using `facilityMw` of the site, plus the hashprice per month. */
export function miningFlows(
  s: Scenario,
  setup: MiningSetup,
  facilityMw: number,
  path: MarketPath,
  lv: Levers,
): { flows: Flows; hashprice: number[] } {
  const m = s.mining!;
  const months = s.horizonYears * 12;
  const f = emptyFlows(months);
  const hashprice: number[] = [];
  const fleet = fleetFor(s, setup, facilityMw);
  const fullUnits = fleetFor(s, setup, s.site!.powerMw).units;
  const capex = fullUnits > 0 ? (m.fleetCapexUsd * fleet.units) / fullUnits : 0;
  const usdPerKwh = (s.site!.electricityUsdPerMwh / 1000) * lv.electricityFactor;
  const ph = fleet.ths / 1000;
  f.capex[0] = capex;
  for (let k = 0; k < months; k++) {
    const hp = (setup.hashprice0 * path.btcFactor[k]! * setup.rewardFactor[k]!) / path.netFactor[k]!;
    hashprice.push(hp);
    let revenue = hp * ph * DAYS_PER_MONTH * m.uptime * (1 - m.poolFeeShare);
    let power = fleet.facilityKw * 24 * DAYS_PER_MONTH * m.uptime * usdPerKwh;
    if (m.curtailWhenUnprofitable && revenue < power) {
      revenue = 0;
      power = 0;
    }
    f.revenue[k + 1] = revenue;
    f.power[k + 1] = power;
    f.opex[k + 1] = (m.opexUsdPerMwYear * fleet.facilityKw) / 1000 / 12;
    f.depreciation[k + 1] = k < m.fleetDepreciationYears * 12 ? capex / (m.fleetDepreciationYears * 12) : 0;
  }
  f.residual[months] = capex * Math.max(0, 1 - s.horizonYears / m.fleetDepreciationYears);
  return { flows: f, hashprice };
}
