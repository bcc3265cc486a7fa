import { describe, expect, it } from "vitest";
import { estimate } from "./estimate.js";
import type { GpuModelInfo, Offer } from "./types.js";

const offer = (
  siteName: string,
  country: string,
  gpuModel: string,
  od: number,
  intr: number,
  free: number,
  carbon: number | null = 100,
): Offer => ({
  siteId: siteName.toLowerCase(),
  siteName,
  country,
  gpuModel,
  totalGpus: 8,
  freeGpus: free,
  jurisdictions: [],
  onDemandMinorPerGpuHour: od,
  interruptibleMinorPerGpuHour: intr,
  currency: "EUR",
  carbonGPerKwh: carbon,
  pue: 1.2,
});
const OFFERS = [
  offer("Asturias", "ES", "H100", 240, 120, 8, 110),
  offer("Boden", "SE", "H100", 265, 140, 8, 30),
  offer("Parana", "PY", "H100", 150, 70, 2, 25),
  offer("Zaragoza", "ES", "A100", 130, 60, 8, 120),
];
const CAT: GpuModelInfo[] = [
  { id: "H100", name: "H100", memoryGb: 80, tdpW: 700, relThroughput: 3 },
  { id: "A100", name: "A100", memoryGb: 40, tdpW: 400, relThroughput: 1 },
];

describe("estimate", () => {
  it("is the cheapest eligible offer × GPUs, per hour", () => {
    const e = estimate(OFFERS, { gpus: 2, gpuModels: ["H100"], class: "on-demand" }, CAT);
    expect(e.cheapest?.siteName).toBe("Parana");
    expect(e.perHourMinor).toBe(300);
    expect(e.excluded).toEqual(["1 offer of another GPU model"]);
  });

  it("keeps EU jobs in the EU and says why the rest are out", () => {
    const e = estimate(
      OFFERS,
      {
        gpus: 4,
        gpuModels: ["H100", "A100"],
        class: "on-demand",
        jurisdiction: "EU",
        maxPriceMinorPerGpuHour: 250,
      },
      CAT,
    );
    expect(e.eligible.map((o) => o.siteName)).toEqual(["Zaragoza", "Asturias"]);
    expect(e.perHourMinor).toBe(520);
    expect(e.excluded.sort()).toEqual(["1 offer above your maximum price", "1 offer outside the EU"]);
  });

  it("uses the interruptible price for interruptible jobs, and the carbon and memory limits", () => {
    const e = estimate(
      OFFERS,
      {
        gpus: 1,
        gpuModels: ["H100", "A100"],
        class: "interruptible",
        maxCarbonGPerKwh: 100,
        minGpuMemoryGb: 80,
      },
      CAT,
    );
    expect(e.eligible.map((o) => [o.siteName, o.priceMinorPerGpuHour])).toEqual([
      ["Parana", 70],
      ["Boden", 140],
    ]);
  });

  it("tells the cheapest offer from the cheapest with enough free GPUs now, and totals a runtime by the billing rule", () => {
    const e = estimate(
      OFFERS,
      { gpus: 4, gpuModels: ["H100"], class: "on-demand", runtimeEstimateS: 1800 },
      CAT,
    );
    expect(e.cheapest?.siteName).toBe("Parana");
    expect(e.cheapestNow?.siteName).toBe("Asturias");
    // 4 GPUs × 1800 s at 150 cents per GPU-hour = 300 cents.
    expect(e.totalMinor).toBe(300);
  });

  it("has no price when nothing fits", () => {
    const e = estimate(OFFERS, { gpus: 2, gpuModels: ["B200"], class: "on-demand" }, CAT);
    expect(e.cheapest).toBeNull();
    expect(e.perHourMinor).toBeNull();
  });
});
