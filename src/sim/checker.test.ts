import { describe, expect, it } from "vitest";
import { checkReplay } from "./checker.js";
import { uniformFleet } from "./fleet.js";
import type { LogEntry } from "./engine.js";
import type { TraceJob } from "./trace.js";

const jobs: TraceJob[] = [
  { id: "a", submitS: 0, durationS: 10, gpus: 2, tenant: "t" },
  { id: "b", submitS: 0, durationS: 10, gpus: 2, tenant: "t" },
];
const fleet = uniformFleet(16);
const ok: LogEntry[] = [
  { t: 0, job: 0, start: true, nodes: [0], masks: [0b11] },
  { t: 0, job: 1, start: true, nodes: [0], masks: [0b1100] },
  { t: 10, job: 0, start: false, nodes: [0], masks: [0b11] },
  { t: 10, job: 1, start: false, nodes: [0], masks: [0b1100] },
];

describe("independent replay checker", () => {
  it("passes a clean log", () => {
    expect(checkReplay(fleet, jobs, ok)).toEqual([]);
  });
  it("catches a GPU given twice", () => {
    const log = ok.map((e) => (e.job === 1 && e.start ? { ...e, masks: [0b110] } : e));
    expect(checkReplay(fleet, jobs, log).join()).toMatch(/given twice/);
  });
  it("catches a split gang that fits one node", () => {
    const log = ok.map((e) => (e.job === 1 ? { ...e, nodes: [0, 1], masks: [0b100, 0b1] } : e));
    expect(checkReplay(fleet, jobs, log).join()).toMatch(/split over nodes/);
  });
  it("catches a job cut short and a gang not whole", () => {
    const log = ok.map((e) =>
      e.job === 0 && !e.start ? { ...e, t: 5 } : e.job === 1 ? { ...e, masks: [0b100] } : e,
    );
    const v = checkReplay(fleet, jobs, log).join();
    expect(v).toMatch(/less than its 10 s/);
    expect(v).toMatch(/gang not whole/);
  });
  it("catches a power cap broken", () => {
    const tight = uniformFleet(16);
    tight.sites[0]!.powerCapKw = 2; // 4 GPUs × 840 W = 3.36 kW
    expect(checkReplay(tight, jobs, ok).join()).toMatch(/above its cap/);
  });
});
