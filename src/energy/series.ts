/**
 * Regular time series (hourly or finer) of grid carbon intensity (gCO2e/kWh) or energy price
 * (EUR/MWh), and the CSV formats they are imported from. Pure: no Date, no I/O.
 *
 * Time is epoch milliseconds, UTC. A series is cyclic: past its end (or before its start) it
 * repeats from its start, so a one-year series covers a simulation of any length.
 */
import { civilFromMs, daysFromCivil } from "../domain/calendar.js";
import { invalid } from "../domain/errors.js";

export { daysFromCivil };

/** A regular series: values[i] holds for [startMs + i*stepMs, startMs + (i+1)*stepMs). */
export interface HourlySeries {
  startMs: number;
  stepMs: number;
  values: number[];
}

/** One hour in milliseconds. */
export const HOUR_MS = 3_600_000;

/** Which Electricity Maps column to read: direct (combustion, Scope 2) or life-cycle. */
export type CarbonBasis = "direct" | "lca";

/** Options of parseSeriesCsv. */
export interface ParseSeriesOptions {
  /** Electricity Maps exports: which intensity column; default "direct" (see docs/energy.md). */
  basis?: CarbonBasis;
  /** Generic CSV with a header: the value column's name; default the second column. */
  valueColumn?: string;
  /** Generic CSV: the value column's 0-based index (1 = second column), with or without a header. */
  valueIndex?: number;
  /** Step for a one-row series; default one hour. Longer series infer it from the first two rows. */
  stepMs?: number;
  /** "error" (default): a missing step or empty value is an error; "carry-forward": repeat the last value. */
  gaps?: "error" | "carry-forward";
  /** Reject negative values (carbon intensity); prices may be negative, so default false. */
  nonNegative?: boolean;
}

/** Which format parseSeriesCsvDetailed recognised, and which column it read. */
export interface ParsedSeries {
  series: HourlySeries;
  format: "generic" | "electricity-maps";
  /** Header name of the value column, or "column 2" when there was no header. */
  column: string;
  /** Number of steps filled by carry-forward (0 unless gaps = "carry-forward"). */
  filled: number;
}

/** Parses a generic `timestamp,value` CSV or an Electricity Maps export into a series. */
export function parseSeriesCsv(text: string, options: ParseSeriesOptions = {}): HourlySeries {
  return parseSeriesCsvDetailed(text, options).series;
}

/** Like parseSeriesCsv, and also says which format and column were read. */
export function parseSeriesCsvDetailed(text: string, options: ParseSeriesOptions = {}): ParsedSeries {
  const gaps = options.gaps ?? "error";
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const rows: { line: number; fields: string[] }[] = [];
  lines.forEach((raw, i) => {
    const t = raw.trim();
    if (t === "" || t.startsWith("#")) return;
    rows.push({ line: i + 1, fields: splitCsvLine(t) });
  });
  if (rows.length === 0) throw invalid("the series CSV is empty: give at least one `timestamp,value` row");

  // 1. Header or not: a first row whose first field is not a timestamp is a header.
  let header: string[] | null = null;
  const first = rows[0]!;
  if (tryParseTimestamp(first.fields[0] ?? "") === null) {
    header = first.fields.map((f) => f.trim());
    rows.shift();
  }
  if (rows.length === 0) throw invalid("the series CSV has a header but no data rows");

  // 2. Which columns hold the time and the value.
  let timeCol = 0;
  let valueCol = 1;
  let format: ParsedSeries["format"] = "generic";
  let column = "column 2";
  if (header) {
    const emCol = electricityMapsColumn(header, options.basis ?? "direct");
    if (emCol !== null) {
      format = "electricity-maps";
      valueCol = emCol;
      const dt = header.findIndex((h) => /^datetime/i.test(h));
      timeCol = dt >= 0 ? dt : 0;
    } else if (options.valueColumn !== undefined) {
      const i = header.findIndex((h) => h.toLowerCase() === options.valueColumn!.toLowerCase());
      if (i < 0)
        throw invalid(
          `valueColumn "${options.valueColumn}" is not in the header (${header.join(", ")}): name one of those columns`,
          { field: "valueColumn" },
        );
      valueCol = i;
    } else if (options.valueIndex !== undefined) valueCol = options.valueIndex;
    if (valueCol >= header.length)
      throw invalid(
        `the header has ${header.length} column(s); a series needs a timestamp and a value column`,
      );
    column = header[valueCol]!;
  } else if (options.valueColumn !== undefined) {
    throw invalid(`valueColumn "${options.valueColumn}" was given but the CSV has no header line`, {
      field: "valueColumn",
    });
  } else if (options.valueIndex !== undefined) {
    valueCol = options.valueIndex;
    column = `column ${valueCol + 1}`;
  }
  if (!Number.isSafeInteger(valueCol) || valueCol < 1 || valueCol === timeCol)
    throw invalid(`valueIndex must be a column index >= 1 other than the timestamp's, got ${valueCol}`, {
      field: "valueIndex",
    });

  // 3. Parse rows, check the regular step, fill or refuse gaps.
  const parsed: { line: number; t: number; v: number | null }[] = rows.map(({ line, fields }) => {
    const ts = (fields[timeCol] ?? "").trim();
    const t = tryParseTimestamp(ts);
    if (t === null) throw invalid(`line ${line}: "${ts}" is not a timestamp (use ISO 8601 or epoch seconds)`);
    if (typeof t === "string") throw invalid(`line ${line}: ${t}`);
    const vs = (fields[valueCol] ?? "").trim();
    if (vs === "") return { line, t, v: null };
    const v = Number(vs);
    if (!Number.isFinite(v)) throw invalid(`line ${line}: value "${vs}" is not a number`);
    if (options.nonNegative && v < 0)
      throw invalid(`line ${line}: value ${v} is negative; this series must be >= 0`);
    return { line, t, v };
  });

  const p0 = parsed[0]!;
  let stepMs = options.stepMs ?? HOUR_MS;
  if (parsed.length >= 2) {
    const p1 = parsed[1]!;
    stepMs = p1.t - p0.t;
    if (stepMs <= 0) throw orderError(p1.line, p0.line, p1.t === p0.t);
  }
  if (!Number.isSafeInteger(stepMs) || stepMs <= 0)
    throw invalid(`stepMs must be a positive whole number of milliseconds, got ${stepMs}`, {
      field: "stepMs",
    });

  const values: number[] = [];
  let filled = 0;
  let prev = p0;
  for (const p of parsed) {
    if (p !== p0) {
      if (p.t <= prev.t) throw orderError(p.line, prev.line, p.t === prev.t);
      const off = p.t - p0.t;
      if (off % stepMs !== 0)
        throw invalid(
          `line ${p.line}: timestamp is not on the ${stepMs / 1000} s grid set by the first two rows (line ${p0.line}, step ${stepMs / 1000} s)`,
        );
      const missing = (p.t - prev.t) / stepMs - 1;
      if (missing > 0) {
        if (gaps === "error")
          throw invalid(
            `line ${p.line}: ${missing} step(s) missing after line ${prev.line}; add the rows or parse with gaps: "carry-forward"`,
          );
        for (let k = 0; k < missing; k++) values.push(values[values.length - 1]!);
        filled += missing;
      }
    }
    if (p.v === null) {
      if (gaps === "error" || values.length === 0)
        throw invalid(
          `line ${p.line}: the value is empty; fill it${values.length === 0 ? " (the first value cannot be carried forward)" : ' or parse with gaps: "carry-forward"'}`,
        );
      values.push(values[values.length - 1]!);
      filled++;
    } else values.push(p.v);
    prev = p;
  }
  return { series: { startMs: p0.t, stepMs, values }, format, column, filled };
}

function orderError(line: number, prevLine: number, duplicate: boolean): Error {
  return duplicate
    ? invalid(`line ${line}: duplicate timestamp (same as line ${prevLine}); keep one row per step`)
    : invalid(`line ${line}: timestamp is earlier than line ${prevLine}; sort the rows by time`);
}

/** Index of the Electricity Maps carbon-intensity column for a basis, or null if not that format. */
function electricityMapsColumn(header: string[], basis: CarbonBasis): number | null {
  const isCi = (h: string): boolean => /carbon intensity/i.test(h);
  if (!header.some(isCi)) return null;
  const want = basis === "direct" ? /\(direct\)/i : /\((lca|life[ -]?cycle)\)/i;
  const i = header.findIndex((h) => isCi(h) && want.test(h));
  if (i < 0)
    throw invalid(
      `this Electricity Maps export has no ${basis} carbon-intensity column (columns: ${header.join(", ")}); choose basis "${basis === "direct" ? "lca" : "direct"}"`,
      { field: "basis" },
    );
  return i;
}

/** Splits one CSV line on commas, honouring double quotes. */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Parses an ISO 8601 timestamp (date, optional time, optional Z or +hh:mm; no offset means UTC)
 * or epoch seconds into epoch ms. Returns null when it does not look like a timestamp, and an
 * error message (string) when it looks like one but is impossible.
 */
export function tryParseTimestamp(s: string): number | null | string {
  const t = s.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) {
    const sec = Number(t);
    if (Math.abs(sec) >= 1e11)
      return `"${t}" looks like epoch milliseconds; give epoch seconds (divide by 1000)`;
    return Math.round(sec * 1000);
  }
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(
      t,
    );
  if (!m) return null;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || se > 59)
    return `"${t}" is not a valid date and time`;
  const frac = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  let offMin = 0;
  const z = m[8];
  if (z && z.toUpperCase() !== "Z") {
    const sign = z.startsWith("-") ? -1 : 1;
    const digits = z.slice(1).replace(":", "");
    offMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  }
  return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi - offMin) * 60_000 + se * 1000 + frac;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** The UTC calendar month ("YYYY-MM") holding an epoch-ms instant. */
export function utcMonth(ms: number): string {
  const { y, m } = civilFromMs(ms);
  return `${pad(y, 4)}-${pad(m)}`;
}

/** ISO 8601 UTC text of an epoch-ms instant, like Date.prototype.toISOString (years 0000-9999). */
export function formatIsoUtc(ms: number): string {
  const { y, m, d } = civilFromMs(ms);
  const t = ((ms % 86_400_000) + 86_400_000) % 86_400_000;
  const h = Math.floor(t / HOUR_MS);
  const mi = Math.floor((t % HOUR_MS) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}.${pad(t % 1000, 3)}Z`;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

/** Throws unless the series is usable (positive step, at least one finite value). */
export function assertSeries(series: HourlySeries, what = "series"): void {
  if (!Number.isSafeInteger(series.stepMs) || series.stepMs <= 0)
    throw invalid(`${what}.stepMs must be a positive whole number of milliseconds, got ${series.stepMs}`);
  if (!Number.isFinite(series.startMs)) throw invalid(`${what}.startMs must be an epoch-ms number`);
  if (series.values.length === 0) throw invalid(`${what} has no values; give at least one`);
}

/** Index (cyclic) of the step holding instant ms. */
export function stepIndex(series: HourlySeries, ms: number): number {
  const n = series.values.length;
  const k = Math.floor((ms - series.startMs) / series.stepMs);
  return ((k % n) + n) % n;
}

/** The value in force at instant ms; repeats from the start past the end (and before the start). */
export function valueAt(series: HourlySeries, ms: number): number {
  assertSeries(series);
  return series.values[stepIndex(series, ms)]!;
}

/** The value at an offset from the series' start: offset 0 is the first step (simulator time). */
export function valueAtOffset(series: HourlySeries, offsetMs: number): number {
  return valueAt(series, series.startMs + offsetMs);
}

/** Arithmetic mean of the values (each step counts once). */
export function mean(series: HourlySeries): number {
  assertSeries(series);
  let s = 0;
  for (const v of series.values) s += v;
  return s / series.values.length;
}

/** The steps overlapping [fromMs, toMs), read cyclically; startMs is aligned to the step grid. */
export function slice(series: HourlySeries, fromMs: number, toMs: number): HourlySeries {
  assertSeries(series);
  if (!(toMs >= fromMs)) throw invalid(`slice: toMs (${toMs}) must be >= fromMs (${fromMs})`);
  const k0 = Math.floor((fromMs - series.startMs) / series.stepMs);
  const k1 = toMs === fromMs ? k0 : Math.ceil((toMs - series.startMs) / series.stepMs);
  const values: number[] = [];
  for (let k = k0; k < k1; k++)
    values.push(series.values[stepIndex(series, series.startMs + k * series.stepMs)]!);
  return { startMs: series.startMs + k0 * series.stepMs, stepMs: series.stepMs, values };
}

/** Integral of the series over [fromMs, toMs) in value x hours (e.g. gCO2e/kWh x h), cyclic. */
export function integrate(series: HourlySeries, fromMs: number, toMs: number): number {
  assertSeries(series);
  if (!(toMs >= fromMs)) throw invalid(`integrate: toMs (${toMs}) must be >= fromMs (${fromMs})`);
  const { startMs, stepMs } = series;
  let sum = 0;
  let t = fromMs;
  while (t < toMs) {
    const k = Math.floor((t - startMs) / stepMs);
    const end = Math.min(toMs, startMs + (k + 1) * stepMs);
    sum += series.values[stepIndex(series, t)]! * (end - t);
    t = end;
  }
  return sum / HOUR_MS;
}

/** Time-weighted mean over [fromMs, toMs); the value at fromMs for an empty interval. */
export function meanOver(series: HourlySeries, fromMs: number, toMs: number): number {
  if (toMs === fromMs) return valueAt(series, fromMs);
  return (integrate(series, fromMs, toMs) * HOUR_MS) / (toMs - fromMs);
}
