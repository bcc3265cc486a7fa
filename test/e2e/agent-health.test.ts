// A node whose GPUs turn unhealthy is drained, its running work gets the checkpoint notice, and the
// operator sees why.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, type GpuSource } from "../../src/agent/agent.js";
import { ApiClient } from "../../src/agent/client.js";
import { ModelledEnergyMeter } from "../../src/agent/energy-model.js";
import { LocalExecutor } from "../../src/agent/executors/local.js";
import { simulatedGpuSource } from "../../src/agent/gpu-source.js";
import { enrolmentToken, seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import { parseServerConfig } from "../../src/config.js";
import { startServer, type ServerHandle } from "../../src/server.js";
import { waitFor } from "../helpers/processes.js";

describe("GPU health drains the node", () => {
  let dir: string;
  let server: ServerHandle;
  let agent: Agent;
  let seed: DemoSeed;
  let health = { healthy: true, reasons: [] as string[] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "zumbido-health-"));
    server = await startServer(
      parseServerConfig(
        {},
        {
          port: "0",
          store: `sqlite:${join(dir, "z.db")}`,
          dataDir: dir,
          logLevel: "silent",
          scheduleIntervalMs: "100",
        },
      ),
    );
    seed = await seedDemo(server.url, server.bootstrapAdminKey!, [
      {
        name: "Health Hall",
        country: "ES",
        lat: 40,
        lon: -3,
        powerKw: 500,
        pue: 1.2,
        cooling: "air",
        carbonGPerKwh: 100,
        gpus: "H100x4",
        prices: { H100: [200, 100] },
      },
    ]);
    const sim = simulatedGpuSource("H100x4");
    const gpus: GpuSource = { discover: () => sim.discover(), health: () => Promise.resolve(health) };
    const clock = { now: () => Date.now() };
    agent = new Agent({
      server: server.url,
      token: await enrolmentToken(server.url, seed.operatorKey, seed.sites[0]!.id),
      name: "health-node",
      stateDir: join(dir, "agent"),
      executor: new LocalExecutor({
        unsafeHostProcesses: true,
        stateDir: join(dir, "agent", "w"),
        now: clock.now,
      }),
      gpus,
      meter: new ModelledEnergyMeter(),
      clock,
      heartbeatMs: 100,
      meterMs: 500,
    });
    await agent.init();
    agent.start();
  });
  afterAll(async () => {
    await agent?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("drains on a GPU fault, notifies running work, and shows the operator the reason", async () => {
    const tenant = new ApiClient(server.url, seed.tenantKey);
    const operator = new ApiClient(server.url, seed.operatorKey);
    const marker = join(dir, "got-sigterm");
    const script = `process.on("SIGTERM", () => { require("fs").writeFileSync(${JSON.stringify(marker)}, "checkpoint"); }); setInterval(() => {}, 1000);`;
    const { id } = await tenant.post<{ id: string }>("/v1/jobs", {
      gpus: 2,
      gpuModels: ["H100"],
      command: [process.execPath, "-e", script],
    });
    await waitFor(
      async () => (await tenant.get<{ state: string }>(`/v1/jobs/${id}`)).state === "running",
      "the job to run",
    );
    health = { healthy: false, reasons: ["GPU 1 at 97 C (limit 90 C)"] };
    const node = await waitFor(
      async () =>
        (await operator.get<{ state: string; stateReason: string }[]>("/v1/nodes")).find(
          (n) => n.state === "draining",
        ),
      "the node to drain",
    );
    expect(node.stateReason).toMatch(/97 C/);
    await waitFor(async () => existsSync(marker), "the workload to get its checkpoint notice");
    expect(readFileSync(marker, "utf8")).toBe("checkpoint");
    // No new work goes to a draining node.
    const other = await tenant.post<{ id: string }>("/v1/jobs", {
      gpus: 1,
      gpuModels: ["H100"],
      command: ["true"],
    });
    await new Promise((r) => setTimeout(r, 500));
    expect((await tenant.get<{ state: string }>(`/v1/jobs/${other.id}`)).state).toBe("pending");
    await tenant.post(`/v1/jobs/${id}/cancel`);
  });
});
