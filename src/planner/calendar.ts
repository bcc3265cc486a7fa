/**
 * Calendar arithmetic without Date (the planner reads no clock): civil dates to day numbers and
 * back (src/domain/calendar.ts), and the Bitcoin halving schedule estimated from block height.
 */
import { civilFromDays as civilDate, daysFromCivil } from "../domain/calendar.js";

export { daysFromCivil };

/** The civil date (YYYY-MM-DD) of a day number. */
export function civilFromDays(days: number): string {
  const { y, m, d } = civilDate(days);
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** Day number of "YYYY-MM-DD", or undefined when the text is not a real date. */
export function parseIsoDate(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  const days = daysFromCivil(y, mo, d);
  return civilFromDays(days) === s ? days : undefined;
}

/** Blocks between halvings. */
export const HALVING_INTERVAL = 210_000;
/** Nominal blocks per day (one every ten minutes). */
export const BLOCKS_PER_DAY = 144;
/** Average days per month of the planner's calendar (365.25 / 12). */
export const DAYS_PER_MONTH = 365.25 / 12;
/** Anchor of the height estimate: block 840,000 (the fourth halving) was mined on 2024-04-20. */
export const ANCHOR_HEIGHT = 840_000;
/** Day number of 2024-04-20. */
export const ANCHOR_DAY = daysFromCivil(2024, 4, 20);

/** Block height estimated at a day, at 144 blocks per day from the anchor. */
export function estimateHeight(day: number): number {
  return Math.max(0, Math.round(ANCHOR_HEIGHT + (day - ANCHOR_DAY) * BLOCKS_PER_DAY));
}

/** Block subsidy in BTC at a height: 50 BTC halved every 210,000 blocks. */
export function subsidyAtHeight(height: number): number {
  return 50 / 2 ** Math.floor(height / HALVING_INTERVAL);
}

/** A halving expected within the plan: its height, estimated date and month offset from the start. */
export interface HalvingEvent {
  readonly height: number;
  readonly date: string;
  /** Months after the start (fractional). */
  readonly monthOffset: number;
}

/** The halvings expected within `months` of a start at `startHeight` on `startDay`. */
export function halvingsWithin(startDay: number, startHeight: number, months: number): HalvingEvent[] {
  const out: HalvingEvent[] = [];
  let h = (Math.floor(startHeight / HALVING_INTERVAL) + 1) * HALVING_INTERVAL;
  for (;;) {
    const days = (h - startHeight) / BLOCKS_PER_DAY;
    const monthOffset = days / DAYS_PER_MONTH;
    if (monthOffset >= months) break;
    out.push({ height: h, date: civilFromDays(startDay + Math.round(days)), monthOffset });
    h += HALVING_INTERVAL;
  }
  return out;
}
