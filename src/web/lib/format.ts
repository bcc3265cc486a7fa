import { formatMajor, parseMajor } from "../../domain/money.js";

/** Minor units as money, e.g. 240 EUR -> "€2.40". */
export function money(minor: number, currency = "EUR"): string {
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency }).format(minor / 100);
  } catch {
    return `${formatMajor(minor)} ${currency}`;
  }
}

/** A price per GPU-hour, e.g. "€2.40/GPU-h". */
export const perGpuHour = (minor: number, currency = "EUR"): string => `${money(minor, currency)}/GPU-h`;

/** A decimal amount typed by a person ("2.5") as minor units (250), exactly; null when it is not one. */
export function toMinor(text: string): number | null {
  try {
    return parseMajor(text.trim());
  } catch {
    return null;
  }
}

/** Minor units as the decimal a person would type ("2.50"). */
export const toMajorText = (minor: number): string => formatMajor(minor);

/** A timestamp (ms) in the reader's local time, or "—". */
export function when(ms: number | null | undefined): string {
  if (ms == null) return "—";
  return new Date(ms).toLocaleString("en-GB", {
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** A time of day (ms), e.g. "14:05". */
export const clock = (ms: number): string =>
  new Date(ms).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });

/** A duration in words, e.g. 3725 s -> "1 h 2 min". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const h = Math.floor(s / 3600);
  return `${h} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A number with thousands separators and at most `d` decimals. */
export const num = (x: number, d = 0): string => x.toLocaleString("en-GB", { maximumFractionDigits: d });

/** US dollars in millions, e.g. 12_345_678 -> "$12.3M". */
export function usdM(x: number): string {
  const a = Math.abs(x);
  if (a >= 1e6)
    return `${x < 0 ? "−" : ""}$${(a / 1e6).toLocaleString("en-GB", { minimumFractionDigits: 1, maximumFractionDigits: 1 })}M`;
  if (a >= 1e3) return `${x < 0 ? "−" : ""}$${num(a / 1e3, 0)}k`;
  return `${x < 0 ? "−" : ""}$${num(a, 0)}`;
}

/** The current month as YYYY-MM (UTC, as statements are cut). */
export const thisMonth = (): string => new Date().toISOString().slice(0, 7);
