import { describe, expect, it } from "vitest";
import { livenessBatchMsOf, parseServerConfig } from "./config.js";

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

describe("liveness batch interval", () => {
  it("defaults to 1 s, or a quarter of a short heartbeat timeout; 0 turns batching off", () => {
    expect(livenessBatchMsOf(parseServerConfig({}))).toBe(1000);
    expect(livenessBatchMsOf(parseServerConfig({ ZUMBIDO_HEARTBEAT_TIMEOUT_MS: "2000" }))).toBe(500);
    expect(livenessBatchMsOf(parseServerConfig({ ZUMBIDO_LIVENESS_BATCH_MS: "0" }))).toBe(0);
  });

  it("refuses an interval over a third of the heartbeat timeout, naming both settings", () => {
    expect(() =>
      parseServerConfig({ ZUMBIDO_LIVENESS_BATCH_MS: "6000", ZUMBIDO_HEARTBEAT_TIMEOUT_MS: "15000" }),
    ).toThrow(/ZUMBIDO_LIVENESS_BATCH_MS \(6000\) must be at most a third of ZUMBIDO_HEARTBEAT_TIMEOUT_MS/);
  });
});
