// A real agent on a node whose cards only an approved operator-defined model names (MI300X, 750 W;
// the node reports no power limit) meters modelled energy at 750 W, from the assignment's
// gpuPowerW: its own built-in catalogue does not know the card and would take 700 W.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, type GpuSource } from "../../src/agent/agent.js";
import { ModelledEnergyMeter } from "../../src/agent/energy-model.js";
import { LocalExecutor } from "../../src/agent/executors/local.js";
import { buildWorld, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const mi300x: GpuSource = {
  discover: () =>
    Promise.resolve({
      gpus: [0, 1].map((i) => ({
        index: i,
        uuid: `GPU-mi-${i}`,
        model: "UNKNOWN",
        name: "AMD Instinct MI300X",
        memoryMb: 196_608,
        powerLimitW: 0,
        healthy: false,
      })),
      driverVersion: "simulated",
    }),
  health: () => Promise.resolve({ healthy: true, reasons: [] }),
};

describe("an agent's modelled energy on an approved operator-defined model", () => {
  let h: Harness;
  let w: World;
  const dir = mkdtempSync(join(tmpdir(), "zumbido-approved-energy-"));
  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
    await call(h.app, w.operatorKey, "POST", "/v1/gpu-models", {
      id: "MI300X",
      vendor: "amd",
      name: "AMD Instinct MI300X 192GB",
      memoryGb: 192,
      powerW: 750,
      match: ["mi300x"],
    });
    await call(h.app, h.adminKey, "POST", "/v1/gpu-models/MI300X/approve");
    await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/prices/MI300X`, {
      onDemandMinorPerGpuHour: 300,
      interruptibleMinorPerGpuHour: 150,
    });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("meters 2 GPUs x 750 W x 80% over the lease", async () => {
    const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
    const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/enrolment-tokens`);
    const agent = new Agent({
      server: url,
      token: tok.json.token as string,
      name: "mi-hall",
      stateDir: join(dir, "agent"),
      executor: new LocalExecutor({
        stateDir: join(dir, "w"),
        now: () => h.clock.now(),
        unsafeHostProcesses: true,
      }),
      gpus: mi300x,
      meter: new ModelledEnergyMeter(),
      clock: h.clock,
      meterMs: 5000,
    });
    try {
      await agent.init();
      await agent.tick();
      const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: ["MI300X"],
        gpus: 2,
        command: ["sleep", "10"],
      });
      expect(sub.status).toBe(201);
      await h.loop.tick();
      await agent.tick(); // receives the assignment (gpuPowerW 750) and starts it
      const leaseId = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`)).json.leases[0]
        .id as string;
      for (let i = 0; i < 4; i++) {
        h.clock.advance(5000);
        await agent.tick();
      }
      const records = await h.store.usage.forLeases([leaseId]);
      const gpuMs = records.reduce((a, r) => a + r.gpuMs, 0);
      const milliWh = records.reduce((a, r) => a + r.energyMilliWh, 0);
      expect(gpuMs).toBeGreaterThan(0);
      expect(records.every((r) => r.energySource === "modelled")).toBe(true);
      // Per GPU-ms: 750 W x 0.8 / 3600 mWh (700 W, the old fallback, would give 0.1556).
      expect(milliWh / gpuMs).toBeCloseTo((750 * 0.8) / 3600, 3);
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${sub.json.id}/cancel`);
      h.clock.advance(1000);
      await agent.tick();
    } finally {
      await agent.stop();
    }
  });
});
