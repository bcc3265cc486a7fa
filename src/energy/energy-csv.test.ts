import { describe, it, expect } from "vitest";
import { parseEnergyProfileCsv } from "./energy-csv.js";
import { HOUR_MS } from "./series.js";

const T0 = Date.UTC(2030, 0, 1);

describe("parseEnergyProfileCsv", () => {
  it("reads carbon and price columns by name, in any order", () => {
    const p = parseEnergyProfileCsv(
      "time,price_eur_mwh,carbon_g_kwh\n2030-01-01T00:00Z,-5,120\n2030-01-01T01:00Z,40,80",
    );
    expect(p.carbon).toEqual({ startMs: T0, stepMs: HOUR_MS, values: [120, 80] });
    expect(p.price).toEqual({ startMs: T0, stepMs: HOUR_MS, values: [-5, 40] });
    expect(p.source).toBe('carbon from "carbon_g_kwh", price from "price_eur_mwh"');
  });
  it("reads a two-column file as carbon only, with or without header", () => {
    expect(parseEnergyProfileCsv("timestamp,value\n2030-01-01,7").price).toBeNull();
    expect(parseEnergyProfileCsv("2030-01-01,7").carbon.values).toEqual([7]);
  });
  it("reads a headerless three-column file as timestamp, carbon, price", () => {
    const p = parseEnergyProfileCsv(`${T0 / 1000},100,50\n${T0 / 1000 + 3600},90,55`);
    expect(p.carbon.values).toEqual([100, 90]);
    expect(p.price!.values).toEqual([50, 55]);
  });
  it("reads an Electricity Maps export as carbon only", () => {
    const em =
      "Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA)\n2030-01-01 00:00:00,XX,10,20";
    const p = parseEnergyProfileCsv(em, { basis: "lca" });
    expect(p.carbon.values).toEqual([20]);
    expect(p.price).toBeNull();
    expect(p.source).toMatch(/electricity-maps/);
  });
  it("refuses a header without a carbon column and a negative carbon value", () => {
    expect(() => parseEnergyProfileCsv("time,price,other\n2030-01-01,1,2")).toThrow(/no carbon column/);
    expect(() => parseEnergyProfileCsv("time,carbon,price\n2030-01-01,-1,2")).toThrow(/line 2: .*negative/);
  });
});
