import { describe, expect, it } from "vitest";
import { renderReport } from "./report.js";
import { runSimulation } from "./run.js";
import { uniformFleet } from "./fleet.js";

describe("HTML report", () => {
  it("has a table and four SVG plots, and no script", () => {
    const trace = Array.from({ length: 50 }, (_, k) => ({
      id: `j${k}`,
      submitS: k * 10,
      durationS: 100 + k,
      gpus: 1 + (k % 4),
      tenant: `t${k % 2}`,
    }));
    const out = runSimulation({ trace, fleet: uniformFleet(8), policies: ["fifo", "zumbido"] });
    const html = renderReport("test <run>", out);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toContain("JCT CDF per policy");
    expect(html).toContain("Mean slowdown per tenant");
    expect(html).toContain("test &lt;run&gt;");
    expect(html).not.toMatch(/<script/i);
    expect(out.every((o) => o.result.violations === 0)).toBe(true);
  });
});
