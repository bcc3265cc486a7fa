import { createHash } from "node:crypto";
import { join } from "node:path";
import { Agent } from "../../agent/agent.js";
import { ModelledEnergyMeter } from "../../agent/energy-model.js";
import type { Executor } from "../../agent/executor.js";
import { LocalExecutor } from "../../agent/executors/local.js";
import { PodmanExecutor } from "../../agent/executors/podman.js";
import { simulatedGpuSource } from "../../agent/gpu-source.js";
import type { Clock } from "../../domain/index.js";
import type { DemoExecutor } from "./containers.js";
import { enrolmentToken, type DemoSeed } from "./federation.js";

/** Starts one in-process agent with simulated GPUs per demo site (enrolling those not yet enrolled), running workloads as `how` says. */
export async function startDemoAgents(
  server: string,
  seed: DemoSeed,
  dataDir: string,
  clock: Clock,
  log: (msg: string, f?: Record<string, unknown>) => void,
  how: DemoExecutor = { kind: "local", why: "host processes asked for" },
): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (const [i, s] of seed.sites.entries()) {
    const stateDir = join(dataDir, "agents", `node-${i + 1}`);
    const executor: Executor =
      how.kind === "podman"
        ? new PodmanExecutor({
            stateDir: join(stateDir, "workloads"),
            now: () => clock.now(),
            // Unique per data folder: another demo's agents never adopt (or remove) these containers.
            agentId: `demo-${createHash("sha256").update(stateDir).digest("hex").slice(0, 10)}`,
            defaultImage: how.image,
            simulatedGpus: true,
            nodeGpus: Number(/x(\d+)/.exec(s.gpus)?.[1] ?? 8),
          })
        : new LocalExecutor({
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
