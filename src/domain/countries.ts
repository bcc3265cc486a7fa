/** ISO 3166-1 alpha-2 codes of the 27 EU member states. */
export const EU_COUNTRIES: ReadonlySet<string> = new Set([
  "AT",
  "BE",
  "BG",
  "HR",
  "CY",
  "CZ",
  "DK",
  "EE",
  "FI",
  "FR",
  "DE",
  "GR",
  "HU",
  "IE",
  "IT",
  "LV",
  "LT",
  "LU",
  "MT",
  "NL",
  "PL",
  "PT",
  "RO",
  "SK",
  "SI",
  "ES",
  "SE",
]);

/** EEA = EU plus Iceland, Liechtenstein and Norway. */
export const EEA_COUNTRIES: ReadonlySet<string> = new Set([...EU_COUNTRIES, "IS", "LI", "NO"]);

/** Country codes accepted for sites and constraints (EEA plus the usual hosting countries outside it). */
const OTHER_COUNTRIES = [
  "CH",
  "GB",
  "US",
  "CA",
  "MX",
  "BR",
  "AR",
  "CL",
  "PY",
  "UY",
  "CO",
  "PE",
  "SV",
  "KZ",
  "RU",
  "GE",
  "AM",
  "AE",
  "SA",
  "QA",
  "OM",
  "ET",
  "KE",
  "ZA",
  "EG",
  "MA",
  "NG",
  "IN",
  "CN",
  "HK",
  "TW",
  "JP",
  "KR",
  "SG",
  "MY",
  "TH",
  "VN",
  "ID",
  "PH",
  "AU",
  "NZ",
  "TR",
  "UA",
  "RS",
  "BA",
  "ME",
  "MK",
  "AL",
  "BT",
  "LA",
  "IL",
];
export const KNOWN_COUNTRIES: ReadonlySet<string> = new Set([...EEA_COUNTRIES, ...OTHER_COUNTRIES]);

/** A jurisdiction a tenant may require. */
export type Jurisdiction = "EU" | "EEA";
export const JURISDICTIONS: readonly Jurisdiction[] = ["EU", "EEA"];

/** True when the country is inside the jurisdiction. */
export function inJurisdiction(country: string, j: Jurisdiction): boolean {
  return j === "EU" ? EU_COUNTRIES.has(country) : EEA_COUNTRIES.has(country);
}

/** True for a known ISO 3166-1 alpha-2 code (upper case). */
export function isKnownCountry(code: string): boolean {
  return KNOWN_COUNTRIES.has(code);
}
