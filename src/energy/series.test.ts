import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  HOUR_MS,
  daysFromCivil,
  formatIsoUtc,
  integrate,
  mean,
  meanOver,
  parseSeriesCsv,
  parseSeriesCsvDetailed,
  slice,
  tryParseTimestamp,
  utcMonth,
  valueAt,
  valueAtOffset,
  type HourlySeries,
} from "./series.js";

// A made-up three-hour export in the Electricity Maps layout (values invented for the test).
const EM_HEADER =
  "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,Data Estimated,Data Estimation Method";
const EM = [
  EM_HEADER,
  "2030-03-01 00:00:00,Nowhere,Nowhere,XX,100.5,150,80,50,test,false,",
  "2030-03-01 01:00:00,Nowhere,Nowhere,XX,90,140,80,50,test,false,",
  "2030-03-01 02:00:00,Nowhere,Nowhere,XX,80.25,130,80,50,test,false,",
].join("\n");
const T0 = Date.UTC(2030, 2, 1);

describe("parseSeriesCsv", () => {
  it("reads the direct column of an Electricity Maps export by default", () => {
    const d = parseSeriesCsvDetailed(EM);
    expect(d.format).toBe("electricity-maps");
    expect(d.column).toContain("(direct)");
    expect(d.series).toEqual({ startMs: T0, stepMs: HOUR_MS, values: [100.5, 90, 80.25] });
  });

  it("reads the life-cycle column when asked, including the newer 'Life cycle' header", () => {
    expect(parseSeriesCsv(EM, { basis: "lca" }).values).toEqual([150, 140, 130]);
    const newer = EM.replace("(LCA)", "(Life cycle)").replace(/Carbon Intensity/g, "Carbon intensity");
    expect(parseSeriesCsv(newer, { basis: "lca" }).values).toEqual([150, 140, 130]);
  });

  it("accepts CRLF, a BOM, blank and comment lines", () => {
    const s = parseSeriesCsv(
      "\uFEFF# price\r\ntimestamp,value\r\n\r\n2030-03-01T00:00:00Z,55\r\n2030-03-01T01:00Z,-3.5\r\n",
    );
    expect(s).toEqual({ startMs: T0, stepMs: HOUR_MS, values: [55, -3.5] });
  });

  it("reads a generic CSV with no header and epoch seconds", () => {
    const sec = T0 / 1000;
    const s = parseSeriesCsv(`${sec},1\n${sec + 900},2\n${sec + 1800},3`);
    expect(s).toEqual({ startMs: T0, stepMs: 900_000, values: [1, 2, 3] });
  });

  it("honours ISO offsets and reads a named value column", () => {
    const s = parseSeriesCsv(
      "time,zone,price\n2030-03-01T01:00:00+01:00,ES,10\n2030-03-01T02:00:00+0100,ES,20",
      {
        valueColumn: "price",
      },
    );
    expect(s).toEqual({ startMs: T0, stepMs: HOUR_MS, values: [10, 20] });
  });

  it("uses the stepMs option for a one-row series", () => {
    expect(parseSeriesCsv("2030-03-01,7")).toEqual({ startMs: T0, stepMs: HOUR_MS, values: [7] });
    expect(parseSeriesCsv("2030-03-01,7", { stepMs: 60_000 }).stepMs).toBe(60_000);
  });

  it("names the line of a gap, a duplicate, a reversed row, an off-grid row and a bad value", () => {
    const rows = (...r: string[]): string => ["timestamp,value", ...r].join("\n");
    expect(() =>
      parseSeriesCsv(rows("2030-03-01T00:00Z,1", "2030-03-01T01:00Z,1", "2030-03-01T03:00Z,1")),
    ).toThrow(/line 4: 1 step\(s\) missing after line 3/);
    expect(() =>
      parseSeriesCsv(rows("2030-03-01T00:00Z,1", "2030-03-01T01:00Z,1", "2030-03-01T01:00Z,2")),
    ).toThrow(/line 4: duplicate timestamp \(same as line 3\)/);
    expect(() => parseSeriesCsv(rows("2030-03-01T01:00Z,1", "2030-03-01T01:00Z,1"))).toThrow(
      /line 3: duplicate/,
    );
    expect(() =>
      parseSeriesCsv(rows("2030-03-01T00:00Z,1", "2030-03-01T01:00Z,1", "2030-03-01T00:30Z,1")),
    ).toThrow(/line 4: timestamp is earlier than line 3/);
    expect(() =>
      parseSeriesCsv(rows("2030-03-01T00:00Z,1", "2030-03-01T01:00Z,1", "2030-03-01T02:30Z,1")),
    ).toThrow(/line 4: timestamp is not on the 3600 s grid/);
    expect(() => parseSeriesCsv(rows("2030-03-01T00:00Z,1", "2030-03-01T01:00Z,abc"))).toThrow(
      /line 3: value "abc" is not a number/,
    );
    expect(() => parseSeriesCsv(rows("2030-03-01T00:00Z,1", "2030-13-01T01:00Z,1"))).toThrow(
      /line 3: .*not a valid date/,
    );
    expect(() => parseSeriesCsv(rows("1700000000000,1"))).toThrow(/epoch milliseconds/);
    expect(() => parseSeriesCsv(rows("2030-03-01T00:00Z,-1"), { nonNegative: true })).toThrow(
      /line 2: .*negative/,
    );
    expect(() => parseSeriesCsv("")).toThrow(/empty/);
    expect(() => parseSeriesCsv("timestamp,value\n")).toThrow(/no data rows/);
    expect(() => parseSeriesCsv("timestamp,value\n2030-03-01,1", { valueColumn: "price" })).toThrow(
      /valueColumn "price" is not in the header/,
    );
  });

  it("fills gaps and empty values by carry-forward only when asked, and counts them", () => {
    const text = "timestamp,value\n2030-03-01T00:00Z,5\n2030-03-01T01:00Z,\n2030-03-01T04:00Z,9";
    expect(() => parseSeriesCsv(text)).toThrow(/line 3: the value is empty/);
    const d = parseSeriesCsvDetailed(text, { gaps: "carry-forward" });
    expect(d.series.values).toEqual([5, 5, 5, 5, 9]);
    expect(d.filled).toBe(3);
  });

  it("refuses an Electricity Maps export that lacks the requested basis", () => {
    const noLca = "Datetime (UTC),Carbon Intensity gCO₂eq/kWh (direct)\n2030-03-01 00:00:00,1";
    expect(() => parseSeriesCsv(noLca, { basis: "lca" })).toThrow(/no lca carbon-intensity column/);
  });
});

describe("timestamps and calendar", () => {
  it("agrees with Date.UTC on random instants", () => {
    fc.assert(
      fc.property(fc.integer({ min: -2_000_000_000, max: 4_000_000_000 }), (sec) => {
        const iso = new Date(sec * 1000).toISOString();
        expect(tryParseTimestamp(iso)).toBe(sec * 1000);
        expect(utcMonth(sec * 1000)).toBe(iso.slice(0, 7));
        expect(formatIsoUtc(sec * 1000 + 7)).toBe(new Date(sec * 1000 + 7).toISOString());
      }),
    );
  });
  it("knows leap days", () => {
    expect(daysFromCivil(2024, 3, 1) - daysFromCivil(2024, 2, 1)).toBe(29);
    expect(tryParseTimestamp("2023-02-29")).toMatch(/not a valid date/);
    expect(tryParseTimestamp("timestamp")).toBeNull();
  });
});

describe("reading a series", () => {
  const s: HourlySeries = { startMs: 1000, stepMs: 10, values: [1, 2, 3] };
  it("valueAt repeats from the start past the end and before the start", () => {
    expect([1000, 1009, 1010, 1029, 1030, 1065, 999, 980].map((t) => valueAt(s, t))).toEqual([
      1, 1, 2, 3, 1, 1, 3, 2,
    ]);
    expect(valueAtOffset(s, 25)).toBe(3);
  });
  it("mean, slice and integrate", () => {
    expect(mean(s)).toBe(2);
    expect(slice(s, 1015, 1041)).toEqual({ startMs: 1010, stepMs: 10, values: [2, 3, 1, 2] });
    expect(slice(s, 1015, 1015).values).toEqual([]);
    // 5 ms at 2 + 10 ms at 3 + 1 ms at 1 = 41 value-ms.
    expect(integrate(s, 1015, 1031) * HOUR_MS).toBeCloseTo(41, 9);
    expect(meanOver(s, 1015, 1031)).toBeCloseTo(41 / 16, 9);
    expect(meanOver(s, 1015, 1015)).toBe(2);
  });
  it("integrate is additive over adjacent intervals", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: -5000, max: 5000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 3000 }),
        (values, a, d1, d2) => {
          const ser = { startMs: 0, stepMs: 60, values };
          const whole = integrate(ser, a, a + d1 + d2);
          expect(whole).toBeCloseTo(integrate(ser, a, a + d1) + integrate(ser, a + d1, a + d1 + d2), 6);
        },
      ),
    );
  });
});

describe("valueIndex", () => {
  it("picks a column by index, with or without header, and refuses the timestamp column", () => {
    expect(parseSeriesCsv("2030-03-01,1,2", { valueIndex: 2 }).values).toEqual([2]);
    expect(parseSeriesCsv("t,a,b\n2030-03-01,1,2", { valueIndex: 2 }).values).toEqual([2]);
    expect(() => parseSeriesCsv("2030-03-01,1,2", { valueIndex: 0 })).toThrow(/valueIndex/);
    expect(() => parseSeriesCsv("t,a\n2030-03-01,1", { valueIndex: 3 })).toThrow(/header has 2 column/);
  });
});
