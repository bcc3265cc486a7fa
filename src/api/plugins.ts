import type { RoutePlugin } from "./server.js";

/** Route plugins of the parts beyond the core API (planner, billing, energy, console). */
export function extraRoutePlugins(): RoutePlugin[] {
  return [];
}
