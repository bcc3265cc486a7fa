import { describe, expect, it } from "vitest";
import { seededRng } from "../domain/clock.js";
import { nextHeartbeatWaitMs } from "./heartbeat-pace.js";

describe("heartbeat pacing", () => {
  it("keeps the interval while it holds, and never waits longer than a new one", () => {
    const rng = seededRng(7);
    expect(nextHeartbeatWaitMs(20_000, 20_000, () => rng.next())).toBe(20_000);
    for (let i = 0; i < 1000; i++) {
      const w = nextHeartbeatWaitMs(1000, 20_000, () => rng.next());
      expect(w).toBeGreaterThanOrEqual(0);
      expect(w).toBeLessThan(20_000);
    }
  });

  it("spreads a fleet that hears a longer interval at once over the new interval (no waves)", () => {
    // 1,000 nodes beating together at 1 s all hear 20 s: their next beats, by second.
    const rng = seededRng(11);
    const perSecond = new Array<number>(20).fill(0);
    for (let n = 0; n < 1000; n++)
      perSecond[Math.floor(nextHeartbeatWaitMs(1000, 20_000, () => rng.next()) / 1000)]!++;
    // 50 a second on average; a node that kept its phase would put all 1,000 in one second.
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(100);
    expect(Math.min(...perSecond)).toBeGreaterThanOrEqual(20);
  });
});
