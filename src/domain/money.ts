/**
 * Money is kept in integer minor units (cents for EUR), never floats.
 *
 * THE ROUNDING RULE (the only place money is rounded):
 * - Metering is in GPU-milliseconds (integers). A bill line's GPU-seconds are its GPU-milliseconds
 *   rounded UP to the whole second (per-second billing: a started second is a billed second).
 * - A line's amount = GPU-seconds x rate (minor units per GPU-hour) / 3600, rounded HALF UP to a
 *   whole minor unit, computed exactly with bigint.
 * - Rounding happens once per invoice line; totals are sums of rounded lines.
 */

/** An amount in integer minor units (e.g. euro cents). */
export type Minor = number;

/** Throws unless n is a safe integer: the guard every money entry point uses. */
export function assertMinor(n: number, what = "amount"): Minor {
  if (!Number.isSafeInteger(n))
    throw new RangeError(`${what} must be an integer number of minor units, got ${n}`);
  return n;
}

/** Integer division of a non-negative rational, rounded half up. */
export function divRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError("denominator must be positive");
  const neg = numerator < 0n;
  const n = neg ? -numerator : numerator;
  const q = (n * 2n + denominator) / (denominator * 2n);
  return neg ? -q : q;
}

/** Billable GPU-seconds for metered GPU-milliseconds: a started second is billed. */
export function billableGpuSeconds(gpuMs: number): number {
  if (!Number.isSafeInteger(gpuMs) || gpuMs < 0)
    throw new RangeError(`gpuMs must be a non-negative integer, got ${gpuMs}`);
  return Math.ceil(gpuMs / 1000);
}

/** Amount for GPU-seconds at a rate per GPU-hour, by the rounding rule above. */
export function costMinor(gpuSeconds: number, priceMinorPerGpuHour: Minor): Minor {
  if (!Number.isSafeInteger(gpuSeconds) || gpuSeconds < 0)
    throw new RangeError(`gpuSeconds must be a non-negative integer, got ${gpuSeconds}`);
  assertMinor(priceMinorPerGpuHour, "price");
  return Number(divRoundHalfUp(BigInt(gpuSeconds) * BigInt(priceMinorPerGpuHour), 3600n));
}

/** Parses a decimal string or number of major units ("2.50") into minor units, exactly (2 decimals). */
export function parseMajor(input: string | number, decimals = 2): Minor {
  const s = typeof input === "number" ? input.toFixed(decimals) : input.trim();
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new RangeError(`"${s}" is not a decimal amount like 2.50`);
  const frac = m[3] ?? "";
  if (frac.length > decimals) throw new RangeError(`"${s}" has more than ${decimals} decimals`);
  const v = Number(m[2]) * 10 ** decimals + Number(frac.padEnd(decimals, "0") || "0");
  return assertMinor(m[1] ? -v : v);
}

/** Formats minor units as a decimal string of major units ("2.50"). */
export function formatMajor(minor: Minor, decimals = 2): string {
  const neg = minor < 0;
  const a = Math.abs(minor);
  const d = 10 ** decimals;
  const s = `${Math.floor(a / d)}.${String(a % d).padStart(decimals, "0")}`;
  return neg ? `-${s}` : s;
}
