import type { GpuInfo } from "./nvidia-smi.js";
import { parseSmiCsv, runSmi, smiNumber } from "./smi-run.js";
import type { SmiResult } from "./smi-run.js";

/** The agent's verdict on the node's GPUs: when not healthy, the node is drained (no new work) and running work is told. */
export interface HealthVerdict {
  healthy: boolean;
  /** Why not, in words an operator can act on; empty when healthy. */
  reasons: string[];
}

/** Health fields asked for when the driver lists them (unknown fields would fail the whole query). */
export const HEALTH_FIELDS = [
  "index",
  "temperature.gpu",
  "ecc.errors.uncorrected.volatile.total",
  "remapped_rows.failure",
] as const;

/** One GPU's health reading; undefined fields are [N/A]/[Not Supported] on this card. */
export interface GpuHealthReading {
  index: number;
  tempC?: number;
  eccUncorrected?: number;
  /** "Yes" in remapped_rows.failure: the memory could not remap a bad row (A100 and newer). */
  rowRemapFailure?: boolean;
}

/** A driver error from the kernel log ("NVRM: Xid (PCI:0000:18:00): 79, ..."). */
export interface XidEvent {
  pciBusId: string;
  xid: number;
  text: string;
}

/** Thresholds; defaults in DEFAULT_HEALTH_LIMITS. */
export interface HealthLimits {
  /** Core temperature above which a GPU counts as overheated (°C). */
  maxTempC: number;
  /** Xid codes that drain the node. */
  drainXids: ReadonlySet<number>;
}

/**
 * Xids that mean the GPU cannot be trusted with work until an operator looks: 48 double-bit ECC,
 * 61/62 internal micro-controller halt, 63/64 row remapping events/failure, 74 NVLink error,
 * 79 fallen off the bus, 92 high single-bit ECC rate, 94/95 contained/uncontained ECC, 119/120 GSP errors.
 */
export const DEFAULT_HEALTH_LIMITS: HealthLimits = {
  maxTempC: 90,
  drainXids: new Set([48, 61, 62, 63, 64, 74, 79, 92, 94, 95, 119, 120]),
};

/** The health --query-gpu list for the fields this driver offers (undefined: not probed, ask the first three). */
export function healthQueryFields(available: Set<string> | undefined): string[] {
  if (!available) return HEALTH_FIELDS.slice(0, 3);
  return HEALTH_FIELDS.filter((f) => f === "index" || available.has(f));
}

/** Parses health query output for the given field list. */
export function parseHealth(csv: string, fields: readonly string[]): GpuHealthReading[] {
  const at = (row: string[], f: string): string | undefined => {
    const i = fields.indexOf(f);
    return i >= 0 ? row[i] : undefined;
  };
  const out: GpuHealthReading[] = [];
  for (const row of parseSmiCsv(csv)) {
    if (row.length !== fields.length) continue;
    const index = smiNumber(at(row, "index"));
    if (index === undefined) continue;
    const remap = at(row, "remapped_rows.failure");
    out.push({
      index,
      tempC: smiNumber(at(row, "temperature.gpu")),
      eccUncorrected: smiNumber(at(row, "ecc.errors.uncorrected.volatile.total")),
      rowRemapFailure: remap === undefined || remap.startsWith("[") ? undefined : /^yes$/i.test(remap),
    });
  }
  return out;
}

/** Finds NVIDIA Xid lines in kernel log text (dmesg or journalctl -k). */
export function parseXids(kernelLog: string): XidEvent[] {
  const out: XidEvent[] = [];
  for (const m of kernelLog.matchAll(/NVRM: Xid \(PCI:([0-9a-fA-F:.]+)\): (\d+),?\s*(.*)$/gm)) {
    out.push({ pciBusId: m[1]!, xid: Number(m[2]), text: m[3]!.trim() });
  }
  return out;
}

/** Whether two PCI bus ids name the same device ("00000000:18:00.0" vs the kernel's "0000:18:00"). */
function samePci(a: string, b: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/\.\d$/, "").split(":").slice(-2).join(":");
  return norm(a) === norm(b);
}

/** Decides the node's health from one nvidia-smi health query, the GPUs discovery found, and new Xids. */
export function assessHealth(input: {
  query: SmiResult;
  fields: readonly string[];
  expected: readonly GpuInfo[];
  xids?: readonly XidEvent[];
  limits?: HealthLimits;
}): HealthVerdict {
  const limits = input.limits ?? DEFAULT_HEALTH_LIMITS;
  const reasons: string[] = [];
  if (!input.query.ok) {
    reasons.push(
      input.query.kind === "timeout"
        ? `GPU unresponsive: ${input.query.message}`
        : `cannot read GPU health: ${input.query.message}`,
    );
  } else {
    const readings = parseHealth(input.query.stdout, input.fields);
    const seen = new Set(readings.map((r) => r.index));
    for (const g of input.expected)
      if (!seen.has(g.index))
        reasons.push(`GPU ${g.index} (${g.name}) no longer answers nvidia-smi (fallen off the bus?)`);
    for (const r of readings) {
      if (r.tempC !== undefined && r.tempC > limits.maxTempC)
        reasons.push(`GPU ${r.index} overheated: ${r.tempC} °C > ${limits.maxTempC} °C`);
      if (r.eccUncorrected !== undefined && r.eccUncorrected > 0)
        reasons.push(`GPU ${r.index} has ${r.eccUncorrected} uncorrected ECC errors since the driver loaded`);
      if (r.rowRemapFailure)
        reasons.push(`GPU ${r.index} failed to remap a bad memory row (remapped_rows.failure = Yes)`);
    }
  }
  for (const x of input.xids ?? []) {
    if (!limits.drainXids.has(x.xid)) continue;
    const gpu = input.expected.find((g) => g.pciBusId !== undefined && samePci(g.pciBusId, x.pciBusId));
    reasons.push(`driver error Xid ${x.xid} on ${gpu ? `GPU ${gpu.index}` : `PCI ${x.pciBusId}`}: ${x.text}`);
  }
  return { healthy: reasons.length === 0, reasons };
}

/** Runs the health query (bounded by timeoutMs) and assesses it. */
export async function checkHealth(
  expected: readonly GpuInfo[],
  opts: {
    bin?: string;
    timeoutMs?: number;
    available?: Set<string>;
    xids?: readonly XidEvent[];
    limits?: HealthLimits;
  } = {},
): Promise<HealthVerdict> {
  const fields = healthQueryFields(opts.available);
  const query = await runSmi([`--query-gpu=${fields.join(",")}`, "--format=csv,noheader,nounits"], opts);
  return assessHealth({ query, fields, expected, xids: opts.xids, limits: opts.limits });
}
