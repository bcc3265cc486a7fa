/**
 * Billing periods: calendar months in UTC, written "YYYY-MM".
 *
 * The cores may not use `Date` (time is an argument): the civil calendar is src/domain/calendar.ts.
 */
import { civilFromDays, daysFromCivil } from "../domain/calendar.js";
import { invalid } from "../domain/errors.js";

/** A billing period: one UTC calendar month, "YYYY-MM". */
export type Period = string;

const MS_PER_DAY = 86_400_000;
const PERIOD_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;

function fmt(y: number, m: number): Period {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}`;
}

/** Parses and checks a period "YYYY-MM"; throws a validation error naming the field otherwise. */
export function parsePeriod(p: string, field = "period"): { year: number; month: number } {
  const m = PERIOD_RE.exec(p);
  if (!m)
    throw invalid(`${field} must be a month written YYYY-MM (e.g. 2026-03), got "${p}"`, { field, value: p });
  return { year: Number(m[1]), month: Number(m[2]) };
}

/** The UTC calendar month that contains the instant `epochMs`. */
export function periodOf(epochMs: number): Period {
  if (!Number.isSafeInteger(epochMs) || epochMs < 0)
    throw invalid(`time must be a non-negative integer of epoch milliseconds, got ${epochMs}`, {
      value: epochMs,
    });
  const { y, m } = civilFromDays(Math.floor(epochMs / MS_PER_DAY));
  return fmt(y, m);
}

/** The month after `p`. */
export function nextPeriod(p: Period): Period {
  const { year, month } = parsePeriod(p);
  return month === 12 ? fmt(year + 1, 1) : fmt(year, month + 1);
}

/** First instant of the period and first instant of the next one, epoch ms (half-open range). */
export function periodBounds(p: Period): { startMs: number; endMs: number } {
  const { year, month } = parsePeriod(p);
  const startMs = daysFromCivil(year, month, 1) * MS_PER_DAY;
  const endMs =
    month === 12
      ? daysFromCivil(year + 1, 1, 1) * MS_PER_DAY
      : daysFromCivil(year, month + 1, 1) * MS_PER_DAY;
  return { startMs, endMs };
}

/**
 * The period a line for usage of `usagePeriod` is billed in: the usage period itself while it is open,
 * otherwise the first later period that is not closed (late usage), with a note saying so.
 */
export function billingPeriodFor(
  usagePeriod: Period,
  closedPeriods: ReadonlySet<Period>,
): { period: Period; late: boolean; note?: string } {
  parsePeriod(usagePeriod, "usagePeriod");
  if (!closedPeriods.has(usagePeriod)) return { period: usagePeriod, late: false };
  let p = nextPeriod(usagePeriod);
  // closedPeriods is finite, so this ends after at most closedPeriods.size steps.
  while (closedPeriods.has(p)) p = nextPeriod(p);
  return {
    period: p,
    late: true,
    note: `late usage from ${usagePeriod} (period closed), billed in ${p}`,
  };
}
