import type { AuditEntry } from "../store/index.js";
import { requireRole, type Ctx, type Principal } from "./context.js";

/** The audit trail: every admin and operator action, every key created or revoked, every secret stored or deleted. */
export class AuditService {
  constructor(private readonly ctx: Ctx) {}

  /** Whether a request by `p` is recorded: admin and operator writes, any key or secret created or deleted. */
  static records(p: Principal, method: string, route: string): boolean {
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") return false;
    if (route === "/v1/keys" || route === "/v1/keys/:id") return true;
    if (route === "/v1/secrets" || route === "/v1/secrets/:name") return true;
    return p.role === "admin" || p.role === "operator";
  }

  /** Appends one entry (append-only; there is no update or delete). */
  async record(
    p: Principal,
    e: { action: string; target: string | null; status: number; source: string },
  ): Promise<void> {
    await this.ctx.store.audit.append({
      at: this.ctx.clock.now(),
      keyId: p.keyId,
      role: p.role,
      ownerId: p.role === "admin" ? null : p.ownerId,
      ...e,
    });
  }

  /** Newest first: everything for admins, their own account's entries for operators. */
  async list(p: Principal, limit: number): Promise<AuditEntry[]> {
    requireRole(p, "admin", "operator");
    if (p.role === "admin") return this.ctx.store.audit.list({ limit });
    return this.ctx.store.audit.list({ ownerId: p.ownerId ?? "-", limit });
  }
}
