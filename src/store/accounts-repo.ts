import { createHash, randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Role } from "../domain/index.js";
import type { Database } from "./schema.js";

/** An API key as stored (never the secret itself). */
export interface ApiKeyRecord {
  id: string;
  prefix: string;
  role: Role;
  ownerId: string | null;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface OperatorRecord {
  id: string;
  name: string;
  createdAt: number;
}
export interface TenantRecord {
  id: string;
  name: string;
  country: string;
  vatId: string | null;
  creditLimitMinor: number;
  createdAt: number;
}

/** SHA-256 of a secret, hex: keys and tokens are stored hashed at rest. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A new random secret with a readable prefix, e.g. `zk_tenant_...`. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString("base64url")}`;
}

const keyRow = (r: Omit<Database["api_keys"], "hash_kind">): ApiKeyRecord => ({
  id: r.id,
  prefix: r.prefix,
  role: r.role as Role,
  ownerId: r.owner_id,
  name: r.name,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

/** Operators, tenants, API keys and settings. */
export class AccountsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async createOperator(o: OperatorRecord): Promise<OperatorRecord> {
    await this.db
      .insertInto("operators")
      .values({ id: o.id, name: o.name, created_at: o.createdAt })
      .execute();
    return o;
  }
  async listOperators(): Promise<OperatorRecord[]> {
    const rows = await this.db
      .selectFrom("operators")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at }));
  }
  async getOperator(id: string): Promise<OperatorRecord | undefined> {
    const r = await this.db.selectFrom("operators").selectAll().where("id", "=", id).executeTakeFirst();
    return r && { id: r.id, name: r.name, createdAt: r.created_at };
  }

  async createTenant(t: TenantRecord): Promise<TenantRecord> {
    await this.db
      .insertInto("tenants")
      .values({
        id: t.id,
        name: t.name,
        country: t.country,
        vat_id: t.vatId,
        credit_limit_minor: t.creditLimitMinor,
        created_at: t.createdAt,
      })
      .execute();
    return t;
  }
  async listTenants(): Promise<TenantRecord[]> {
    const rows = await this.db
      .selectFrom("tenants")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(tenantRow);
  }
  async getTenant(id: string): Promise<TenantRecord | undefined> {
    const r = await this.db.selectFrom("tenants").selectAll().where("id", "=", id).executeTakeFirst();
    return r && tenantRow(r);
  }

  /** Creates a key; the secret is returned once and only its hash is stored. */
  async createKey(input: {
    id: string;
    role: Role;
    ownerId: string | null;
    name: string;
    now: number;
    expiresAt?: number | null;
    secret?: string;
  }): Promise<{ key: string; record: ApiKeyRecord }> {
    const secret = input.secret ?? newSecret(`zk_${input.role}`);
    const prefix = secret.slice(0, secret.indexOf("_", 3) + 5);
    await this.db
      .insertInto("api_keys")
      .values({
        id: input.id,
        key_hash: hashSecret(secret),
        prefix,
        role: input.role,
        owner_id: input.ownerId,
        name: input.name,
        created_at: input.now,
        expires_at: input.expiresAt ?? null,
        revoked_at: null,
      })
      .execute();
    const record = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("id", "=", input.id)
      .executeTakeFirstOrThrow();
    return { key: secret, record: keyRow(record) };
  }
  async findKeyBySecret(secret: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("key_hash", "=", hashSecret(secret))
      .executeTakeFirst();
    return r && keyRow(r);
  }
  async listKeys(ownerId?: string): Promise<ApiKeyRecord[]> {
    let q = this.db.selectFrom("api_keys").selectAll();
    if (ownerId) q = q.where("owner_id", "=", ownerId);
    return (await q.orderBy("created_at").orderBy("id").execute()).map(keyRow);
  }
  async revokeKey(id: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("api_keys")
      .set({ revoked_at: now })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async getSetting(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom("settings").select("value").where("key", "=", key).executeTakeFirst();
    return r?.value;
  }
  async setSetting(key: string, value: string): Promise<void> {
    await this.db
      .insertInto("settings")
      .values({ key, value })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
      .execute();
  }
}

function tenantRow(r: Database["tenants"]): TenantRecord {
  return {
    id: r.id,
    name: r.name,
    country: r.country,
    vatId: r.vat_id,
    creditLimitMinor: r.credit_limit_minor,
    createdAt: r.created_at,
  };
}
