import type { Me } from "./lib/types.js";

/** One entry of the side navigation. */
export interface NavItem {
  to: string;
  label: string;
  /** Paths that also highlight this entry. */
  prefix?: string;
}

/** A group of entries with a heading. */
export interface NavGroup {
  title: string;
  items: NavItem[];
}

const TENANT: NavGroup = {
  title: "Compute",
  items: [
    { to: "/capacity", label: "Capacity" },
    { to: "/submit", label: "Submit a job" },
    { to: "/jobs", label: "Jobs", prefix: "/jobs/" },
    { to: "/billing", label: "Usage & billing" },
  ],
};
const OPERATOR: NavGroup = {
  title: "Operations",
  items: [
    { to: "/operator", label: "Sites & nodes", prefix: "/operator/sites/" },
    { to: "/operator/prices", label: "Prices" },
    { to: "/operator/curtailments", label: "Curtailment" },
    { to: "/operator/indicators", label: "EU indicators" },
    { to: "/operator/gpu-models", label: "GPU models" },
    { to: "/planner", label: "Conversion planner" },
  ],
};
const ADMIN: NavGroup = {
  title: "Marketplace",
  items: [
    { to: "/admin/operators", label: "Operators" },
    { to: "/admin/tenants", label: "Tenants" },
    { to: "/admin/keys", label: "API keys" },
    { to: "/admin/fee", label: "Platform fee" },
    { to: "/jobs", label: "All jobs", prefix: "/jobs/" },
  ],
};

/** What each role sees in the navigation (following its rights in the API). */
export function navFor(role: Me["role"]): NavGroup[] {
  if (role === "tenant") return [TENANT];
  if (role === "operator") return [OPERATOR];
  if (role === "admin") return [ADMIN, OPERATOR];
  return [];
}

/** Where a role lands after signing in. */
export function homeFor(role: Me["role"]): string {
  return role === "tenant" ? "/capacity" : role === "admin" ? "/admin/operators" : "/operator";
}
