import { forbidden } from "../domain/index.js";
import type { AnomalyRecord } from "../store/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";

/**
 * What the control plane refused to take from nodes on trust: usage anomalies (clipped, refused
 * or conflicting records, clamped times) for the operator of the nodes and for admins.
 */
export class TrustService {
  constructor(private readonly ctx: Ctx) {}

  /** Anomalies, newest first: an operator sees its own nodes', an admin everyone's (or one operator's). */
  async anomalies(
    p: Principal,
    q: { nodeId?: string; operatorId?: string; since?: number; limit?: number },
  ): Promise<AnomalyRecord[]> {
    requireRole(p, "admin", "operator");
    let operatorId = q.operatorId;
    if (p.role === "operator") {
      if (q.operatorId && q.operatorId !== ownerOf(p))
        throw forbidden("operators see only their own nodes' anomalies");
      operatorId = ownerOf(p);
    }
    return this.ctx.store.usage.anomalies({
      ...(operatorId ? { operatorId } : {}),
      ...(q.nodeId ? { nodeId: q.nodeId } : {}),
      ...(q.since !== undefined ? { sinceMs: q.since } : {}),
      limit: q.limit ?? 200,
    });
  }
}
