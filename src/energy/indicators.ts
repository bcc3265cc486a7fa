/**
 * EU data-centre key performance indicators of one site over one period, as named in Commission
 * Delegated Regulation (EU) 2024/1364 (under Article 12 of Directive (EU) 2023/1791):
 *   PUE = E_DC / E_IT        power usage effectiveness
 *   WUE = W_IN / E_IT        water usage effectiveness, L/kWh
 *   ERF = E_REUSE / E_DC     energy reuse factor
 *   REF = E_RES-TOT / E_DC   renewable energy factor
 * Inputs are the operator's meter readings (kWh, m3) plus Zumbido's own metered IT energy.
 */
import { DomainError } from "../domain/errors.js";
import { formatIsoUtc } from "./series.js";

/** Installed IT power demand from which the regulation requires reporting, kW. */
export const REPORTING_THRESHOLD_KW = 500;

/** Meter readings of one site over one period. */
export interface IndicatorInputs {
  siteId: string;
  periodStartMs: number;
  periodEndMs: number;
  /** E_DC: total energy consumed by the data centre, kWh. */
  eDcKwh: number;
  /** E_IT: energy consumed by the IT equipment, kWh; defaults to zumbidoItKwh. */
  eItKwh?: number;
  /** IT energy metered by Zumbido's agents (GPU nodes), kWh; a part of E_IT. */
  zumbidoItKwh?: number;
  /** E_RES-TOT: renewable energy consumed (contracts, guarantees of origin, on-site), kWh. */
  eResTotKwh?: number;
  /** E_REUSE: energy reused outside the data centre (e.g. waste heat delivered), kWh. */
  eReuseKwh?: number;
  /** W_IN: total water input, cubic metres. */
  wInM3?: number;
  /** Installed IT power demand, kW (decides whether the regulation binds the site). */
  installedItPowerKw: number;
}

/** The indicators, with the inputs they came from and notices in words. */
export interface SiteIndicators {
  siteId: string;
  periodStartMs: number;
  periodEndMs: number;
  eDcKwh: number;
  eItKwh: number;
  eResTotKwh: number | null;
  eReuseKwh: number | null;
  wInM3: number | null;
  installedItPowerKw: number;
  pue: number;
  ref: number | null;
  erf: number | null;
  /** Litres per kWh of IT energy. */
  wueLPerKwh: number | null;
  /** Share of E_IT metered by Zumbido, when both are known. */
  zumbidoItShare: number | null;
  /** False when installed IT power is under 500 kW: the regulation does not bind the site. */
  reportingRequired: boolean;
  notices: string[];
}

/** One problem with an input: the field and what to do. */
export interface IndicatorProblem {
  field: keyof IndicatorInputs;
  message: string;
}

/** Validates the readings (every problem at once) and computes PUE, REF, ERF and WUE. */
export function computeIndicators(input: IndicatorInputs): SiteIndicators {
  const problems = validateIndicatorInputs(input);
  if (problems.length > 0)
    throw new DomainError(
      "validation",
      `site ${input.siteId}: ${problems.map((p) => `${p.field}: ${p.message}`).join("; ")}`,
      { problems },
    );
  const eIt = input.eItKwh ?? input.zumbidoItKwh!;
  const eDc = input.eDcKwh;
  const notices: string[] = [];
  const reportingRequired = input.installedItPowerKw >= REPORTING_THRESHOLD_KW;
  if (!reportingRequired)
    notices.push(
      `installed IT power ${input.installedItPowerKw} kW is under ${REPORTING_THRESHOLD_KW} kW: Delegated Regulation (EU) 2024/1364 does not require this site to report; the figures are informative`,
    );
  if (input.eItKwh === undefined)
    notices.push("E_IT is Zumbido's metered IT energy only (no operator IT meter reading was given)");
  for (const [f, name] of [
    ["eResTotKwh", "REF (E_RES-TOT)"],
    ["eReuseKwh", "ERF (E_REUSE)"],
    ["wInM3", "WUE (W_IN)"],
  ] as const)
    if (input[f] === undefined) notices.push(`${name} not given: the indicator is left empty`);
  return {
    siteId: input.siteId,
    periodStartMs: input.periodStartMs,
    periodEndMs: input.periodEndMs,
    eDcKwh: eDc,
    eItKwh: eIt,
    eResTotKwh: input.eResTotKwh ?? null,
    eReuseKwh: input.eReuseKwh ?? null,
    wInM3: input.wInM3 ?? null,
    installedItPowerKw: input.installedItPowerKw,
    pue: eDc / eIt,
    ref: input.eResTotKwh === undefined ? null : input.eResTotKwh / eDc,
    erf: input.eReuseKwh === undefined ? null : input.eReuseKwh / eDc,
    wueLPerKwh: input.wInM3 === undefined ? null : (input.wInM3 * 1000) / eIt,
    zumbidoItShare:
      input.zumbidoItKwh !== undefined && input.eItKwh !== undefined
        ? input.zumbidoItKwh / input.eItKwh
        : null,
    reportingRequired,
    notices,
  };
}

/** Every problem with the readings, each naming its field and the fix (empty when valid). */
export function validateIndicatorInputs(input: IndicatorInputs): IndicatorProblem[] {
  const out: IndicatorProblem[] = [];
  const add = (field: keyof IndicatorInputs, message: string): void => {
    out.push({ field, message });
  };
  if (!input.siteId) add("siteId", "give the site's id");
  if (!Number.isFinite(input.periodStartMs) || !Number.isFinite(input.periodEndMs))
    add("periodStartMs", "give the period's start and end as epoch ms");
  else if (!(input.periodEndMs > input.periodStartMs))
    add("periodEndMs", "the period must end after it starts");
  const numeric: (keyof IndicatorInputs)[] = [
    "eDcKwh",
    "eItKwh",
    "zumbidoItKwh",
    "eResTotKwh",
    "eReuseKwh",
    "wInM3",
    "installedItPowerKw",
  ];
  const bad = new Set<keyof IndicatorInputs>();
  for (const f of numeric) {
    const v = input[f];
    if (v === undefined && f !== "eDcKwh" && f !== "installedItPowerKw") continue;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      add(f, `must be a number, got ${String(v)}`);
      bad.add(f);
    } else if (v < 0) {
      add(f, `a meter reading cannot be negative (got ${v}); check the meter or the sign of the export`);
      bad.add(f);
    }
  }
  if (input.eItKwh === undefined && input.zumbidoItKwh === undefined)
    add("eItKwh", "give E_IT (the IT meter reading) or Zumbido's metered IT energy (zumbidoItKwh)");
  if (bad.size > 0) return out;
  const eDc = input.eDcKwh;
  const eIt = input.eItKwh ?? input.zumbidoItKwh;
  if (eDc === 0) add("eDcKwh", "E_DC is zero: no indicator can be computed for a period without consumption");
  if (eIt === 0)
    add(input.eItKwh !== undefined ? "eItKwh" : "zumbidoItKwh", "E_IT is zero: PUE and WUE divide by it");
  if (eIt !== undefined && eIt > eDc)
    add(
      input.eItKwh !== undefined ? "eItKwh" : "zumbidoItKwh",
      `E_IT (${eIt} kWh) exceeds E_DC (${eDc} kWh), which would give a PUE of ${(eDc / eIt).toFixed(3)} < 1: E_DC must include the IT load; check that both meters cover the same period`,
    );
  if (input.zumbidoItKwh !== undefined && input.eItKwh !== undefined && input.zumbidoItKwh > input.eItKwh)
    add(
      "zumbidoItKwh",
      `Zumbido's metered IT energy (${input.zumbidoItKwh} kWh) exceeds the IT meter (${input.eItKwh} kWh): the GPU nodes are part of the IT load; check the IT meter and the period`,
    );
  if (input.eResTotKwh !== undefined && input.eResTotKwh > eDc)
    add(
      "eResTotKwh",
      `renewable energy (${input.eResTotKwh} kWh) exceeds total consumption E_DC (${eDc} kWh): count only renewable energy the data centre consumed in the period (REF cannot exceed 1)`,
    );
  if (input.eReuseKwh !== undefined && input.eReuseKwh > eDc)
    add(
      "eReuseKwh",
      `reused energy (${input.eReuseKwh} kWh) exceeds E_DC (${eDc} kWh): give the energy delivered for reuse in the period (ERF cannot exceed 1)`,
    );
  return out;
}

/** Rounds an indicator for export (3 decimals; inputs are exported as given). */
const r3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);

/** The export record of one site-period (indicators rounded to 3 decimals, ISO period bounds). */
export interface IndicatorExport {
  siteId: string;
  periodStart: string;
  periodEnd: string;
  eDcKwh: number;
  eItKwh: number;
  eResTotKwh: number | null;
  eReuseKwh: number | null;
  wInM3: number | null;
  installedItPowerKw: number;
  PUE: number;
  REF: number | null;
  ERF: number | null;
  WUE: number | null;
  reportingRequired: boolean;
  notices: string[];
}

/** Indicators as plain export records (JSON-ready). */
export function indicatorsToJson(rows: SiteIndicators[]): IndicatorExport[] {
  return rows.map((r) => ({
    siteId: r.siteId,
    periodStart: formatIsoUtc(r.periodStartMs),
    periodEnd: formatIsoUtc(r.periodEndMs),
    eDcKwh: r.eDcKwh,
    eItKwh: r.eItKwh,
    eResTotKwh: r.eResTotKwh,
    eReuseKwh: r.eReuseKwh,
    wInM3: r.wInM3,
    installedItPowerKw: r.installedItPowerKw,
    PUE: r3(r.pue)!,
    REF: r3(r.ref),
    ERF: r3(r.erf),
    WUE: r3(r.wueLPerKwh),
    reportingRequired: r.reportingRequired,
    notices: r.notices,
  }));
}

/** CSV column headers, with units. */
export const INDICATOR_CSV_HEADER = [
  "site_id",
  "period_start",
  "period_end",
  "E_DC_kWh",
  "E_IT_kWh",
  "E_RES-TOT_kWh",
  "E_REUSE_kWh",
  "W_IN_m3",
  "installed_IT_power_kW",
  "PUE",
  "REF",
  "ERF",
  "WUE_L_per_kWh",
  "reporting_required",
  "notices",
] as const;

/** Indicators as CSV (RFC 4180 quoting, LF line ends, empty cell for a missing figure). */
export function indicatorsToCsv(rows: SiteIndicators[]): string {
  const cell = (v: string | number | boolean | null): string => {
    if (v === null) return "";
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = indicatorsToJson(rows).map((r) =>
    [
      r.siteId,
      r.periodStart,
      r.periodEnd,
      r.eDcKwh,
      r.eItKwh,
      r.eResTotKwh,
      r.eReuseKwh,
      r.wInM3,
      r.installedItPowerKw,
      r.PUE,
      r.REF,
      r.ERF,
      r.WUE,
      r.reportingRequired,
      r.notices.join(" | "),
    ]
      .map(cell)
      .join(","),
  );
  return [INDICATOR_CSV_HEADER.join(","), ...lines].join("\n") + "\n";
}
