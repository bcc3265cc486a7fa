import { join } from "node:path";
import { Agent } from "../../agent/agent.js";
import { ModelledEnergyMeter } from "../../agent/energy-model.js";
import { LocalExecutor } from "../../agent/executors/local.js";
import { simulatedGpuSource } from "../../agent/gpu-source.js";
import type { Clock } from "../../domain/index.js";
import { enrolmentToken, type DemoSeed } from "./federation.js";

/** Starts one in-process agent with simulated GPUs per demo site (enrolling those not yet enrolled). */
export async function startDemoAgents(
  server: string,
  seed: DemoSeed,
  dataDir: string,
  clock: Clock,
  log: (msg: string, f?: Record<string, unknown>) => void,
): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (const [i, s] of seed.sites.entries()) {
    const stateDir = join(dataDir, "agents", `node-${i + 1}`);
    const executor = new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: join(stateDir, "workloads"),
      now: () => clock.now(),
    });
    const agent = new Agent({
      server,
      name: `${s.name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-node-1`,
      stateDir,
      executor,
      gpus: simulatedGpuSource(s.gpus),
      meter: new ModelledEnergyMeter(),
      clock,
      heartbeatMs: 1000,
      meterMs: 5000,
      log: (msg, f) => log(msg, { site: s.name, ...f }),
      token: await tokenIfNeeded(stateDir, server, seed.operatorKey, s.id),
    });
    await agent.init();
    agent.start();
    agents.push(agent);
  }
  return agents;
}

async function tokenIfNeeded(
  stateDir: string,
  server: string,
  operatorKey: string,
  siteId: string,
): Promise<string | undefined> {
  const { existsSync } = await import("node:fs");
  if (existsSync(join(stateDir, "agent.db"))) return undefined;
  return enrolmentToken(server, operatorKey, siteId);
}
