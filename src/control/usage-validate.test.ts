import fc from "fast-check";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { UsageRecord } from "../api/schemas.js";
import { parseUsageBatch, validateUsageBatch } from "./usage-validate.js";

const Body = z.object({ records: z.array(UsageRecord).max(100_000) });

const good = {
  nodeId: "n1",
  seq: 1,
  leaseId: "L1",
  fromMs: 0,
  toMs: 10,
  gpuMs: 20,
  energyMilliWh: 3,
  energySource: "measured",
};

/** Field values that are sometimes right and sometimes wrong. */
const anyValue = fc.oneof(
  fc.integer({ min: -3, max: 5 }),
  fc.constantFrom(
    1.5,
    Number.MAX_SAFE_INTEGER + 2,
    Number.NaN,
    "x",
    "measured",
    "modelled",
    null,
    true,
    [],
    {},
  ),
  fc.string({ maxLength: 3 }),
);

describe("validateUsageBatch", () => {
  it("accepts exactly what the route's zod schema accepts (fast-check)", () => {
    const record = fc.oneof(
      fc.constant(good as Record<string, unknown>),
      fc
        .record({ key: fc.constantFrom(...Object.keys(good), "extra"), value: anyValue, drop: fc.boolean() })
        .map(({ key, value, drop }) => {
          const r: Record<string, unknown> = { ...good };
          if (drop) delete r[key];
          else r[key] = value;
          return r;
        }),
      anyValue,
    );
    fc.assert(
      fc.property(fc.array(record, { maxLength: 4 }), fc.boolean(), (records, extraTop) => {
        const body: Record<string, unknown> = { records };
        if (extraTop) body.more = 1;
        expect(validateUsageBatch(body).ok).toBe(Body.safeParse(body).success);
      }),
      { numRuns: 2_000 },
    );
  });

  it("names the field and the record at fault, and refuses oversized batches", () => {
    const r = validateUsageBatch({ records: [good, { ...good, seq: 0, colour: "red" }] });
    expect(r).toEqual({
      ok: false,
      issues: [
        { path: "records.1.seq", message: "must be a positive integer" },
        { path: "records.1.colour", message: "is not a field of a usage record; remove it" },
      ],
    });
    expect(() => parseUsageBatch({ records: [good, good, good] }, 2)).toThrow(/at most 2 per batch/);
    expect(() => parseUsageBatch("nope")).toThrow(/body must be an object/);
    expect(parseUsageBatch({ records: [good] })).toEqual([good]);
  });
});

describe("the energy field's old name", () => {
  const rec = {
    nodeId: "n",
    seq: 1,
    leaseId: "l",
    fromMs: 0,
    toMs: 1000,
    gpuMs: 1000,
    energySource: "modelled",
  };

  it("accepts energyMwh from agents of earlier releases as energyMilliWh", () => {
    const r = validateUsageBatch({ records: [{ ...rec, energyMwh: 250 }] });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.records[0]).toEqual({ ...rec, energyMilliWh: 250 });
  });

  it("refuses a record that carries both names", () => {
    const r = validateUsageBatch({ records: [{ ...rec, energyMwh: 250, energyMilliWh: 250 }] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.path).toBe("records.0.energyMwh");
  });
});
