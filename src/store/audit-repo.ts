import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

/** One audit entry: who (key, role, account), what (action, target, outcome), when and from where. */
export interface AuditEntry {
  id: number;
  at: number;
  keyId: string;
  role: string;
  ownerId: string | null;
  action: string;
  target: string | null;
  status: number;
  source: string;
}

/** The append-only audit trail (no update or delete; the database refuses both). */
export class AuditRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Appends one entry. */
  async append(e: Omit<AuditEntry, "id">): Promise<void> {
    await this.db
      .insertInto("audit_log")
      .values({
        at: e.at,
        key_id: e.keyId,
        role: e.role,
        owner_id: e.ownerId,
        action: e.action,
        target: e.target,
        status: e.status,
        source: e.source,
      })
      .execute();
  }

  /** Newest first; only `ownerId`'s entries when given. */
  async list(opts: { ownerId?: string; limit: number }): Promise<AuditEntry[]> {
    let q = this.db.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(opts.limit);
    if (opts.ownerId !== undefined) q = q.where("owner_id", "=", opts.ownerId);
    const rows = await q.execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      keyId: r.key_id,
      role: r.role,
      ownerId: r.owner_id,
      action: r.action,
      target: r.target,
      status: Number(r.status),
      source: r.source,
    }));
  }
}
