import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  assessHealth,
  checkHealth,
  healthQueryFields,
  HEALTH_FIELDS,
  parseHealth,
  parseXids,
} from "./health.js";
import { parseDiscovery } from "./nvidia-smi.js";

const FIX = join(import.meta.dirname, "../../../test/fixtures/nvidia-smi");
const fixture = (f: string): string => readFileSync(join(FIX, f), "utf8");
const gpus = parseDiscovery(fixture("discovery-h100-sxm-8.csv")).gpus;
const two = gpus.slice(0, 2);
const fields = [...HEALTH_FIELDS];

describe("GPU health", () => {
  it("is healthy with normal readings", () => {
    expect(
      assessHealth({ query: { ok: true, stdout: fixture("health-ok.csv") }, fields, expected: two }),
    ).toEqual({ healthy: true, reasons: [] });
  });

  it("drains on an overheated card, uncorrected ECC errors and a failed row remap, naming each", () => {
    const v = assessHealth({ query: { ok: true, stdout: fixture("health-bad.csv") }, fields, expected: two });
    expect(v.healthy).toBe(false);
    expect(v.reasons).toEqual([
      "GPU 0 overheated: 94 °C > 90 °C",
      "GPU 1 has 3 uncorrected ECC errors since the driver loaded",
      "GPU 1 failed to remap a bad memory row (remapped_rows.failure = Yes)",
    ]);
  });

  it("treats [N/A] on consumer cards as unknown, not as a fault", () => {
    expect(parseHealth(fixture("health-consumer.csv"), fields)).toEqual([
      { index: 0, tempC: 62, eccUncorrected: undefined, rowRemapFailure: undefined },
    ]);
    expect(
      assessHealth({
        query: { ok: true, stdout: fixture("health-consumer.csv") },
        fields,
        expected: gpus.slice(0, 1),
      }).healthy,
    ).toBe(true);
  });

  it("drains when a GPU stops answering or nvidia-smi hangs", () => {
    const missing = assessHealth({ query: { ok: true, stdout: "0, 40, 0, No\n" }, fields, expected: two });
    expect(missing.reasons).toEqual([
      "GPU 1 (NVIDIA H100 80GB HBM3) no longer answers nvidia-smi (fallen off the bus?)",
    ]);
    const hung = assessHealth({
      query: { ok: false, kind: "timeout", message: "nvidia-smi did not answer within 10000 ms" },
      fields,
      expected: two,
    });
    expect(hung).toEqual({
      healthy: false,
      reasons: ["GPU unresponsive: nvidia-smi did not answer within 10000 ms"],
    });
  });

  it("drains on a serious Xid mapped to its GPU, ignores an application's Xid 13", () => {
    const xids = parseXids(fixture("kernel-xid.txt"));
    expect(xids.map((x) => x.xid)).toEqual([79, 13]);
    const v = assessHealth({
      query: { ok: true, stdout: fixture("health-ok.csv") },
      fields,
      expected: two,
      xids,
    });
    expect(v.reasons).toEqual(["driver error Xid 79 on GPU 1: pid=0, name=, GPU has fallen off the bus."]);
  });

  it("asks only for fields the driver lists, and runs the query with a timeout", async () => {
    expect(healthQueryFields(new Set(["temperature.gpu"]))).toEqual(["index", "temperature.gpu"]);
    process.env.FAKE_SMI_MODE = "hang";
    const v = await checkHealth(two, { bin: join(FIX, "fake-nvidia-smi.sh"), timeoutMs: 300 });
    delete process.env.FAKE_SMI_MODE;
    expect(v.healthy).toBe(false);
    expect(v.reasons[0]).toMatch(/^GPU unresponsive: .* did not answer within 300 ms/);
  });
});
