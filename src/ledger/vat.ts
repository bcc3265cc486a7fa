/**
 * VAT for GPU time sold through the marketplace.
 *
 * Who supplies: the operator, from the site's country. Who buys: the tenant.
 * Rules (a deliberate simplification, written down in docs/billing.md):
 * 1. Site outside the EU: no VAT ("outside-scope").
 * 2. Site in the EU and the tenant gives a VAT id whose FORMAT is valid for another member state:
 *    EU B2B reverse charge, 0 % on the invoice, the customer accounts for the VAT (Art. 196,
 *    Directive 2006/112/EC). Only the format is checked (regex per country prefix); there is no
 *    VIES lookup here, a shell may add one.
 * 3. Site in the EU otherwise (same-country business, or a consumer): the standard rate of the
 *    site's country ("domestic"). Option `b2c: "customer-country"` charges an EU consumer the rate
 *    of the consumer's own member state instead (the OSS rule for electronically supplied services).
 * 4. Tenant outside the EU with an EU site, without an EU VAT id: still rule 3 (domestic); place of
 *    supply rules for exports of services are not modelled.
 */
import { EU_COUNTRIES } from "../domain/countries.js";
import { invalid } from "../domain/errors.js";
import { divRoundHalfUp } from "../domain/money.js";

/** How VAT applies to a line. */
export type VatKind = "domestic" | "reverse-charge" | "outside-scope";

/** A VAT rate table: country (ISO 3166-1 alpha-2) to standard rate in basis points (2100 = 21 %). */
export type VatRateTable = Readonly<Record<string, number>>;

/**
 * Standard VAT rates of the 27 EU member states in basis points, as in force on 1 September 2025
 * (public figures: the European Commission's "VAT rates applied in the Member States" list, with
 * the 2024-2025 changes: FI 25.5 % from 1 Sep 2024, SK 23 % from 1 Jan 2025, EE 24 % from
 * 1 Jul 2025, RO 21 % from 1 Aug 2025). Update here, or pass overrides to `vatTreatment`.
 */
export const EU_STANDARD_VAT_BPS: VatRateTable = Object.freeze({
  AT: 2000,
  BE: 2100,
  BG: 2000,
  HR: 2500,
  CY: 1900,
  CZ: 2100,
  DK: 2500,
  EE: 2400,
  FI: 2550,
  FR: 2000,
  DE: 1900,
  GR: 2400,
  HU: 2700,
  IE: 2300,
  IT: 2200,
  LV: 2100,
  LT: 2100,
  LU: 1700,
  MT: 1800,
  NL: 2100,
  PL: 2300,
  PT: 2300,
  RO: 2100,
  SK: 2300,
  SI: 2200,
  ES: 2100,
  SE: 2500,
});

/**
 * VAT identification number formats per member state (after the 2-letter prefix; Greece uses "EL").
 * Format only: a well-formed number may still be unregistered (check VIES for that).
 */
const VAT_ID_FORMATS: Readonly<Record<string, { prefix: string; re: RegExp }>> = {
  AT: { prefix: "AT", re: /^U\d{8}$/ },
  BE: { prefix: "BE", re: /^[01]\d{9}$/ },
  BG: { prefix: "BG", re: /^\d{9,10}$/ },
  HR: { prefix: "HR", re: /^\d{11}$/ },
  CY: { prefix: "CY", re: /^\d{8}[A-Z]$/ },
  CZ: { prefix: "CZ", re: /^\d{8,10}$/ },
  DK: { prefix: "DK", re: /^\d{8}$/ },
  EE: { prefix: "EE", re: /^\d{9}$/ },
  FI: { prefix: "FI", re: /^\d{8}$/ },
  FR: { prefix: "FR", re: /^[0-9A-HJ-NP-Z]{2}\d{9}$/ },
  DE: { prefix: "DE", re: /^\d{9}$/ },
  GR: { prefix: "EL", re: /^\d{9}$/ },
  HU: { prefix: "HU", re: /^\d{8}$/ },
  IE: { prefix: "IE", re: /^(\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W])$/ },
  IT: { prefix: "IT", re: /^\d{11}$/ },
  LV: { prefix: "LV", re: /^\d{11}$/ },
  LT: { prefix: "LT", re: /^(\d{9}|\d{12})$/ },
  LU: { prefix: "LU", re: /^\d{8}$/ },
  MT: { prefix: "MT", re: /^\d{8}$/ },
  NL: { prefix: "NL", re: /^\d{9}B\d{2}$/ },
  PL: { prefix: "PL", re: /^\d{10}$/ },
  PT: { prefix: "PT", re: /^\d{9}$/ },
  RO: { prefix: "RO", re: /^[1-9]\d{1,9}$/ },
  SK: { prefix: "SK", re: /^\d{10}$/ },
  SI: { prefix: "SI", re: /^\d{8}$/ },
  ES: { prefix: "ES", re: /^[A-Z0-9]\d{7}[A-Z0-9]$/ },
  SE: { prefix: "SE", re: /^\d{10}01$/ },
};

const COUNTRY_BY_PREFIX: ReadonlyMap<string, string> = new Map(
  Object.entries(VAT_ID_FORMATS).map(([country, f]) => [f.prefix, country]),
);

/** Removes spaces, dots and dashes and upper-cases a VAT id as people type it ("de 123.456.789"). */
export function normalizeVatId(vatId: string): string {
  return vatId.replace(/[\s.-]/g, "").toUpperCase();
}

/**
 * The member state (ISO code, "GR" for an "EL" id) whose VAT id FORMAT `vatId` matches, or null.
 * No registry lookup.
 */
export function vatIdCountry(vatId: string): string | null {
  const v = normalizeVatId(vatId);
  const country = COUNTRY_BY_PREFIX.get(v.slice(0, 2));
  if (!country) return null;
  return VAT_ID_FORMATS[country]!.re.test(v.slice(2)) ? country : null;
}

/** The VAT that applies to one line. */
export interface VatTreatment {
  readonly kind: VatKind;
  /** Rate in basis points (0 for reverse charge and outside scope). */
  readonly rateBps: number;
  /** Country the VAT is payable to (null when none is charged). */
  readonly country: string | null;
  /** Words for the invoice. */
  readonly note: string;
}

/** What `vatTreatment` needs. */
export interface VatInput {
  /** Country of the site (the supplier), ISO 3166-1 alpha-2. */
  siteCountry: string;
  /** Country of the tenant (the customer), ISO 3166-1 alpha-2. */
  tenantCountry: string;
  /** Tenant's VAT id as given, if any. */
  tenantVatId?: string | null;
  /** Rates to use instead of (or in addition to) EU_STANDARD_VAT_BPS, by country. */
  rateOverrides?: VatRateTable;
  /** Rate for EU consumers: the site's country (default, "domestic") or the consumer's (OSS). */
  b2c?: "supplier-country" | "customer-country";
}

function rateOf(country: string, overrides: VatRateTable | undefined): number {
  const r = overrides?.[country] ?? EU_STANDARD_VAT_BPS[country];
  if (r === undefined || !Number.isSafeInteger(r) || r < 0 || r > 10_000)
    throw invalid(
      `no valid VAT rate for ${country}: give an integer of basis points (0..10000) in rateOverrides`,
      {
        field: "rateOverrides",
        country,
      },
    );
  return r;
}

const CC_RE = /^[A-Z]{2}$/;

/** Decides the VAT of a line from the site's and the tenant's countries and the tenant's VAT id. */
export function vatTreatment(input: VatInput): VatTreatment {
  const { siteCountry, tenantCountry } = input;
  if (!CC_RE.test(siteCountry))
    throw invalid(`siteCountry must be an ISO 3166-1 alpha-2 code (e.g. ES), got "${siteCountry}"`, {
      field: "siteCountry",
    });
  if (!CC_RE.test(tenantCountry))
    throw invalid(`tenantCountry must be an ISO 3166-1 alpha-2 code (e.g. DE), got "${tenantCountry}"`, {
      field: "tenantCountry",
    });
  if (!EU_COUNTRIES.has(siteCountry))
    return {
      kind: "outside-scope",
      rateBps: 0,
      country: null,
      note: `no EU VAT: supplied from ${siteCountry}, outside the EU`,
    };
  const idCountry = input.tenantVatId ? vatIdCountry(input.tenantVatId) : null;
  if (idCountry !== null && idCountry !== siteCountry)
    return {
      kind: "reverse-charge",
      rateBps: 0,
      country: null,
      note: `reverse charge: VAT to be accounted for by the customer (${normalizeVatId(input.tenantVatId!)}), Art. 196 Directive 2006/112/EC`,
    };
  const b2b = idCountry !== null;
  const vatCountry =
    !b2b && input.b2c === "customer-country" && EU_COUNTRIES.has(tenantCountry) ? tenantCountry : siteCountry;
  const rateBps = rateOf(vatCountry, input.rateOverrides);
  return {
    kind: "domestic",
    rateBps,
    country: vatCountry,
    note: `VAT ${formatBps(rateBps)} (${vatCountry})`,
  };
}

/** VAT on a net amount at a rate in basis points, rounded half up to a minor unit. */
export function vatMinor(netMinor: number, rateBps: number): number {
  if (!Number.isSafeInteger(netMinor) || netMinor < 0)
    throw invalid(`net amount must be a non-negative integer of minor units, got ${netMinor}`, {
      field: "netMinor",
    });
  if (!Number.isSafeInteger(rateBps) || rateBps < 0)
    throw invalid(`VAT rate must be a non-negative integer of basis points, got ${rateBps}`, {
      field: "rateBps",
    });
  return Number(divRoundHalfUp(BigInt(netMinor) * BigInt(rateBps), 10_000n));
}

/** "21 %", "25.5 %" from basis points. */
export function formatBps(bps: number): string {
  const whole = Math.floor(bps / 100);
  const frac = bps % 100;
  return frac === 0 ? `${whole} %` : `${whole}.${String(frac).padStart(2, "0").replace(/0$/, "")} %`;
}
