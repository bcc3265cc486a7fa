import { describe, expect, it } from "vitest";
import {
  detectionEveryMs,
  heartbeatIntervalMs,
  MAX_HEARTBEAT_INTERVAL_MS,
  OfflineTimeout,
  steadyLagMs,
} from "./heartbeat-policy.js";
import { MAX_HEARTBEAT_MS } from "../agent/agent.js";

describe("heartbeat policy", () => {
  it("names the fleet over 500 renewals a second, from 1 s to 30 s, and 1 s while work starts or stops", () => {
    expect(heartbeatIntervalMs(0, false)).toBe(1000);
    expect(heartbeatIntervalMs(500, false)).toBe(1000);
    expect(heartbeatIntervalMs(501, false)).toBe(2000);
    expect(heartbeatIntervalMs(2000, false)).toBe(4000);
    expect(heartbeatIntervalMs(10_000, false)).toBe(20_000);
    expect(heartbeatIntervalMs(15_000, false)).toBe(30_000);
    expect(heartbeatIntervalMs(50_000, false)).toBe(MAX_HEARTBEAT_INTERVAL_MS);
    expect(heartbeatIntervalMs(50_000, true)).toBe(1000);
    // The agent accepts every interval the server names.
    expect(MAX_HEARTBEAT_MS).toBeGreaterThanOrEqual(MAX_HEARTBEAT_INTERVAL_MS);
  });

  it("lets a steady beat's view lag half a second only in a fleet of more than 1,000 nodes", () => {
    expect(steadyLagMs(0)).toBe(0);
    expect(steadyLagMs(1000)).toBe(0);
    expect(steadyLagMs(1001)).toBe(500);
    expect(steadyLagMs(10_000)).toBe(500);
  });

  it("detects failures once a second, or every fifteenth of a longer timeout in force", () => {
    expect(detectionEveryMs(15_000, 0)).toBe(1000);
    expect(detectionEveryMs(15_000, 15_000)).toBe(1000);
    expect(detectionEveryMs(5000, 5000)).toBe(500);
    expect(detectionEveryMs(15_000, 60_000)).toBe(4000);
  });

  it("keeps the configured offline timeout while it spans three intervals, else three intervals", () => {
    const t = new OfflineTimeout();
    expect(t.at(0, 100, 15_000)).toBe(15_000);
    expect(t.at(0, 2500, 15_000)).toBe(15_000);
    expect(t.at(0, 3000, 15_000)).toBe(18_000);
    expect(t.at(0, 10_000, 15_000)).toBe(60_000);
    expect(new OfflineTimeout().at(0, 10_000, 90_000)).toBe(90_000);
  });

  it("remembers the longest interval of the last minute when the fleet shrinks", () => {
    const t = new OfflineTimeout();
    expect(t.at(0, 10_000, 15_000)).toBe(60_000);
    // Nodes told 20 s a moment ago may still be silent for 20 s: the timeout does not drop yet.
    expect(t.at(30_000, 500, 15_000)).toBe(60_000);
    expect(t.at(60_000, 500, 15_000)).toBe(60_000);
    expect(t.at(60_001, 500, 15_000)).toBe(15_000);
    // Growing again takes effect at once.
    expect(t.at(60_002, 4000, 15_000)).toBe(24_000);
  });
});
