import { billingRoutes } from "./routes/billing.js";
import { consoleDataRoutes } from "./routes/console-data.js";
import { consoleRoutes } from "./routes/console.js";
import { plansRoutes } from "./routes/plans.js";
import type { RoutePlugin } from "./server.js";

/** Route plugins of the parts beyond the core API (planner, billing, energy, console). */
export function extraRoutePlugins(): RoutePlugin[] {
  return [plansRoutes, billingRoutes, consoleDataRoutes, consoleRoutes];
}
