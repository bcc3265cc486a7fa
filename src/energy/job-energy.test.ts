import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  applyContracts,
  energyCostMinor,
  meterJob,
  rollupEnergy,
  type JobMeter,
  type SiteEnergyProfile,
} from "./job-energy.js";
import { HOUR_MS, integrate } from "./series.js";

const H = HOUR_MS;
const site: SiteEnergyProfile = {
  siteId: "s1",
  pue: 1.2,
  nodeOverheadW: 500,
  carbon: { startMs: 0, stepMs: H, values: [100, 200, 300] },
  price: { startMs: 0, stepMs: H, values: [50, 100, -10] },
};
// 2,000 Wh of GPU energy over [0.5 h, 2.5 h), half a node: overhead 500 W x 0.5 x 2 h = 500 Wh,
// IT 2,500 Wh, facility x1.2 = 3 kWh, i.e. 1.5 kWh per hour.
const j1: JobMeter = {
  jobId: "j1",
  tenantId: "t1",
  siteId: "s1",
  nodeShare: 0.5,
  intervals: [{ fromMs: 0.5 * H, toMs: 2.5 * H, gpuWh: 2000 }],
};
// 1,250 Wh over the first hour, no overhead: 1.5 kWh facility at 100 g.
const j2: JobMeter = {
  jobId: "j2",
  tenantId: "t2",
  siteId: "s1",
  nodeShare: 0,
  intervals: [{ fromMs: 0, toMs: H, gpuWh: 1250 }],
};

describe("meterJob", () => {
  it("computes facility energy, hourly location-based CO2e and energy cost by hand", () => {
    const e = meterJob(j1, site);
    expect(e.gpuKwh).toBeCloseTo(2, 12);
    expect(e.itKwh).toBeCloseTo(2.5, 12);
    expect(e.facilityKwh).toBeCloseTo(3, 12);
    expect(e.parts.map((p) => [p.fromMs / H, p.toMs / H, p.facilityKwh])).toEqual([
      [0.5, 1, 0.75],
      [1, 2, 1.5],
      [2, 2.5, 0.75],
    ]);
    // 0.75 x 100 + 1.5 x 200 + 0.75 x 300 = 600 g.
    expect(e.locationKgCo2e).toBeCloseTo(0.6, 12);
    expect(e.marketKgCo2e).toBeCloseTo(0.6, 12);
    // 0.75 x 50 + 1.5 x 100 + 0.75 x (-10) = 180 EUR/MWh x kWh = 0.18 EUR.
    expect(e.costMinor).toBe(18);
    expect(e.lines.map((l) => l.month)).toEqual(["1970-01"]);
  });

  it("takes a per-record node share for gangs metered node by node", () => {
    // Two nodes, each fully held for one hour at 500 W overhead: 2 x (1,000 + 500) Wh x 1.2 = 3.6 kWh.
    const gang = meterJob(
      {
        ...j2,
        nodeShare: 99,
        intervals: [
          { fromMs: 0, toMs: H, gpuWh: 1000, nodeShare: 1 },
          { fromMs: 0, toMs: H, gpuWh: 1000, nodeShare: 1 },
        ],
      },
      site,
    );
    expect(gang.facilityKwh).toBeCloseTo(3.6, 12);
    expect(() =>
      meterJob({ ...j2, intervals: [{ fromMs: 0, toMs: H, gpuWh: 1, nodeShare: -1 }] }, site),
    ).toThrow(/intervals\[0\].*nodeShare/);
  });

  it("has null cost without a price series", () => {
    const { price: _p, ...noPrice } = site;
    expect(meterJob(j1, noPrice).costMinor).toBeNull();
  });

  it("splits a job into UTC monthly lines whose sums are the job's totals", () => {
    const t = Date.UTC(2024, 0, 31, 23);
    const s = {
      ...site,
      carbon: { startMs: t, stepMs: H, values: [100, 300] },
      price: { startMs: t, stepMs: H, values: [33.333, 77.777] },
    };
    const e = meterJob({ ...j2, nodeShare: 0, intervals: [{ fromMs: t, toMs: t + 2 * H, gpuWh: 2500 }] }, s);
    expect(e.lines.map((l) => l.month)).toEqual(["2024-01", "2024-02"]);
    expect(e.lines[0]!.facilityKwh).toBeCloseTo(1.5, 12);
    expect(e.lines[1]!.locationKgCo2e).toBeCloseTo(0.45, 12);
    // 1.5 kWh x 33.333 EUR/MWh = 4.99995 cents -> 5; 1.5 x 77.777 = 11.66655 -> 12.
    expect(e.lines.map((l) => l.costMinor)).toEqual([5, 12]);
    expect(e.costMinor).toBe(17);
  });

  it("refuses bad input, naming the field", () => {
    expect(() => meterJob(j1, { ...site, pue: 0.9 })).toThrow(/pue must be >= 1/);
    expect(() => meterJob(j1, { ...site, nodeOverheadW: -1 })).toThrow(/nodeOverheadW/);
    expect(() => meterJob({ ...j1, nodeShare: -1 }, site)).toThrow(/nodeShare/);
    expect(() => meterJob({ ...j1, siteId: "s2" }, site)).toThrow(/ran at site s2/);
    expect(() => meterJob({ ...j1, intervals: [{ fromMs: 5, toMs: 5, gpuWh: 1 }] }, site)).toThrow(
      /intervals\[0\].*toMs/,
    );
    expect(() => meterJob({ ...j1, intervals: [{ fromMs: 0, toMs: 5, gpuWh: -1 }] }, site)).toThrow(/gpuWh/);
  });

  it("location-based CO2e equals facility kWh x the time-weighted grid mean (uniform power)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 800 }), { minLength: 1, maxLength: 48 }),
        fc.integer({ min: 0, max: 100 * H }),
        fc.integer({ min: 1, max: 30 * H }),
        fc.integer({ min: 0, max: 100_000 }),
        (values, from, dur, gpuWh) => {
          const s = { ...site, carbon: { startMs: 0, stepMs: H, values } };
          const e = meterJob({ ...j2, intervals: [{ fromMs: from, toMs: from + dur, gpuWh }] }, s);
          const expected = (((gpuWh * 1.2) / 1000) * integrate(s.carbon, from, from + dur) * H) / dur / 1000;
          expect(e.locationKgCo2e).toBeCloseTo(expected, 6);
          expect(e.costMinor).toBe(e.lines.reduce((a, l) => a + (l.costMinor ?? 0), 0));
        },
      ),
    );
  });
});

describe("energyCostMinor", () => {
  it("rounds half up once", () => {
    expect(energyCostMinor(1, 5)).toBe(1); // 0.5 cent
    expect(energyCostMinor(1, 4.999)).toBe(0); // 0.4999 cent
    expect(energyCostMinor(1000, 123.45)).toBe(12345);
    expect(energyCostMinor(1, -5)).toBe(-1); // negative prices round away from zero
  });
});

describe("applyContracts (market-based)", () => {
  const period = { periodStartMs: 0, periodEndMs: 3 * H };
  it("covers the period's consumption pro rata and counts the rest at the grid factor", () => {
    const { jobs, periods } = applyContracts(
      [meterJob(j1, site), meterJob(j2, site)],
      [
        { kind: "ppa", ...period, kwh: 1 },
        { kind: "guarantee-of-origin", ...period, kwh: 0.5 },
        { kind: "on-site", periodStartMs: 3 * H, periodEndMs: 4 * H, kwh: 7 },
      ],
    );
    // Consumption 3 + 1.5 = 4.5 kWh, contracted 1.5: a third of every kWh is covered.
    expect(periods[0]).toMatchObject({ contractedKwh: 1.5, coveredKwh: 1.5, unusedKwh: 0 });
    expect(periods[0]!.consumptionKwh).toBeCloseTo(4.5, 12);
    expect(periods[0]!.coverageRatio).toBeCloseTo(1 / 3, 12);
    expect(periods[1]).toMatchObject({ consumptionKwh: 0, coveredKwh: 0, unusedKwh: 7, coverageRatio: 0 });
    expect(jobs[0]!.marketKgCo2e).toBeCloseTo(0.4, 12); // 600 g x 2/3
    expect(jobs[1]!.marketKgCo2e).toBeCloseTo(0.1, 12); // 150 g x 2/3
    expect(jobs[0]!.locationKgCo2e).toBeCloseTo(0.6, 12);
  });

  it("counts the contracts' own factor, other load, a residual mix, and caps coverage at 100%", () => {
    const { jobs } = applyContracts([meterJob(j1, site)], [{ kind: "ppa", ...period, kwh: 1, gPerKwh: 30 }], {
      otherLoadKwh: new Map([[0, 1]]),
    });
    // Consumption 3 + 1 = 4 kWh, covered 1/4: 600 x 3/4 + 3 x 1/4 x 30 = 472.5 g.
    expect(jobs[0]!.marketKgCo2e).toBeCloseTo(0.4725, 12);
    const full = applyContracts([meterJob(j1, site)], [{ kind: "ppa", ...period, kwh: 100 }]);
    expect(full.jobs[0]!.marketKgCo2e).toBe(0);
    expect(full.periods[0]!.unusedKwh).toBeCloseTo(97, 12);
    const res = applyContracts([meterJob(j2, site)], [], {
      residual: { startMs: 0, stepMs: H, values: [400] },
    });
    expect(res.jobs[0]!.marketKgCo2e).toBeCloseTo(0.6, 12); // 1.5 kWh x 400 g
  });

  it("refuses overlapping periods and negative supply", () => {
    expect(() =>
      applyContracts(
        [],
        [
          { kind: "ppa", periodStartMs: 0, periodEndMs: 2 * H, kwh: 1 },
          { kind: "ppa", periodStartMs: H, periodEndMs: 3 * H, kwh: 1 },
        ],
      ),
    ).toThrow(/contract periods overlap/);
    expect(() => applyContracts([], [{ kind: "ppa", ...period, kwh: -1 }])).toThrow(/contracts\[0\].*kwh/);
  });

  it("never raises emissions above location-based when contracts are zero-carbon", () => {
    fc.assert(
      fc.property(
        fc.float({ min: 0, max: 20, noNaN: true }),
        fc.float({ min: 0, max: 5, noNaN: true }),
        (kwh, other) => {
          const jobs = [meterJob(j1, site), meterJob(j2, site)];
          const r = applyContracts(jobs, [{ kind: "ppa", ...period, kwh }], {
            otherLoadKwh: new Map([[0, other]]),
          });
          for (const j of r.jobs) {
            expect(j.marketKgCo2e).toBeLessThanOrEqual(j.locationKgCo2e + 1e-12);
            expect(j.marketKgCo2e).toBeGreaterThanOrEqual(0);
          }
          expect(r.periods[0]!.coveredKwh).toBeLessThanOrEqual(kwh);
        },
      ),
    );
  });
});

describe("rollupEnergy", () => {
  it("groups by tenant, site and month as sums of lines", () => {
    const t = Date.UTC(2024, 0, 31, 23);
    const s = {
      ...site,
      carbon: { startMs: t, stepMs: H, values: [100] },
      price: { startMs: t, stepMs: H, values: [100] },
    };
    const a = meterJob({ ...j2, intervals: [{ fromMs: t, toMs: t + 2 * H, gpuWh: 2500 }] }, s);
    const b = meterJob(
      { ...j1, nodeShare: 0, intervals: [{ fromMs: t + H, toMs: t + 2 * H, gpuWh: 5000 }] },
      s,
    );
    const byTenant = rollupEnergy([a, b], ["tenant"]);
    expect(byTenant.map((r) => [r.key.tenant, r.jobs, r.costMinor])).toEqual([
      ["t1", 1, 60],
      ["t2", 1, 30],
    ]);
    const bySiteMonth = rollupEnergy([a, b], ["site", "month"]);
    expect(bySiteMonth.map((r) => [r.key.site, r.key.month, r.jobs])).toEqual([
      ["s1", "2024-01", 1],
      ["s1", "2024-02", 2],
    ]);
    expect(bySiteMonth[1]!.facilityKwh).toBeCloseTo(1.5 + 6, 12);
    const total = rollupEnergy([a, b], []);
    expect(total).toHaveLength(1);
    expect(total[0]!.locationKgCo2e).toBeCloseTo(a.locationKgCo2e + b.locationKgCo2e, 12);
  });
});
