/** Who may call each route: declared on the route itself, checked on the route the router matched. */
import type { RouteOptions } from "fastify";
import type { Role } from "../domain/index.js";

/** Who may call a route: "public" (no key needed) or the roles whose keys may call it. */
export type Access = "public" | readonly Role[];

/** How a route counts against the rate limits: "expensive" routes draw from a smaller bucket. */
export type Cost = "normal" | "expensive";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call this route; every route must state it (registration fails otherwise). */
    access?: Access;
    /** Rate-limit class of this route (default "normal"). */
    cost?: Cost;
    /** A public route that checks its own credentials (instances' port URLs): not in the anonymous bucket. */
    ownAuth?: true;
  }
}

const ROLES: readonly Role[] = ["admin", "operator", "tenant", "node"];

/** Any valid key, nodes included. */
export const ANY_KEY: readonly Role[] = ROLES;
/** People's keys: admins, operators and tenants (not nodes). */
export const PEOPLE: readonly Role[] = ["admin", "operator", "tenant"];
/** Operators and admins. */
export const OPS: readonly Role[] = ["operator", "admin"];
/** Tenants and admins. */
export const TENANTS: readonly Role[] = ["tenant", "admin"];
/** Admins only. */
export const ADMIN: readonly Role[] = ["admin"];

/** Throws when a route declares no access, or an access that is neither "public" nor a list of known roles. */
export function checkDeclaredAccess(route: Pick<RouteOptions, "method" | "url" | "config">): void {
  const access = (route.config as { access?: unknown } | undefined)?.access;
  const name = `${String(route.method)} ${route.url}`;
  if (access === "public") return;
  if (
    Array.isArray(access) &&
    access.length > 0 &&
    access.every((r) => typeof r === "string" && (ROLES as readonly string[]).includes(r))
  )
    return;
  throw new Error(
    `route ${name} does not declare who may call it: add config: { access: "public" } or config: { access: [roles] } (see src/api/access.ts)`,
  );
}
