import { createHash, createHmac, randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
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
  /** Who approves this operator's node inventory changes (default "operator"). */
  inventoryApprover?: InventoryApprover;
}

/** Who approves a node's GPU inventory change: its operator, or only an admin. */
export type InventoryApprover = "operator" | "admin";

/** Settings key of the generated HMAC secret, used only when no server secret is configured. */
const KEY_SECRET_SETTING = "api_key_hmac_secret";
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

const operatorRow = (r: Selectable<Database["operators"]>): OperatorRecord => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
  inventoryApprover: r.inventory_approver === "admin" ? "admin" : "operator",
});

/**
 * Operators, tenants, API keys and settings. Keys are stored as HMAC-SHA256, under the server's
 * secret, of the key's SHA-256 (`hash_kind` "hmac"); rows from before (`hash_kind` "sha256", the
 * plain SHA-256) still authenticate and are rewritten to HMAC by `upgradeKeyHashes`.
 */
export class AccountsRepo {
  private hmacKey: Promise<Buffer> | undefined;

  /** `keySecret`: the server's secret; without one a random secret is generated once and kept in settings. */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly keySecret?: string,
  ) {}

  private secret(): Promise<Buffer> {
    this.hmacKey ??= (async () => {
      if (this.keySecret) return Buffer.from(this.keySecret, "utf8");
      await this.db
        .insertInto("settings")
        .values({ key: KEY_SECRET_SETTING, value: randomBytes(32).toString("base64url") })
        .onConflict((oc) => oc.column("key").doNothing())
        .execute();
      return Buffer.from((await this.getSetting(KEY_SECRET_SETTING))!, "utf8");
    })();
    return this.hmacKey;
  }

  /** The stored form of a key: HMAC-SHA256 (server secret) of its SHA-256, hex. */
  private async keyHash(secret: string): Promise<string> {
    return hmacOf(await this.secret(), hashSecret(secret));
  }

  /** Rewrites legacy (plain SHA-256) key hashes as HMACs; returns how many. The keys keep working. */
  async upgradeKeyHashes(): Promise<number> {
    const legacy = await this.db
      .selectFrom("api_keys")
      .select(["id", "key_hash"])
      .where("hash_kind", "=", "sha256")
      .execute();
    const k = await this.secret();
    for (const r of legacy)
      await this.db
        .updateTable("api_keys")
        .set({ key_hash: hmacOf(k, r.key_hash), hash_kind: "hmac" })
        .where("id", "=", r.id)
        .where("hash_kind", "=", "sha256")
        .execute();
    return legacy.length;
  }

  async createOperator(o: OperatorRecord): Promise<OperatorRecord> {
    const inventoryApprover = o.inventoryApprover ?? "operator";
    await this.db
      .insertInto("operators")
      .values({ id: o.id, name: o.name, created_at: o.createdAt, inventory_approver: inventoryApprover })
      .execute();
    return { ...o, inventoryApprover };
  }
  /** Sets who approves the operator's node inventory changes; false when there is no such operator. */
  async setInventoryApprover(id: string, approver: InventoryApprover): Promise<boolean> {
    const r = await this.db
      .updateTable("operators")
      .set({ inventory_approver: approver })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  async listOperators(): Promise<OperatorRecord[]> {
    const rows = await this.db
      .selectFrom("operators")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(operatorRow);
  }
  async getOperator(id: string): Promise<OperatorRecord | undefined> {
    const r = await this.db.selectFrom("operators").selectAll().where("id", "=", id).executeTakeFirst();
    return r && operatorRow(r);
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
        key_hash: await this.keyHash(secret),
        hash_kind: "hmac",
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
    const sha = hashSecret(secret);
    const hmac = hmacOf(await this.secret(), sha);
    const r = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .where((eb) =>
        eb.or([
          eb.and([eb("hash_kind", "=", "hmac"), eb("key_hash", "=", hmac)]),
          eb.and([eb("hash_kind", "=", "sha256"), eb("key_hash", "=", sha)]),
        ]),
      )
      .executeTakeFirst();
    return r && keyRow(r);
  }
  async listKeys(ownerId?: string): Promise<ApiKeyRecord[]> {
    let q = this.db.selectFrom("api_keys").selectAll();
    if (ownerId) q = q.where("owner_id", "=", ownerId);
    return (await q.orderBy("created_at").orderBy("id").execute()).map(keyRow);
  }
  /** The keys of the given owners with one role (e.g. the node keys of an operator's nodes). */
  async listKeysOf(role: Role, ownerIds: string[]): Promise<ApiKeyRecord[]> {
    if (ownerIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("role", "=", role)
      .where("owner_id", "in", ownerIds)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(keyRow);
  }
  /** Makes a live key expire at `at` (unless it already expires sooner); true when it changed. */
  async expireKey(id: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable("api_keys")
      .set({ expires_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", at)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
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

/** HMAC-SHA256 of `data` under `key`, hex. */
function hmacOf(key: Buffer, data: string): string {
  return createHmac("sha256", key).update(data).digest("hex");
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
