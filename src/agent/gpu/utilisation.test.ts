import { describe, expect, it } from "vitest";
import { parsePowerSamples, powerQueryFields } from "./power.js";
import { UtilisationTracker } from "./utilisation.js";

describe("GPU utilisation for instances' --idle-stop", () => {
  it("asks the driver for utilization.gpu when it lists it, and reads it per GPU", () => {
    const fields = powerQueryFields(new Set(["power.draw", "utilization.gpu"]));
    expect(fields).toEqual(["index", "power.draw", "utilization.gpu"]);
    const s = parsePowerSamples("0, 310.5, 87\n1, 70.1, 0\n2, [N/A], [N/A]\n", fields, 1000);
    expect(s.map((x) => x.utilPct)).toEqual([87, 0, undefined]);
  });

  it("keeps each GPU's peak since the last take; unmeasured GPUs give undefined", () => {
    const t = new UtilisationTracker();
    expect(t.takeMaxPct([0, 1])).toBeUndefined();
    t.observe([
      { index: 0, t: 1, utilPct: 3 },
      { index: 1, t: 1, utilPct: 40 },
    ]);
    t.observe([
      { index: 0, t: 2, utilPct: 90 },
      { index: 1, t: 2, utilPct: 0 },
      { index: 2, t: 2 },
    ]);
    expect(t.takeMaxPct([0])).toBe(90);
    expect(t.takeMaxPct([0])).toBeUndefined(); // taken
    expect(t.takeMaxPct([1, 2])).toBe(40);
    t.observe([{ index: 3, t: 3, utilPct: 250 }]);
    expect(t.takeMaxPct([3])).toBe(100); // bounded
  });
});
