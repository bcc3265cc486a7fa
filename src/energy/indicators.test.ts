import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { DomainError } from "../domain/errors.js";
import {
  INDICATOR_CSV_HEADER,
  computeIndicators,
  indicatorsToCsv,
  indicatorsToJson,
  validateIndicatorInputs,
  type IndicatorInputs,
} from "./indicators.js";

const Y2024 = Date.UTC(2024, 0, 1);
const Y2025 = Date.UTC(2025, 0, 1);
// A hall of 1.2 MW IT over 2024, figures chosen to compute by hand.
const hall: IndicatorInputs = {
  siteId: "asturias",
  periodStartMs: Y2024,
  periodEndMs: Y2025,
  eDcKwh: 12_500_000,
  eItKwh: 10_000_000,
  zumbidoItKwh: 8_000_000,
  eResTotKwh: 7_500_000,
  eReuseKwh: 1_250_000,
  wInM3: 2_000,
  installedItPowerKw: 1_200,
};

describe("computeIndicators", () => {
  it("computes PUE, REF, ERF and WUE by hand", () => {
    const r = computeIndicators(hall);
    expect(r.pue).toBe(1.25); // 12.5 GWh / 10 GWh
    expect(r.ref).toBe(0.6); // 7.5 / 12.5
    expect(r.erf).toBe(0.1); // 1.25 / 12.5
    expect(r.wueLPerKwh).toBe(0.2); // 2,000 m3 = 2,000,000 L / 10,000,000 kWh
    expect(r.zumbidoItShare).toBe(0.8);
    expect(r.reportingRequired).toBe(true);
    expect(r.notices).toEqual([]);
  });

  it("tells a site under 500 kW that the regulation does not bind it, and uses Zumbido's IT energy when no IT meter", () => {
    const r = computeIndicators({
      siteId: "small",
      periodStartMs: Y2024,
      periodEndMs: Y2025,
      eDcKwh: 1_300,
      zumbidoItKwh: 1_000,
      installedItPowerKw: 499,
    });
    expect(r.pue).toBe(1.3);
    expect(r.reportingRequired).toBe(false);
    expect(r.notices[0]).toMatch(/499 kW is under 500 kW: .*does not require this site to report/);
    expect(r.notices.some((n) => /Zumbido's metered IT energy only/.test(n))).toBe(true);
    expect([r.ref, r.erf, r.wueLPerKwh]).toEqual([null, null, null]);
    expect(computeIndicators({ ...hall, installedItPowerKw: 500 }).reportingRequired).toBe(true);
  });

  it("refuses impossible readings, naming the field and the fix", () => {
    const fields = (i: Partial<IndicatorInputs>): string[] =>
      validateIndicatorInputs({ ...hall, ...i }).map((p) => p.field);
    expect(() => computeIndicators({ ...hall, eItKwh: 13_000_000 })).toThrow(/eItKwh: .*PUE of 0.962 < 1/);
    expect(fields({ eDcKwh: -5 })).toEqual(["eDcKwh"]);
    expect(fields({ eResTotKwh: 13_000_000 })).toEqual(["eResTotKwh"]);
    expect(fields({ eReuseKwh: 13_000_000 })).toEqual(["eReuseKwh"]);
    expect(fields({ zumbidoItKwh: 11_000_000 })).toEqual(["zumbidoItKwh"]);
    expect(fields({ wInM3: Number.NaN })).toEqual(["wInM3"]);
    expect(fields({ periodEndMs: Y2024 })).toEqual(["periodEndMs"]);
    expect(fields({ eItKwh: undefined, zumbidoItKwh: undefined })).toEqual(["eItKwh"]);
    expect(fields({ eDcKwh: 0, eItKwh: 0, zumbidoItKwh: 0, eResTotKwh: 0, eReuseKwh: 0 })).toEqual([
      "eDcKwh",
      "eItKwh",
    ]);
    expect(fields({ installedItPowerKw: -1, eReuseKwh: -1 })).toEqual(["eReuseKwh", "installedItPowerKw"]);
    try {
      computeIndicators({ ...hall, eDcKwh: -1, wInM3: -2 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).code).toBe("validation");
      expect((e as DomainError).details.problems).toHaveLength(2);
    }
  });

  it("any accepted reading gives PUE >= 1 and REF, ERF in [0, 1]", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        (eDcKwh, eItKwh, eResTotKwh, eReuseKwh) => {
          const i = { ...hall, eDcKwh, eItKwh, eResTotKwh, eReuseKwh, zumbidoItKwh: undefined };
          if (validateIndicatorInputs(i).length > 0) {
            expect(() => computeIndicators(i)).toThrow(DomainError);
            return;
          }
          const r = computeIndicators(i);
          expect(r.pue).toBeGreaterThanOrEqual(1);
          expect(r.ref!).toBeLessThanOrEqual(1);
          expect(r.erf!).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});

describe("exports", () => {
  it("JSON carries the regulation's names, rounded indicators and ISO periods", () => {
    const [j] = indicatorsToJson([computeIndicators({ ...hall, eItKwh: 9_000_000 })]);
    expect(j).toMatchObject({
      siteId: "asturias",
      periodStart: "2024-01-01T00:00:00.000Z",
      periodEnd: "2025-01-01T00:00:00.000Z",
      PUE: 1.389, // 12.5 / 9 = 1.3888…
      REF: 0.6,
      ERF: 0.1,
      WUE: 0.222, // 2,000,000 L / 9,000,000 kWh
      reportingRequired: true,
    });
  });

  it("CSV has one header and one row per site-period, quoting notices", () => {
    const csv = indicatorsToCsv([
      computeIndicators(hall),
      computeIndicators({ ...hall, siteId: 'tiny, "b"', installedItPowerKw: 100, eReuseKwh: undefined }),
    ]);
    const lines = csv.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(INDICATOR_CSV_HEADER.join(","));
    expect(lines[1]).toBe(
      "asturias,2024-01-01T00:00:00.000Z,2025-01-01T00:00:00.000Z,12500000,10000000,7500000,1250000,2000,1200,1.25,0.6,0.1,0.2,true,",
    );
    expect(lines[2]).toMatch(
      /^"tiny, ""b""",.*,100,1.25,0.6,,0.2,false,installed IT power 100 kW is under 500 kW.* \| ERF/,
    );
  });
});
