import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mean, parseSeriesCsvDetailed, HOUR_MS } from "../../src/energy/series.js";

// Reads the real Spanish 2024 series (Electricity Maps export) from ZUMBIDO_DATA_DIR; never copied here.
const dataDir = process.env.ZUMBIDO_DATA_DIR;
const FILE = "energy/es-electricitymaps-hourly-carbon-2023-2024/ES_2024_hourly.csv";

describe("real data: Spain 2024 hourly carbon intensity", () => {
  if (!dataDir) {
    it("needs ZUMBIDO_DATA_DIR", () => {
      const msg = `ZUMBIDO_DATA_DIR is not set: this suite reads ${FILE} from it (e.g. ZUMBIDO_DATA_DIR=../shared/data)`;
      if (process.env.CI === "true") throw new Error(msg);
      console.warn(`SKIPPED: ${msg}`);
      expect(dataDir).toBeUndefined();
    });
    return;
  }

  it("parses 8,784 hours (2024 is a leap year) in a plausible range", () => {
    const text = readFileSync(join(dataDir, FILE), "utf8");
    const d = parseSeriesCsvDetailed(text, { nonNegative: true });
    const s = d.series;
    expect(d.format).toBe("electricity-maps");
    expect(d.filled).toBe(0);
    expect(s.values).toHaveLength(8784);
    expect(s.stepMs).toBe(HOUR_MS);
    expect(s.startMs).toBe(Date.UTC(2024, 0, 1));
    const min = Math.min(...s.values);
    const max = Math.max(...s.values);
    // Spain's direct intensity: tens to a few hundred gCO2e/kWh.
    expect(min).toBeGreaterThan(10);
    expect(max).toBeLessThan(400);
    expect(mean(s)).toBeGreaterThan(60);
    expect(mean(s)).toBeLessThan(120);
    const lca = parseSeriesCsvDetailed(text, { basis: "lca" }).series;
    expect(lca.values).toHaveLength(8784);
    expect(mean(lca)).toBeGreaterThan(mean(s));
  });
});
