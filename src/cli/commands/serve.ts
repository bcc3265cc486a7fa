import type { Command } from "commander";
import { parseServerConfig } from "../../config.js";
import { startServer } from "../../server.js";
import { extraRoutePlugins } from "../../api/plugins.js";
import type { RoutePlugin } from "../../api/server.js";

/** `zumbido serve`: the control plane alone (no demo agents); `plugins` adds routes (bench servers only). */
export function registerServeCommand(program: Command, plugins: RoutePlugin[] = []): void {
  program
    .command("serve")
    .description("run the control plane (API, scheduler, console); config from ZUMBIDO_* variables or flags")
    .option("--host <host>", "listen address (ZUMBIDO_HOST, default 127.0.0.1)")
    .option("--port <port>", "listen port, 0 for any (ZUMBIDO_PORT, default 8080)")
    .option("--store <url>", "sqlite:PATH or postgres://... (ZUMBIDO_STORE)")
    .option("--log-level <level>", "pino level (ZUMBIDO_LOG_LEVEL)")
    .option("--ready-json", "print one JSON line {url, adminKey?} once listening (for scripts)")
    .action(
      async (o: { host?: string; port?: string; store?: string; logLevel?: string; readyJson?: boolean }) => {
        const config = parseServerConfig(process.env, {
          host: o.host,
          port: o.port,
          store: o.store,
          logLevel: o.logLevel,
          demo: "false",
        });
        const server = await startServer(config, { plugins: [...extraRoutePlugins(), ...plugins] });
        if (o.readyJson)
          console.log(
            JSON.stringify({
              url: server.url,
              ...(server.bootstrapAdminKey ? { adminKey: server.bootstrapAdminKey } : {}),
            }),
          );
        else {
          console.log(`Zumbido control plane at ${server.url} (store ${config.store})`);
          console.log(server.secretKeyNote);
          if (server.bootstrapAdminKey)
            console.log(`admin key (shown once, keep it): ${server.bootstrapAdminKey}`);
        }
        const stop = async (): Promise<void> => {
          await server.close();
          process.exit(0);
        };
        process.once("SIGINT", () => void stop());
        process.once("SIGTERM", () => void stop());
      },
    );
}
