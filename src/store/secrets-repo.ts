import type { Kysely } from "kysely";
import type { SecretInfo } from "../domain/index.js";
import type { Database } from "./schema.js";

/** A sealed value as stored (see src/control/secret-box.ts): the key's id and the ciphertext. */
export interface SealedValue {
  keyId: string;
  sealed: string;
}

/** A tenant's named secret as stored: what may be shown, and the sealed value. */
export interface TenantSecretRecord extends SecretInfo, SealedValue {
  tenantId: string;
  /** The API key that created it. */
  createdBy: string;
}

/** One secret env value of a job, sealed. */
export interface JobSecretRecord extends SealedValue {
  jobId: string;
  name: string;
}

/** Tenants' named secrets and jobs' secret env values, stored sealed (never in clear). */
export class SecretsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a named secret; false (nothing written) when the tenant already has one of that name. */
  async createTenantSecret(r: TenantSecretRecord): Promise<boolean> {
    const res = await this.db
      .insertInto("tenant_secrets")
      .values({
        tenant_id: r.tenantId,
        name: r.name,
        type: r.type,
        registry: r.registry,
        key_id: r.keyId,
        sealed: r.sealed,
        created_at: r.createdAt,
        created_by: r.createdBy,
      })
      .onConflict((oc) => oc.columns(["tenant_id", "name"]).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** A tenant's named secrets, by name, without their values. */
  async listTenantSecrets(tenantId: string): Promise<SecretInfo[]> {
    const rows = await this.db
      .selectFrom("tenant_secrets")
      .select(["name", "type", "registry", "created_at"])
      .where("tenant_id", "=", tenantId)
      .orderBy("name")
      .execute();
    return rows.map((r) => ({
      name: r.name,
      type: r.type as SecretInfo["type"],
      registry: r.registry,
      createdAt: Number(r.created_at),
    }));
  }

  /** How many named secrets a tenant keeps. */
  async countTenantSecrets(tenantId: string): Promise<number> {
    const r = await this.db
      .selectFrom("tenant_secrets")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("tenant_id", "=", tenantId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** One named secret with its sealed value. */
  async getTenantSecret(tenantId: string, name: string): Promise<TenantSecretRecord | undefined> {
    const r = await this.db
      .selectFrom("tenant_secrets")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("name", "=", name)
      .executeTakeFirst();
    return r && tenantRow(r);
  }

  /** Deletes a named secret; false when there was none. */
  async deleteTenantSecret(tenantId: string, name: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom("tenant_secrets")
      .where("tenant_id", "=", tenantId)
      .where("name", "=", name)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** A job's sealed secret env values (none once the job ended). */
  async jobSecrets(jobId: string): Promise<JobSecretRecord[]> {
    const rows = await this.db
      .selectFrom("job_secrets")
      .selectAll()
      .where("job_id", "=", jobId)
      .orderBy("name")
      .execute();
    return rows.map((r) => ({ jobId: r.job_id, name: r.name, keyId: r.key_id, sealed: r.sealed }));
  }

  /** The ids of every key some stored value is sealed with. */
  async keyIdsInUse(): Promise<string[]> {
    const a = await this.db.selectFrom("tenant_secrets").select("key_id").distinct().execute();
    const b = await this.db.selectFrom("job_secrets").select("key_id").distinct().execute();
    return [...new Set([...a, ...b].map((r) => r.key_id))].sort();
  }

  /** Values not sealed with `keyId` (to re-seal after a key rotation). */
  async sealedWithOtherKeys(
    keyId: string,
  ): Promise<{ tenant: TenantSecretRecord[]; job: JobSecretRecord[] }> {
    const t = await this.db.selectFrom("tenant_secrets").selectAll().where("key_id", "<>", keyId).execute();
    const j = await this.db.selectFrom("job_secrets").selectAll().where("key_id", "<>", keyId).execute();
    return {
      tenant: t.map(tenantRow),
      job: j.map((r) => ({ jobId: r.job_id, name: r.name, keyId: r.key_id, sealed: r.sealed })),
    };
  }

  /** Replaces a named secret's sealed value (only if it is still sealed with `fromKeyId`). */
  async resealTenantSecret(tenantId: string, name: string, fromKeyId: string, v: SealedValue): Promise<void> {
    await this.db
      .updateTable("tenant_secrets")
      .set({ key_id: v.keyId, sealed: v.sealed })
      .where("tenant_id", "=", tenantId)
      .where("name", "=", name)
      .where("key_id", "=", fromKeyId)
      .execute();
  }

  /** Replaces a job secret's sealed value (only if it is still sealed with `fromKeyId`). */
  async resealJobSecret(jobId: string, name: string, fromKeyId: string, v: SealedValue): Promise<void> {
    await this.db
      .updateTable("job_secrets")
      .set({ key_id: v.keyId, sealed: v.sealed })
      .where("job_id", "=", jobId)
      .where("name", "=", name)
      .where("key_id", "=", fromKeyId)
      .execute();
  }
}

const tenantRow = (r: Database["tenant_secrets"]): TenantSecretRecord => ({
  tenantId: r.tenant_id,
  name: r.name,
  type: r.type as SecretInfo["type"],
  registry: r.registry,
  keyId: r.key_id,
  sealed: r.sealed,
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
});
