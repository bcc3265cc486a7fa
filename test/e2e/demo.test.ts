// `zumbido demo --json`: the scripted scenario on real processes, checked field by field.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { costMinor, EU_COUNTRIES } from "../../src/domain/index.js";
import { BIN } from "../helpers/processes.js";

const run = promisify(execFile);

interface DemoJob {
  name: string;
  state: string;
  site: string | null;
  country: string | null;
  gpuModel: string;
  gpus: number;
  gpuSeconds: number;
  priceMinorPerGpuHour: number | null;
  costMinor: number;
  energyWh: number;
  reasons: string[];
}

describe("zumbido demo --json", () => {
  it("prints one JSON document whose jobs show every promised outcome", async () => {
    const { stdout } = await run(process.execPath, [BIN, "demo", "--json"], {
      timeout: 180_000,
      maxBuffer: 10_000_000,
    });
    const doc = JSON.parse(stdout) as { currency: string; jobs: DemoJob[] };
    expect(doc.currency).toBe("EUR");
    const by = new Map(doc.jobs.map((j) => [j.name, j]));
    const succeeded = doc.jobs.filter((j) => j.state === "succeeded");
    expect(succeeded.length).toBeGreaterThanOrEqual(2);
    const eu = by.get("eu-training")!;
    expect(eu.state).toBe("succeeded");
    expect(EU_COUNTRIES.has(eu.country!)).toBe(true);
    const cheapest = by.get("cheapest-anywhere")!;
    expect(EU_COUNTRIES.has(cheapest.country!)).toBe(false);
    expect(cheapest.priceMinorPerGpuHour!).toBeLessThan(eu.priceMinorPerGpuHour!);
    const pending = by.get("too-big")!;
    expect(pending.state).toBe("pending");
    expect(pending.reasons.length).toBeGreaterThan(0);
    expect(pending.gpuSeconds).toBe(0);
    const cancelled = by.get("cancelled")!;
    expect(cancelled.state).toBe("cancelled");
    // The cancelled job ran ~3 s on 8 GPUs before the cancel: billed well under its 120 s script.
    expect(cancelled.gpuSeconds).toBeGreaterThan(0);
    expect(cancelled.gpuSeconds).toBeLessThan(8 * 10);
    for (const j of doc.jobs.filter((x) => x.priceMinorPerGpuHour !== null)) {
      expect(j.costMinor).toBe(costMinor(j.gpuSeconds, j.priceMinorPerGpuHour!));
      expect(j.energyWh).toBeGreaterThan(0);
    }
  });
});
