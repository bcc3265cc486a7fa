// `npm start`: the control plane on its embedded defaults (SQLite in ./.zumbido, local executor)
// with a demo federation of four halls, each with one in-process agent and simulated GPUs.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseServerConfig } from "./config.js";
import { startServer } from "./server.js";
import { seedDemo, type DemoSeed } from "./cli/demo/federation.js";
import { startDemoAgents } from "./cli/demo/run-agents.js";
import { chooseDemoExecutor, type DemoExecutor } from "./cli/demo/containers.js";
import { extraRoutePlugins } from "./api/plugins.js";

const config = parseServerConfig(process.env, { demo: process.env.ZUMBIDO_DEMO || "true" });
mkdirSync(config.dataDir, { recursive: true });
const server = await startServer(config, { plugins: extraRoutePlugins() });
const keysFile = join(config.dataDir, "demo-keys.json");
let seed: DemoSeed | undefined;
let how: DemoExecutor | undefined;
if (config.demo) {
  if (server.bootstrapAdminKey) {
    seed = await seedDemo(server.url, server.bootstrapAdminKey);
    writeFileSync(keysFile, JSON.stringify(seed, null, 2));
    chmodSync(keysFile, 0o600);
  } else if (existsSync(keysFile)) {
    seed = JSON.parse(readFileSync(keysFile, "utf8")) as DemoSeed;
  }
  if (seed) {
    const agentLog = server.log.child({ part: "agent" });
    how = await chooseDemoExecutor(config.demoExecutor, (line) => console.log(line));
    const agents = await startDemoAgents(
      server.url,
      seed,
      config.dataDir,
      { now: () => Date.now() },
      (msg, f) => agentLog.info(f ?? {}, msg),
      how,
    );
    process.once("SIGINT", () => void shutdown(agents));
    process.once("SIGTERM", () => void shutdown(agents));
  }
}
if (!seed) {
  process.once("SIGINT", () => void shutdown([]));
  process.once("SIGTERM", () => void shutdown([]));
}

async function shutdown(agents: { stop(): Promise<void> }[]): Promise<void> {
  for (const a of agents) await a.stop();
  await server.close();
  process.exit(0);
}

const lines = [
  "",
  `Zumbido is running at ${server.url}`,
  `  console      ${server.url}/`,
  `  API docs     ${server.url}/docs`,
  `  store        ${config.store}`,
  `  secrets      ${server.secretKeyNote}`,
];
if (server.bootstrapAdminKey && !seed)
  lines.push(`  admin key    ${server.bootstrapAdminKey}   (shown once; keep it)`);
if (seed) {
  lines.push(
    `  demo sites   ${seed.sites.map((s) => `${s.name} (${s.country}, ${s.gpus})`).join(", ")}`,
    ...(how?.kind === "podman"
      ? [
          `  workloads    podman containers from ${how.image} (busybox): uid 1000, read-only root,`,
          "               no network, no capabilities, memory/CPU/pids limits; the GPUs are simulated",
        ]
      : [
          "  workloads    host processes of this machine: NO isolation (development demo only; real nodes",
          "               run each job in a podman container: see docs/executors.md)",
          `               podman not used: ${how?.why ?? "?"}`,
        ]),
    "",
    "Demo API keys (also in " + keysFile + "):",
    `  admin     ${seed.adminKey}`,
    `  operator  ${seed.operatorKey}`,
    `  tenant    ${seed.tenantKey}`,
    "",
    "Try, in another terminal:",
    `  export ZUMBIDO_URL=${server.url} ZUMBIDO_TOKEN=${seed.tenantKey}`,
    "  npx zumbido jobs submit --gpus 2 --model H100 --max-price 2.50 --jurisdiction EU -- sh -c 'echo hello from uid $(id -u) on GPUs $CUDA_VISIBLE_DEVICES; sleep 5'",
    "",
  );
}
console.log(lines.join("\n"));
