/**
 * A hand-written check of usage batches, equivalent to the zod schema of POST /v1/agent/usage
 * (`{ records: UsageRecord[] }`, at most 100,000, each record strict) at a fraction of its cost
 * per record. Problems are reported with their path, as the API's problem+json does for zod.
 */
import { invalid, type DomainError, type UsageRecord } from "../domain/index.js";

/** One problem in a batch: where and what. */
export interface UsageIssue {
  path: string;
  message: string;
}

const KEYS = new Set([
  "nodeId",
  "seq",
  "leaseId",
  "fromMs",
  "toMs",
  "gpuMs",
  "energyMilliWh",
  "energySource",
]);
const INTS = ["fromMs", "toMs", "gpuMs", "energyMilliWh"] as const;
const MAX_ISSUES = 20;
/** The field's name before 0015 (milliwatt-hours as `Mwh`): agents of earlier releases and their outboxes send it. */
const LEGACY_ENERGY = "energyMwh";

function checkRecord(r: unknown, i: number, out: UsageIssue[]): void {
  const at = `records.${i}`;
  if (typeof r !== "object" || r === null || Array.isArray(r)) {
    out.push({ path: at, message: "must be an object" });
    return;
  }
  const o = r as Record<string, unknown>;
  if (LEGACY_ENERGY in o) {
    if ("energyMilliWh" in o)
      out.push({
        path: `${at}.${LEGACY_ENERGY}`,
        message: "is the old name of energyMilliWh; send only one",
      });
    else {
      o.energyMilliWh = o[LEGACY_ENERGY];
      delete o[LEGACY_ENERGY];
    }
  }
  if (typeof o.nodeId !== "string") out.push({ path: `${at}.nodeId`, message: "must be a string" });
  if (typeof o.leaseId !== "string") out.push({ path: `${at}.leaseId`, message: "must be a string" });
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) <= 0)
    out.push({ path: `${at}.seq`, message: "must be a positive integer" });
  for (const k of INTS) {
    const v = o[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0)
      out.push({ path: `${at}.${k}`, message: "must be a non-negative integer" });
  }
  if (o.energySource !== "measured" && o.energySource !== "modelled")
    out.push({ path: `${at}.energySource`, message: 'must be "measured" or "modelled"' });
  for (const k of Object.keys(o))
    if (!KEYS.has(k))
      out.push({ path: `${at}.${k}`, message: "is not a field of a usage record; remove it" });
}

/** Checks a usage batch body; returns the records or the first problems found (at most 20). */
export function validateUsageBatch(
  body: unknown,
  max = 100_000,
): { ok: true; records: UsageRecord[] } | { ok: false; issues: UsageIssue[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, issues: [{ path: "body", message: "must be an object { records: [...] }" }] };
  const records = (body as { records?: unknown }).records;
  // Other top-level keys are ignored (stripped), as the route's zod object does.
  if (!Array.isArray(records))
    return { ok: false, issues: [{ path: "records", message: "must be an array of usage records" }] };
  if (records.length > max)
    return {
      ok: false,
      issues: [
        { path: "records", message: `holds ${records.length} records; send at most ${max} per batch` },
      ],
    };
  const issues: UsageIssue[] = [];
  for (let i = 0; i < records.length && issues.length < MAX_ISSUES; i++) checkRecord(records[i], i, issues);
  return issues.length
    ? { ok: false, issues: issues.slice(0, MAX_ISSUES) }
    : { ok: true, records: records as UsageRecord[] };
}

/** The validation DomainError (HTTP 400) that names every problem's path. */
export function usageBatchError(issues: UsageIssue[]): DomainError {
  return invalid(`the usage batch is invalid: ${issues.map((x) => `${x.path} ${x.message}`).join("; ")}`, {
    errors: issues,
    field: issues[0]!.path,
  });
}

/** The same, throwing usageBatchError (HTTP 400). */
export function parseUsageBatch(body: unknown, max = 100_000): UsageRecord[] {
  const r = validateUsageBatch(body, max);
  if (r.ok) return r.records;
  throw usageBatchError(r.issues);
}
