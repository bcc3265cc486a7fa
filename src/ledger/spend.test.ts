import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { admitJob, availableMinor, canAfford, decideSpend, decideSpendAll, hourCostMinor } from "./spend.js";

const eightH100 = { leaseId: "L1", gpus: 8, priceMinorPerGpuHour: 200 }; // 16.00 per hour

describe("spend limits", () => {
  it("is ok with more than the notice window left", () => {
    const d = decideSpend({ tenantId: "t1", balanceMinor: 3200 }, [eightH100], { noticeMinutes: 60 });
    expect(d).toMatchObject({ decision: "ok", burnMinorPerHour: 1600, minutesLeft: 120, leaseIds: [] });
  });
  it("sends a notice to every running lease when less than the window is left", () => {
    const d = decideSpend(
      { tenantId: "t1", balanceMinor: 800 },
      [eightH100, { leaseId: "L0", gpus: 1, priceMinorPerGpuHour: 0 }],
      {
        noticeMinutes: 60,
      },
    );
    expect(d).toMatchObject({ decision: "notice", minutesLeft: 30, leaseIds: ["L0", "L1"] });
  });
  it("stops when the money is gone, or below the stop window", () => {
    expect(decideSpend({ tenantId: "t1", balanceMinor: 0 }, [eightH100]).decision).toBe("stop");
    expect(
      decideSpend({ tenantId: "t1", balanceMinor: 200 }, [eightH100], { stopMinutes: 10, noticeMinutes: 30 }),
    ).toMatchObject({
      decision: "stop",
      minutesLeft: 7,
    });
  });
  it("counts a credit line as money available", () => {
    expect(availableMinor({ tenantId: "t1", balanceMinor: -500, creditLimitMinor: 2100 })).toBe(1600);
    expect(
      decideSpend({ tenantId: "t1", balanceMinor: -500, creditLimitMinor: 100_000 }, [eightH100]).decision,
    ).toBe("ok");
  });
  it("includes VAT in the burn when it is charged", () => {
    expect(hourCostMinor({ gpus: 8, priceMinorPerGpuHour: 200, vatRateBps: 2100 })).toBe(1936);
  });
  it("refuses new jobs when below zero with nothing running", () => {
    expect(decideSpend({ tenantId: "t1", balanceMinor: -1 }, []).decision).toBe("stop");
    expect(decideSpend({ tenantId: "t1", balanceMinor: 0 }, []).decision).toBe("ok");
  });
  it("rejects inconsistent thresholds and bad figures, naming the field", () => {
    expect(() =>
      decideSpend({ tenantId: "t1", balanceMinor: 0 }, [], { stopMinutes: 90, noticeMinutes: 60 }),
    ).toThrow(/stopMinutes/);
    expect(() => hourCostMinor({ gpus: 0, priceMinorPerGpuHour: 1 })).toThrow(/gpus/);
    expect(() => canAfford(1.5, 10)).toThrow(/firstHourCostMinor/);
  });
  it("never lets the decision get better as money shrinks (property)", () => {
    const rank = { ok: 0, notice: 1, stop: 2 } as const;
    fc.assert(
      fc.property(
        fc.integer({ min: -1e6, max: 1e7 }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.array(
          fc.record({ gpus: fc.integer({ min: 1, max: 16 }), price: fc.integer({ min: 0, max: 5000 }) }),
          { maxLength: 5 },
        ),
        (balance, less, leases) => {
          const running = leases.map((l, i) => ({
            leaseId: `L${i}`,
            gpus: l.gpus,
            priceMinorPerGpuHour: l.price,
          }));
          const a = decideSpend({ tenantId: "t", balanceMinor: balance }, running, {
            noticeMinutes: 30,
            stopMinutes: 5,
          });
          const b = decideSpend({ tenantId: "t", balanceMinor: balance - less }, running, {
            noticeMinutes: 30,
            stopMinutes: 5,
          });
          expect(rank[b.decision]).toBeGreaterThanOrEqual(rank[a.decision]);
        },
      ),
    );
  });
});

describe("decideSpendAll", () => {
  it("decides for every tenant, sorted, with each tenant's own leases", () => {
    const ds = decideSpendAll(
      [
        { tenantId: "b", balanceMinor: 100 },
        { tenantId: "a", balanceMinor: 100_000 },
      ],
      new Map([["b", [eightH100]]]),
    );
    expect(ds.map((d) => [d.tenantId, d.decision])).toEqual([
      ["a", "ok"],
      ["b", "notice"],
    ]);
  });
});

describe("admission", () => {
  it("admits a job only if its first hour is covered after the running jobs' next hour", () => {
    expect(canAfford(1600, 1600)).toBe(true);
    expect(canAfford(1601, 1600)).toBe(false);
    const job = { gpus: 8, priceMinorPerGpuHour: 200 };
    expect(admitJob({ tenantId: "t1", balanceMinor: 3200 }, [eightH100], job).ok).toBe(true);
    const no = admitJob({ tenantId: "t1", balanceMinor: 3199 }, [eightH100], job);
    expect(no).toMatchObject({ ok: false, firstHourCostMinor: 1600, availableMinor: 1599 });
    expect(no.reason).toMatch(/top up or raise the credit limit/);
  });
});
