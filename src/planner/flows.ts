/**
 * Cash-flow series and the finance on them: NPV, IRR, payback, yearly roll-up.
 * A series has one slot for the start (t = 0, where capex sits) and one per month end (t = k/12 years).
 */

/** Cash flows in USD: index 0 is the start of the plan, index k the end of month k. */
export interface Flows {
  revenue: number[];
  /** Electricity bought. */
  power: number[];
  /** Other operating costs (staff, maintenance, fees; for hosting the part of revenue the NOI margin leaves out). */
  opex: number[];
  capex: number[];
  /** Book value of the assets left at the end of the horizon, counted as an inflow in the last month. */
  residual: number[];
  /** Depreciation (not a cash flow; for EBIT only). */
  depreciation: number[];
}

/** A series of zeros over `months` months. */
export function emptyFlows(months: number): Flows {
  const z = (): number[] => new Array<number>(months + 1).fill(0);
  return { revenue: z(), power: z(), opex: z(), capex: z(), residual: z(), depreciation: z() };
}

/** Element-wise sum of series of the same length (a new series). */
export function addFlows(a: Flows, b: Flows): Flows {
  const out = emptyFlows(a.revenue.length - 1);
  addInto(out, a);
  addInto(out, b);
  return out;
}

/** Adds `b` into `a`, slot by slot. */
export function addInto(a: Flows, b: Flows): void {
  for (const key of ["revenue", "power", "opex", "capex", "residual", "depreciation"] as const) {
    const x = a[key];
    const y = b[key];
    for (let i = 0; i < x.length; i++) x[i]! += y[i] ?? 0;
  }
}

/** Net cash flow per slot: revenue - power - opex - capex + residual. */
export function netFlows(f: Flows): number[] {
  const out = new Array<number>(f.revenue.length);
  for (let i = 0; i < out.length; i++)
    out[i] = f.revenue[i]! - f.power[i]! - f.opex[i]! - f.capex[i]! + f.residual[i]!;
  return out;
}

/** Net present value at a yearly rate: sum of net[k] / (1 + rate)^(k/12). */
export function npv(net: readonly number[], rate: number): number {
  const monthly = (1 + rate) ** (-1 / 12);
  let s = 0;
  let d = 1;
  for (let k = 0; k < net.length; k++) {
    s += net[k]! * d;
    d *= monthly;
  }
  return s;
}

/** Rates scanned (high to low) to bracket the IRR before bisection. */
const IRR_GRID = [10, 5, 2, 1, 0.5, 0.3, 0.2, 0.1, 0.05, 0, -0.1, -0.2, -0.3, -0.5, -0.7, -0.9, -0.99];

/**
 * Yearly internal rate of return: the highest rate on [-99%, 1000%] where NPV crosses zero, found
 * by scanning IRR_GRID downwards and bisecting the first bracket. Null unless the first non-zero flow
 * is an outflow (an investment) and NPV changes sign.
 */
export function irr(net: readonly number[]): number | null {
  const first = net.find((x) => x !== 0);
  if (first === undefined || first > 0) return null;
  let hi = IRR_GRID[0]!;
  let fhi = npv(net, hi);
  for (const lo of IRR_GRID.slice(1)) {
    const flo = npv(net, lo);
    if (flo === 0) return lo;
    if (Math.sign(flo) !== Math.sign(fhi)) {
      let a = lo;
      let b = hi;
      let fa = flo;
      for (let i = 0; i < 200; i++) {
        const mid = (a + b) / 2;
        const fm = npv(net, mid);
        if (fm === 0) return mid;
        if (Math.sign(fm) === Math.sign(fa)) {
          a = mid;
          fa = fm;
        } else b = mid;
      }
      return (a + b) / 2;
    }
    hi = lo;
    fhi = flo;
  }
  return null;
}

/** Years until cumulative undiscounted cash turns non-negative for good (linear within the month); null if never, 0 if never negative. */
export function paybackYears(net: readonly number[]): number | null {
  let cum = 0;
  let lastNegEnd = -1;
  const cums: number[] = [];
  for (let k = 0; k < net.length; k++) {
    cum += net[k]!;
    cums.push(cum);
    if (cum < 0) lastNegEnd = k;
  }
  if (lastNegEnd === -1) return 0;
  if (lastNegEnd === net.length - 1) return null;
  const before = cums[lastNegEnd]!;
  const step = net[lastNegEnd + 1]!;
  const frac = step > 0 ? -before / step : 1;
  return (lastNegEnd + frac) / 12;
}

/** One year of a cash-flow table (year 0 is the start: capex). */
export interface YearRow {
  year: number;
  revenueUsd: number;
  powerUsd: number;
  opexUsd: number;
  /** Revenue - power - opex (EBITDA; NOI for hosting). */
  ebitdaUsd: number;
  depreciationUsd: number;
  capexUsd: number;
  residualUsd: number;
  cashFlowUsd: number;
  cumulativeUsd: number;
}

/** One month of a cash-flow table (month 0 is the start). */
export type MonthRow = Omit<YearRow, "year"> & { month: number };

function row(f: Flows, from: number, to: number): Omit<YearRow, "year" | "cumulativeUsd"> {
  let revenue = 0;
  let power = 0;
  let opex = 0;
  let capex = 0;
  let residual = 0;
  let dep = 0;
  for (let k = from; k < to; k++) {
    revenue += f.revenue[k]!;
    power += f.power[k]!;
    opex += f.opex[k]!;
    capex += f.capex[k]!;
    residual += f.residual[k]!;
    dep += f.depreciation[k]!;
  }
  const ebitda = revenue - power - opex;
  return {
    revenueUsd: usd(revenue),
    powerUsd: usd(power),
    opexUsd: usd(opex),
    ebitdaUsd: usd(ebitda),
    depreciationUsd: usd(dep),
    capexUsd: usd(capex),
    residualUsd: usd(residual),
    cashFlowUsd: usd(ebitda - capex + residual),
  };
}

/** Yearly table: year 0 is the start slot, year y sums months 12(y-1)+1 .. 12y. */
export function yearly(f: Flows): YearRow[] {
  const months = f.revenue.length - 1;
  const out: YearRow[] = [];
  let cum = 0;
  for (let y = 0; y * 12 < months + 1; y++) {
    const r = y === 0 ? row(f, 0, 1) : row(f, 12 * (y - 1) + 1, Math.min(12 * y + 1, months + 1));
    cum += r.cashFlowUsd;
    out.push({ year: y, ...r, cumulativeUsd: cum });
  }
  return out;
}

/** Monthly table: one row per slot. */
export function monthly(f: Flows): MonthRow[] {
  const out: MonthRow[] = [];
  let cum = 0;
  for (let k = 0; k < f.revenue.length; k++) {
    const r = row(f, k, k + 1);
    cum += r.cashFlowUsd;
    out.push({ month: k, ...r, cumulativeUsd: cum });
  }
  return out;
}

/** Rounds a USD figure to whole dollars (output only; -0 becomes 0). */
export function usd(x: number): number {
  const r = Math.round(x);
  return r === 0 ? 0 : r;
}

/** Rounds to `digits` decimals (output only). */
export function roundTo(x: number, digits: number): number {
  const f = 10 ** digits;
  const r = Math.round(x * f) / f;
  return r === 0 ? 0 : r;
}
