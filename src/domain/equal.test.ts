import { describe, expect, it } from "vitest";
import { sameValue } from "./equal.js";

describe("sameValue", () => {
  it("says what comparing the JSON would, without the key order", () => {
    expect(sameValue({ a: 1, b: [1, { c: "x" }] }, { b: [1, { c: "x" }], a: 1 })).toBe(true);
    expect(sameValue({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue([1], { 0: 1 })).toBe(false);
    expect(sameValue({ a: { b: 1 } }, { a: { b: 2 } })).toBe(false);
    expect(sameValue(null, {})).toBe(false);
    expect(sameValue("1", 1)).toBe(false);
  });
});
