/**
 * An energy profile file for a site: a carbon series and, where given, a price series, read from
 * one CSV (docs/energy.md, "Energy profile files").
 */
import { invalid } from "../domain/errors.js";
import { parseSeriesCsvDetailed, tryParseTimestamp, type CarbonBasis, type HourlySeries } from "./series.js";

/** A site's carbon series (gCO2e/kWh) and optional price series (EUR/MWh). */
export interface EnergyProfileSeries {
  carbon: HourlySeries;
  price: HourlySeries | null;
  /** Which columns were read, in words. */
  source: string;
}

/** Options of parseEnergyProfileCsv. */
export interface EnergyProfileCsvOptions {
  basis?: CarbonBasis;
  gaps?: "error" | "carry-forward";
}

const CARBON = /carbon|co2|ghg|intensity/i;
const PRICE = /price|eur|cost/i;

/**
 * Reads an Electricity Maps export (carbon only), or a generic CSV `timestamp,carbon[,price]`:
 * with a header, the columns whose names mention carbon/CO2/intensity and price/EUR/cost (a
 * two-column file's value is carbon); without one, column 2 is carbon and column 3, if any, price.
 */
export function parseEnergyProfileCsv(
  text: string,
  options: EnergyProfileCsvOptions = {},
): EnergyProfileSeries {
  const base = { basis: options.basis, gaps: options.gaps };
  const firstLine =
    text
      .replace(/^\uFEFF/, "")
      .split(/\r?\n/)
      .find((l) => l.trim() !== "" && !l.trim().startsWith("#")) ?? "";
  const cells = firstLine.split(",").map((c) => c.trim());
  const hasHeader = cells.length > 0 && tryParseTimestamp(cells[0] ?? "") === null;
  const carbonOnly = (): EnergyProfileSeries => {
    const d = parseSeriesCsvDetailed(text, { ...base, nonNegative: true });
    return { carbon: d.series, price: null, source: `carbon from "${d.column}" (${d.format})` };
  };
  if (!hasHeader) {
    if (cells.length < 3) return carbonOnly();
    const c = parseSeriesCsvDetailed(text, { ...base, valueIndex: 1, nonNegative: true });
    const p = parseSeriesCsvDetailed(text, { ...base, valueIndex: 2 });
    return { carbon: c.series, price: p.series, source: "carbon from column 2, price from column 3" };
  }
  if (cells.some((h) => /carbon intensity/i.test(h)) || cells.length === 2) return carbonOnly();
  const ci = cells.findIndex((h, i) => i > 0 && CARBON.test(h));
  const pi = cells.findIndex((h, i) => i > 0 && PRICE.test(h) && !CARBON.test(h));
  if (ci < 0)
    throw invalid(
      `no carbon column in the header (${cells.join(", ")}): name one "carbon" (gCO2e/kWh), and the price one "price" (EUR/MWh)`,
      { field: "carbon" },
    );
  const c = parseSeriesCsvDetailed(text, { ...base, valueIndex: ci, nonNegative: true });
  if (pi < 0) return { carbon: c.series, price: null, source: `carbon from "${c.column}"` };
  const p = parseSeriesCsvDetailed(text, { ...base, valueIndex: pi });
  return { carbon: c.series, price: p.series, source: `carbon from "${c.column}", price from "${p.column}"` };
}
