import { describe, it, expect } from "vitest";
import { EU_COUNTRIES } from "../domain/countries.js";
import {
  EU_STANDARD_VAT_BPS,
  formatBps,
  normalizeVatId,
  vatIdCountry,
  vatMinor,
  vatTreatment,
} from "./vat.js";

describe("VAT rate table", () => {
  it("has a standard rate for exactly the 27 EU member states", () => {
    expect(Object.keys(EU_STANDARD_VAT_BPS).sort()).toEqual([...EU_COUNTRIES].sort());
    expect(Object.keys(EU_STANDARD_VAT_BPS)).toHaveLength(27);
    for (const r of Object.values(EU_STANDARD_VAT_BPS)) expect(r).toBeGreaterThanOrEqual(1700);
  });
  it("carries the dated figures (spot checks)", () => {
    expect(EU_STANDARD_VAT_BPS.ES).toBe(2100);
    expect(EU_STANDARD_VAT_BPS.DE).toBe(1900);
    expect(EU_STANDARD_VAT_BPS.FI).toBe(2550);
    expect(EU_STANDARD_VAT_BPS.HU).toBe(2700);
    expect(EU_STANDARD_VAT_BPS.LU).toBe(1700);
  });
});

describe("VAT id formats (format only, no VIES)", () => {
  it.each([
    ["ATU12345678", "AT"],
    ["BE0123456789", "BE"],
    ["DE123456789", "DE"],
    ["de 123.456.789", "DE"],
    ["EL123456789", "GR"],
    ["ESX1234567X", "ES"],
    ["ESB12345678", "ES"],
    ["FRAB123456789", "FR"],
    ["IE1234567WA", "IE"],
    ["IE1A23456B", "IE"],
    ["NL123456789B01", "NL"],
    ["SE123456789001", "SE"],
    ["CY12345678L", "CY"],
    ["RO1234", "RO"],
  ])("%s is a %s number", (id, country) => {
    expect(vatIdCountry(id)).toBe(country);
  });
  it.each([
    "GR123456789",
    "DE12345678",
    "ATX12345678",
    "NL123456789X01",
    "SE1234567890",
    "XX123",
    "GB123456789",
    "",
  ])("%s is not a valid EU VAT id format", (id) => {
    expect(vatIdCountry(id)).toBeNull();
  });
  it("normalises what people type", () => {
    expect(normalizeVatId(" fr-ab 123 456 789 ")).toBe("FRAB123456789");
  });
});

describe("vatTreatment", () => {
  it("reverse-charges an EU business of another member state", () => {
    const t = vatTreatment({ siteCountry: "ES", tenantCountry: "DE", tenantVatId: "DE123456789" });
    expect(t).toMatchObject({ kind: "reverse-charge", rateBps: 0, country: null });
    expect(t.note).toMatch(/Art\. 196/);
  });
  it("charges the site's rate to a business of the same member state", () => {
    expect(
      vatTreatment({ siteCountry: "ES", tenantCountry: "ES", tenantVatId: "ESB12345678" }),
    ).toMatchObject({
      kind: "domestic",
      rateBps: 2100,
      country: "ES",
    });
  });
  it("charges the site's rate when the VAT id format is invalid", () => {
    expect(vatTreatment({ siteCountry: "FI", tenantCountry: "DE", tenantVatId: "DE12" })).toMatchObject({
      kind: "domestic",
      rateBps: 2550,
      country: "FI",
    });
  });
  it("charges a consumer the site's rate by default, the consumer's with the OSS option", () => {
    expect(vatTreatment({ siteCountry: "ES", tenantCountry: "HU" }).rateBps).toBe(2100);
    expect(vatTreatment({ siteCountry: "ES", tenantCountry: "HU", b2c: "customer-country" })).toMatchObject({
      rateBps: 2700,
      country: "HU",
    });
  });
  it("charges no EU VAT for a site outside the EU", () => {
    expect(vatTreatment({ siteCountry: "NO", tenantCountry: "DE" })).toMatchObject({
      kind: "outside-scope",
      rateBps: 0,
    });
  });
  it("takes rate overrides as data", () => {
    expect(
      vatTreatment({ siteCountry: "ES", tenantCountry: "ES", rateOverrides: { ES: 2200 } }).rateBps,
    ).toBe(2200);
    expect(() =>
      vatTreatment({ siteCountry: "ES", tenantCountry: "ES", rateOverrides: { ES: 21.5 } }),
    ).toThrow(/rateOverrides/);
    expect(() => vatTreatment({ siteCountry: "es", tenantCountry: "ES" })).toThrow(/siteCountry/);
  });
  it("rounds VAT half up on the line", () => {
    expect(vatMinor(1, 2100)).toBe(0); // 0.21
    expect(vatMinor(50, 2100)).toBe(11); // 10.5 -> 11
    expect(vatMinor(10_000, 2550)).toBe(2550);
    expect(vatMinor(2, 2500)).toBe(1); // 0.5 -> 1
    expect(formatBps(2550)).toBe("25.5 %");
    expect(formatBps(2100)).toBe("21 %");
    expect(formatBps(2525)).toBe("25.25 %");
  });
});
