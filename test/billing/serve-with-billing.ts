// The real server (startServer, as `zumbido serve` runs it) with the billing routes registered even
// before src/api/plugins.ts lists them; used by the crash test. Args: serve --port P --store URL.
import { extraRoutePlugins } from "../../src/api/plugins.js";
import { billingRoutes } from "../../src/api/routes/billing.js";
import { parseServerConfig } from "../../src/config.js";
import { startServer } from "../../src/server.js";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const plugins = extraRoutePlugins();
if (!plugins.includes(billingRoutes)) plugins.push(billingRoutes);
const config = parseServerConfig(process.env, {
  host: undefined,
  port: arg("--port"),
  store: arg("--store"),
  logLevel: arg("--log-level") ?? "warn",
  demo: "false",
});
const server = await startServer(config, { plugins });
console.log(
  JSON.stringify({
    url: server.url,
    ...(server.bootstrapAdminKey ? { adminKey: server.bootstrapAdminKey } : {}),
  }),
);
