import { parseSmiCsv, runSmi, smiNumber } from "./smi-run.js";

/** One power reading of one GPU at time t (epoch ms). */
export interface PowerSample {
  index: number;
  t: number;
  /** Board power in W (power.draw.instant where the driver has it, else power.draw). */
  powerW?: number;
  /** The GPU's own energy counter in mJ since the driver loaded (total_energy_consumption, Volta and newer). */
  energyMj?: number;
  /** GPU utilisation in percent over the driver's last sample period (utilization.gpu). */
  utilPct?: number;
}

/** Power fields in order of preference; the first that the driver lists is used. */
export const POWER_FIELD_CHOICES = ["power.draw.instant", "power.draw"] as const;
/** The energy counter field; asked for only when `nvidia-smi --help-query-gpu` lists it. */
export const ENERGY_FIELD = "total_energy_consumption";
/** The utilisation field (instances' --idle-stop); asked for when the driver lists it. */
export const UTIL_FIELD = "utilization.gpu";

/** Field names that `nvidia-smi --help-query-gpu` documents (quoted names in its text). */
export function parseHelpQueryGpu(help: string): Set<string> {
  const out = new Set<string>();
  for (const m of help.matchAll(/"([a-z][a-z0-9_.]*)"/g)) out.add(m[1]!);
  return out;
}

/** The --query-gpu list for power sampling, given the fields this driver offers (undefined: not probed). */
export function powerQueryFields(available: Set<string> | undefined): string[] {
  const power = POWER_FIELD_CHOICES.find((f) => available?.has(f)) ?? "power.draw";
  const fields = ["index", power];
  if (available?.has(ENERGY_FIELD)) fields.push(ENERGY_FIELD);
  if (available?.has(UTIL_FIELD)) fields.push(UTIL_FIELD);
  return fields;
}

/** Parses power sampling output for the given field list, all rows stamped with t. */
export function parsePowerSamples(csv: string, fields: readonly string[], t: number): PowerSample[] {
  const col = (name: string): number => fields.indexOf(name);
  const pi = fields.findIndex((f) => f.startsWith("power.draw"));
  const ei = col(ENERGY_FIELD);
  const ui = col(UTIL_FIELD);
  const out: PowerSample[] = [];
  for (const row of parseSmiCsv(csv)) {
    if (row.length !== fields.length) continue;
    const index = smiNumber(row[col("index")]);
    if (index === undefined) continue;
    out.push({
      index,
      t,
      powerW: pi >= 0 ? smiNumber(row[pi]) : undefined,
      energyMj: ei >= 0 ? smiNumber(row[ei]) : undefined,
      ...(ui >= 0 && smiNumber(row[ui]) !== undefined ? { utilPct: smiNumber(row[ui]) } : {}),
    });
  }
  return out;
}

/** Reads power (and the energy counter where present) of every GPU once; fields from powerQueryFields(). */
export async function samplePower(
  fields: readonly string[],
  now: () => number,
  opts: { bin?: string; timeoutMs?: number } = {},
): Promise<PowerSample[] | { error: string }> {
  const t = now();
  const r = await runSmi([`--query-gpu=${fields.join(",")}`, "--format=csv,noheader,nounits"], opts);
  return r.ok ? parsePowerSamples(r.stdout, fields, t) : { error: r.message };
}

/** Asks the driver which query fields it knows; undefined when nvidia-smi cannot tell. */
export async function probeQueryFields(
  opts: { bin?: string; timeoutMs?: number } = {},
): Promise<Set<string> | undefined> {
  const r = await runSmi(["--help-query-gpu"], opts);
  return r.ok ? parseHelpQueryGpu(r.stdout) : undefined;
}

/**
 * Power model of a simulated GPU: 10% of TDP at idle plus 90% of TDP scaled by utilisation (0..1).
 * An H100 SXM (700 W) idles at 70 W and draws 700 W flat out, close to what such boards report.
 */
export function simulatedPowerW(tdpW: number, utilisation: number): number {
  const u = Math.min(1, Math.max(0, utilisation));
  return tdpW * (0.1 + 0.9 * u);
}
