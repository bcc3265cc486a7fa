import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { discoverGpus, parseDiscovery, simulatedGpus } from "./nvidia-smi.js";
import {
  parseHelpQueryGpu,
  parsePowerSamples,
  powerQueryFields,
  probeQueryFields,
  simulatedPowerW,
} from "./power.js";
import { runSmi, smiNumber } from "./smi-run.js";

const FIX = join(import.meta.dirname, "../../../test/fixtures/nvidia-smi");
const fixture = (f: string): string => readFileSync(join(FIX, f), "utf8");
const FAKE = join(FIX, "fake-nvidia-smi.sh");

describe("nvidia-smi discovery", () => {
  it.each([
    ["discovery-h100-sxm-8.csv", 8, "H100", 81559, 700],
    ["discovery-h100-pcie-2.csv", 2, "H100-PCIE", 81559, 350],
    ["discovery-h200-8.csv", 8, "H200", 143771, 700],
    ["discovery-a100-sxm4-4.csv", 4, "A100", 81920, 400],
    ["discovery-l40s-4.csv", 4, "L40S", 46068, 350],
    ["discovery-rtx4090-1.csv", 1, "RTX4090", 24564, 450],
  ])("%s: %i GPUs of model %s", (file, count, model, mem, watts) => {
    const d = parseDiscovery(fixture(file));
    expect(d.warnings).toEqual([]);
    expect(d.gpus).toHaveLength(count);
    expect(d.gpus.map((g) => g.index)).toEqual([...Array(count).keys()]);
    for (const g of d.gpus) {
      expect(g.modelId).toBe(model);
      expect(g.memoryMiB).toBe(mem);
      expect(g.powerLimitW).toBe(watts);
      expect(g.uuid).toMatch(/^GPU-[0-9a-f-]+$/);
      expect(g.pciBusId).toMatch(/^00000000:[0-9A-F]{2}:00\.0$/);
      expect(g.driverVersion).toMatch(/^\d+\.\d+/);
    }
  });

  it("keeps a GPU whose power limit is [N/A], reports an unknown card without a model, and skips junk with a warning", () => {
    const d = parseDiscovery(fixture("discovery-odd.csv"));
    expect(d.gpus).toHaveLength(2);
    expect(d.gpus[0]).toMatchObject({ index: 0, modelId: "H100", powerLimitW: undefined });
    expect(d.gpus[1]).toMatchObject({ index: 1, name: "NVIDIA Quadro P400", modelId: undefined });
    expect(d.warnings).toHaveLength(2);
    expect(d.warnings.join("\n")).toMatch(/not in the catalogue/);
    expect(d.warnings.join("\n")).toMatch(/skipped a line with 1 fields/);
    expect(smiNumber("[Not Supported]")).toBeUndefined();
    expect(smiNumber(" 81559 ")).toBe(81559);
  });

  it("runs the binary: parses its output, says when it is absent, times out when it hangs", async () => {
    process.env.FAKE_SMI_FILE = join(FIX, "discovery-l40s-4.csv");
    process.env.FAKE_SMI_MODE = "print";
    const ok = await discoverGpus({ bin: FAKE });
    expect(ok.ok && ok.discovery.gpus.map((g) => g.modelId)).toEqual(["L40S", "L40S", "L40S", "L40S"]);
    const absent = await discoverGpus({ bin: "/nonexistent/nvidia-smi" });
    expect(absent).toMatchObject({ ok: false, kind: "absent" });
    process.env.FAKE_SMI_MODE = "hang";
    const hung = await runSmi(["-L"], { bin: FAKE, timeoutMs: 300 });
    expect(hung).toMatchObject({ ok: false, kind: "timeout" });
    process.env.FAKE_SMI_MODE = "fail";
    const failed = await runSmi(["-L"], { bin: FAKE });
    expect(!failed.ok && failed.message).toMatch(/couldn't communicate with the NVIDIA driver/);
    delete process.env.FAKE_SMI_MODE;
  });
});

describe("simulated GPUs", () => {
  it("builds GPUs from a spec with running indices and catalogue figures", () => {
    const g = simulatedGpus("A100x4, L40Sx2");
    expect(g.map((x) => `${x.index}:${x.modelId}`)).toEqual([
      "0:A100",
      "1:A100",
      "2:A100",
      "3:A100",
      "4:L40S",
      "5:L40S",
    ]);
    expect(new Set(g.map((x) => x.uuid)).size).toBe(6);
    expect(g[4]?.powerLimitW).toBe(350);
    expect(simulatedGpus("h100x8")).toHaveLength(8);
  });

  it("rejects a bad spec with a message saying how to write it", () => {
    expect(() => simulatedGpus("H100")).toThrow(/write <model>x<count>/);
    expect(() => simulatedGpus("Z9x2")).toThrow(/unknown GPU model "Z9"/);
    expect(() => simulatedGpus("H100x0")).toThrow(/count must be 1..64/);
  });

  it("models power as 10% of TDP idle plus utilisation-scaled rest", () => {
    expect(simulatedPowerW(700, 0)).toBe(70);
    expect(simulatedPowerW(700, 1)).toBe(700);
    expect(simulatedPowerW(700, 0.5)).toBeCloseTo(385);
    expect(simulatedPowerW(700, 3)).toBe(700);
  });
});

describe("power sampling", () => {
  it("chooses power.draw.instant and the energy counter only when the driver lists them", async () => {
    const help = parseHelpQueryGpu(fixture("help-query-gpu.txt"));
    expect(help.has("power.draw.average")).toBe(true);
    expect(powerQueryFields(help)).toEqual(["index", "power.draw.instant"]);
    expect(powerQueryFields(new Set([...help, "total_energy_consumption"]))).toEqual([
      "index",
      "power.draw.instant",
      "total_energy_consumption",
    ]);
    expect(powerQueryFields(undefined)).toEqual(["index", "power.draw"]);
    process.env.FAKE_SMI_FILE = join(FIX, "help-query-gpu.txt");
    expect((await probeQueryFields({ bin: FAKE }))?.has("power.draw.instant")).toBe(true);
    expect(await probeQueryFields({ bin: "/nonexistent/nvidia-smi" })).toBeUndefined();
  });

  it("reads power and the counter, and [N/A] as missing", () => {
    const f = ["index", "power.draw.instant", "total_energy_consumption"];
    expect(parsePowerSamples(fixture("power-h100-t0.csv"), f, 5)).toEqual([
      { index: 0, t: 5, powerW: 312.45, energyMj: 9876543210 },
      { index: 1, t: 5, powerW: 71.2, energyMj: 5123456789 },
    ]);
    expect(parsePowerSamples(fixture("power-rtx4090.csv"), f, 0)).toEqual([
      { index: 0, t: 0, powerW: 402.17, energyMj: undefined },
    ]);
  });
});
