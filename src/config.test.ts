import { describe, expect, it } from "vitest";
import { parseServerConfig } from "./config.js";

describe("config booleans are words", () => {
  // Failed before the fix: z.coerce.boolean() read ZUMBIDO_DEMO=false as true.
  it.each([
    ["false", false],
    ["FALSE", false],
    ["no", false],
    ["off", false],
    ["0", false],
    ["true", true],
    ["Yes", true],
    ["on", true],
    ["1", true],
  ])("ZUMBIDO_DEMO=%s is %s", (word, want) => {
    expect(parseServerConfig({ ZUMBIDO_DEMO: word }).demo).toBe(want);
    expect(parseServerConfig({ ZUMBIDO_DEFER_FLEXIBLE: word }).deferFlexible).toBe(want);
  });

  it("defaults: demo off, deferral on; booleans from code pass through", () => {
    const c = parseServerConfig({});
    expect(c.demo).toBe(false);
    expect(c.deferFlexible).toBe(true);
    expect(parseServerConfig({}, { demo: true }).demo).toBe(true);
  });

  it("a wrong word is an error naming the variable", () => {
    expect(() => parseServerConfig({ ZUMBIDO_DEMO: "nope" })).toThrow(
      /ZUMBIDO_DEMO \(--demo\): "nope" is not a yes\/no value/,
    );
    expect(() => parseServerConfig({ ZUMBIDO_DEFER_FLEXIBLE: "2" })).toThrow(/ZUMBIDO_DEFER_FLEXIBLE/);
  });
});
