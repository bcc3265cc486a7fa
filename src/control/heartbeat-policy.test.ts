import { describe, expect, it } from "vitest";
import { heartbeatIntervalMs, MAX_HEARTBEAT_INTERVAL_MS, OfflineTimeout } from "./heartbeat-policy.js";
import { MAX_HEARTBEAT_MS } from "../agent/agent.js";

describe("heartbeat policy", () => {
  it("names 1 s per 1,000 nodes, from 1 s to 10 s, and 1 s while work starts or stops", () => {
    expect(heartbeatIntervalMs(0, false)).toBe(1000);
    expect(heartbeatIntervalMs(1000, false)).toBe(1000);
    expect(heartbeatIntervalMs(1001, false)).toBe(2000);
    expect(heartbeatIntervalMs(3000, false)).toBe(3000);
    expect(heartbeatIntervalMs(10_000, false)).toBe(10_000);
    expect(heartbeatIntervalMs(50_000, false)).toBe(MAX_HEARTBEAT_INTERVAL_MS);
    expect(heartbeatIntervalMs(50_000, true)).toBe(1000);
    // The agent accepts every interval the server names.
    expect(MAX_HEARTBEAT_MS).toBeGreaterThanOrEqual(MAX_HEARTBEAT_INTERVAL_MS);
  });

  it("keeps the configured offline timeout while it spans three intervals, else three intervals", () => {
    const t = new OfflineTimeout();
    expect(t.at(0, 100, 15_000)).toBe(15_000);
    expect(t.at(0, 5000, 15_000)).toBe(15_000);
    expect(t.at(0, 6000, 15_000)).toBe(18_000);
    expect(t.at(0, 10_000, 15_000)).toBe(30_000);
    expect(new OfflineTimeout().at(0, 10_000, 60_000)).toBe(60_000);
  });

  it("remembers the longest interval of the last minute when the fleet shrinks", () => {
    const t = new OfflineTimeout();
    expect(t.at(0, 10_000, 15_000)).toBe(30_000);
    // Nodes told 10 s a moment ago may still be silent for 10 s: the timeout does not drop yet.
    expect(t.at(30_000, 500, 15_000)).toBe(30_000);
    expect(t.at(60_000, 500, 15_000)).toBe(30_000);
    expect(t.at(60_001, 500, 15_000)).toBe(15_000);
    // Growing again takes effect at once.
    expect(t.at(60_002, 8000, 15_000)).toBe(24_000);
  });
});
