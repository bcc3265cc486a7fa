import type { InstanceDefaults, InstanceSpec } from "../domain/index.js";
import {
  guardrailProblem,
  invalid,
  MAX_DURATION_LIMIT_S,
  MAX_IDLE_STOP_S,
  notFound,
  portsProblem,
} from "../domain/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";

/** Settings key of a tenant's instance defaults (JSON InstanceDefaults). */
const defaultsKey = (tenantId: string): string => `instance_defaults:${tenantId}`;

/** What a submit may say about an instance (seconds; 0: none, overriding the tenant's default). */
export interface InstanceInput {
  ports?: number[];
  maxDurationS?: number;
  idleStopS?: number;
}

const NONE: InstanceDefaults = { maxDurationS: null, idleStopS: null };

/** Checks one guardrail (0 = none) and throws a clear 400 naming the field. */
function checkGuardrail(field: "maxDurationS" | "idleStopS", s: number | null | undefined): void {
  if (s === null || s === undefined) return;
  const problem = guardrailProblem(
    field === "maxDurationS" ? "maxDurationS (--max-duration)" : "idleStopS (--idle-stop)",
    s,
    field === "maxDurationS" ? MAX_DURATION_LIMIT_S : MAX_IDLE_STOP_S,
  );
  if (problem) throw invalid(problem, { field });
}

/** Tenants' instance defaults, and an instance's spec at submit. */
export class InstancesService {
  constructor(private readonly ctx: Ctx) {}

  /** The tenant whose defaults `p` reads or writes: its own, or (admin) the one named. */
  private async tenantOf(p: Principal, tenantId?: string): Promise<string> {
    requireRole(p, "tenant", "admin");
    if (p.role === "tenant") return ownerOf(p);
    if (!tenantId) throw invalid("name the tenant: ?tenantId=tn_...", { field: "tenantId" });
    if (!(await this.ctx.store.accounts.getTenant(tenantId))) throw notFound("tenant", tenantId);
    return tenantId;
  }

  /** A tenant's defaults for new instances (null: none). */
  async defaults(p: Principal, tenantId?: string): Promise<InstanceDefaults> {
    return this.defaultsOf(await this.tenantOf(p, tenantId));
  }

  private async defaultsOf(tenantId: string): Promise<InstanceDefaults> {
    const raw = await this.ctx.store.accounts.getSetting(defaultsKey(tenantId));
    if (!raw) return NONE;
    const v = JSON.parse(raw) as Partial<InstanceDefaults>;
    return { maxDurationS: v.maxDurationS ?? null, idleStopS: v.idleStopS ?? null };
  }

  /** Sets a tenant's defaults; a field left out keeps its value, null or 0 clears it. Running instances keep theirs. */
  async setDefaults(
    p: Principal,
    input: { maxDurationS?: number | null; idleStopS?: number | null },
    tenantId?: string,
  ): Promise<InstanceDefaults> {
    const tenant = await this.tenantOf(p, tenantId);
    checkGuardrail("maxDurationS", input.maxDurationS);
    checkGuardrail("idleStopS", input.idleStopS);
    const before = await this.defaultsOf(tenant);
    const pick = (v: number | null | undefined, old: number | null): number | null =>
      v === undefined ? old : v === 0 ? null : v;
    const next: InstanceDefaults = {
      maxDurationS: pick(input.maxDurationS, before.maxDurationS),
      idleStopS: pick(input.idleStopS, before.idleStopS),
    };
    await this.ctx.store.accounts.setSetting(defaultsKey(tenant), JSON.stringify(next));
    return next;
  }

  /** An instance's spec from a submit: ports checked, guardrails given or else the tenant's defaults. */
  async specFor(tenantId: string, input: InstanceInput): Promise<InstanceSpec> {
    const ports = input.ports ?? [];
    const problem = portsProblem(ports);
    if (problem) throw invalid(problem, { field: "ports" });
    checkGuardrail("maxDurationS", input.maxDurationS);
    checkGuardrail("idleStopS", input.idleStopS);
    const d = await this.defaultsOf(tenantId);
    const maxDurationS = input.maxDurationS ?? d.maxDurationS ?? 0;
    const idleStopS = input.idleStopS ?? d.idleStopS ?? 0;
    return {
      ports: [...ports].sort((a, b) => a - b),
      ...(maxDurationS > 0 ? { maxDurationS } : {}),
      ...(idleStopS > 0 ? { idleStopS } : {}),
    };
  }
}
