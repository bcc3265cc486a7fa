import { describe, expect, it } from "vitest";
import { parseFleet, uniformFleet } from "./fleet.js";

describe("fleets", () => {
  it("--gpus N is 8-GPU H100 nodes in one site, the last one smaller", () => {
    const f = uniformFleet(20);
    expect(f.sites).toHaveLength(1);
    expect(f.nodes.map((n) => n.gpuIndices.length)).toEqual([8, 8, 4]);
    expect(f.nodes.every((n) => n.gpuModel === "H100" && n.gpuPowerW === 700)).toBe(true);
  });

  it("reads a fleet file with counts, models and prices", () => {
    const f = parseFleet(
      JSON.stringify({
        sites: [
          {
            id: "es",
            country: "ES",
            pue: 1.1,
            powerCapKw: 50,
            prices: { H100: { onDemand: 250, interruptible: 100 } },
            nodes: [{ count: 2, gpus: 8, model: "H100" }],
          },
          { id: "no", country: "NO", nodes: [{ gpus: 4, model: "a100" }] },
        ],
      }),
    );
    expect(f.nodes.map((n) => `${n.siteId}:${n.gpuModel}:${n.gpuIndices.length}`)).toEqual([
      "es:H100:8",
      "es:H100:8",
      "no:A100:4",
    ]);
    expect(f.sites[0]!.prices.H100).toEqual({
      onDemandMinorPerGpuHour: 250,
      interruptibleMinorPerGpuHour: 100,
    });
    expect(f.sites[0]!.powerCapKw).toBe(50);
  });

  it("refuses bad fleets with the field named", () => {
    expect(() => parseFleet("{")).toThrow(/not valid JSON/);
    expect(() => parseFleet(JSON.stringify({ sites: [] }))).toThrow(/fleet.sites must be a non-empty array/);
    expect(() =>
      parseFleet(JSON.stringify({ sites: [{ id: "a", nodes: [{ gpus: 8, model: "Z9" }] }] })),
    ).toThrow(/fleet.sites\[0\].nodes\[0\].model "Z9"/);
    expect(() =>
      parseFleet(JSON.stringify({ sites: [{ id: "a", pue: 0.9, nodes: [{ gpus: 8, model: "H100" }] }] })),
    ).toThrow(/pue must be at least 1/);
    expect(() => uniformFleet(0)).toThrow(/--gpus/);
  });
});
