import { describe, expect, it } from "vitest";
import { energyMinorPerGpuHour, spotPriceMinor } from "./spot-price.js";

describe("interruptible price follows the power price", () => {
  it("costs a GPU-hour's energy from power, PUE and the power price", () => {
    // 700 W x 1.2 = 0.84 kW; at 100 EUR/MWh that is 0.084 EUR = 8.4 cents per hour.
    expect(energyMinorPerGpuHour(700, 1.2, 100)).toBeCloseTo(8.4, 10);
  });
  it("keeps the operator's floor until energy plus the margin passes it, then rounds up to the cent", () => {
    expect(spotPriceMinor(120, 700, 1.2, 50)).toBe(120);
    // 2000 EUR/MWh: 168 cents of energy x 1.25 = 210.
    expect(spotPriceMinor(120, 700, 1.2, 2000)).toBe(210);
    expect(spotPriceMinor(120, 700, 1.2, 1500.5)).toBe(Math.ceil(((700 * 1.2 * 1500.5) / 10_000) * 1.25));
  });
});
