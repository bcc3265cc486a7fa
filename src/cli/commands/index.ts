import type { Command } from "commander";
import { registerAdminCommands } from "./admin.js";
import { registerAgentCommand } from "./agent.js";
import { registerBenchFleetCommand } from "./bench-fleet.js";
import { registerBenchRelayCommand } from "./bench-relay.js";
import { registerBenchIngestCommand } from "./bench-ingest-run.js";
import { registerBenchSchedulerCommand } from "./bench-scheduler.js";
import { registerBillingCommands } from "./billing.js";
import { registerDemoCommand } from "./demo.js";
import { registerEnergyCommands } from "./energy.js";
import { registerFleetCommands } from "./fleet.js";
import { registerGpuModelCommands } from "./gpu-models.js";
import { registerTrustCommands } from "./trust.js";
import { registerNodeTrustCommands } from "./node-trust.js";
import { registerJobsCommand } from "./jobs.js";
import { registerInstanceCommands } from "./instances.js";
import { registerSecretsCommands } from "./secrets.js";
import { registerPlanCommand } from "./plan.js";
import { registerRelayCommands } from "./relay.js";
import { registerServeCommand } from "./serve.js";
import { registerSimCommand } from "./sim.js";
import { registerVolumeCommands } from "./volumes.js";

/** Registers every subcommand on the program. */
export function registerCommands(program: Command): void {
  program
    .option("--url <url>", "server URL (ZUMBIDO_URL, or the config file)")
    .option("--token <key>", "API key (ZUMBIDO_TOKEN, or the config file)")
    .option("--json", "print data as JSON");
  registerServeCommand(program);
  registerAgentCommand(program);
  registerJobsCommand(program);
  registerRelayCommands(program);
  registerInstanceCommands(program);
  registerSecretsCommands(program);
  registerFleetCommands(program);
  registerVolumeCommands(program);
  registerGpuModelCommands(program);
  registerTrustCommands(program);
  registerNodeTrustCommands(program);
  registerBillingCommands(program);
  registerEnergyCommands(program);
  registerAdminCommands(program);
  registerDemoCommand(program);
  registerPlanCommand(program);
  registerSimCommand(program);
  const bench = program
    .command("bench")
    .description("benchmarks with a baseline measured in the same run (npm run bench runs them all)");
  registerBenchSchedulerCommand(bench);
  registerBenchIngestCommand(bench);
  registerBenchFleetCommand(bench);
  registerBenchRelayCommand(bench);
}
