import type { Assignment } from "../contract/index.js";
import type { JobSpec, SecretInfo } from "../domain/index.js";
import {
  conflict,
  DomainError,
  invalid,
  MAX_REGISTRY_PASSWORD_BYTES,
  MAX_SECRET_ENV,
  MAX_SECRET_ENV_TOTAL_BYTES,
  MAX_SECRET_VALUE_BYTES,
  MAX_SECRETS_PER_TENANT,
  notFound,
  parseImageRef,
  secretEnvNameProblem,
} from "../domain/index.js";
import type { JobSecretRecord, Store } from "../store/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";
import type { SecretBox } from "./secret-box.js";

/** A new registry login as the tenant sends it. */
export interface RegistrySecretInput {
  name: string;
  registry: string;
  username: string;
  password: string;
}

type RegistryAuth = NonNullable<Assignment["registryAuth"]>;

/** What the node running a lease gets of the job's secrets, or why it cannot get them. */
export type LeaseSecrets = { env: Record<string, string>; registryAuth?: RegistryAuth } | { problem: string };

const tenantScope = (tenantId: string, name: string): string => `tenant:${tenantId}:secret:${name}`;
const jobScope = (jobId: string, name: string): string => `job:${jobId}:env:${name}`;
const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/** Docker Hub's registry answers to several names; podman's auth file knows it as docker.io. */
function canonicalRegistry(r: string): string {
  const l = r.toLowerCase();
  return ["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"].includes(l) ? "docker.io" : l;
}

/** Tenants' secrets: named registry logins and jobs' secret env values, sealed at rest. */
export class SecretsService {
  constructor(private readonly ctx: Ctx) {}

  private box(): SecretBox {
    if (!this.ctx.secrets)
      throw new DomainError(
        "invalid-state",
        "this server has no encryption key, so it cannot keep secrets; its operator sets ZUMBIDO_ENCRYPTION_KEY_FILE",
      );
    return this.ctx.secrets;
  }

  /** Stores a registry login under a name (409 when the name is taken). The password is never shown back. */
  async createRegistry(p: Principal, s: RegistrySecretInput): Promise<SecretInfo> {
    requireRole(p, "tenant");
    const tenantId = ownerOf(p);
    if (bytes(s.password) > MAX_REGISTRY_PASSWORD_BYTES)
      throw invalid(`the password is over ${MAX_REGISTRY_PASSWORD_BYTES} bytes`, { field: "body.password" });
    if ((await this.ctx.store.secrets.countTenantSecrets(tenantId)) >= MAX_SECRETS_PER_TENANT)
      throw conflict(
        `you keep ${MAX_SECRETS_PER_TENANT} secrets, the most allowed; delete one first (DELETE /v1/secrets/NAME)`,
      );
    const info: SecretInfo = {
      name: s.name,
      type: "registry",
      registry: canonicalRegistry(s.registry),
      createdAt: this.ctx.clock.now(),
    };
    const sealed = this.box().seal(
      JSON.stringify({ username: s.username, password: s.password }),
      tenantScope(tenantId, s.name),
    );
    const created = await this.ctx.store.secrets.createTenantSecret({
      ...info,
      ...sealed,
      tenantId,
      createdBy: p.keyId,
    });
    if (!created)
      throw conflict(
        `you already have a secret named "${s.name}"; delete it first (DELETE /v1/secrets/${s.name}) to replace it`,
        { name: s.name },
      );
    return info;
  }

  /** The tenant's named secrets: names, types and registries, never values. */
  async list(p: Principal): Promise<SecretInfo[]> {
    requireRole(p, "tenant");
    return this.ctx.store.secrets.listTenantSecrets(ownerOf(p));
  }

  /** Deletes a named secret; jobs that name it and have not started yet fail at their start. */
  async delete(p: Principal, name: string): Promise<void> {
    requireRole(p, "tenant");
    if (!(await this.ctx.store.secrets.deleteTenantSecret(ownerOf(p), name))) throw notFound("secret", name);
  }

  /**
   * Checks a job's secret env values and registry secret against its spec and seals the values:
   * returns the rows to store with the job and the spec with the secrets' names only.
   */
  async sealForJob(
    tenantId: string,
    jobId: string,
    spec: JobSpec,
    secretEnv: Record<string, string> | undefined,
  ): Promise<{ spec: JobSpec; rows: Omit<JobSecretRecord, "jobId">[] }> {
    const names = Object.keys(secretEnv ?? {}).sort();
    if (names.length > MAX_SECRET_ENV)
      throw invalid(
        `a job carries at most ${MAX_SECRET_ENV} secret env values; this one has ${names.length}`,
        {
          field: "body.secretEnv",
        },
      );
    let total = 0;
    for (const n of names) {
      const problem = secretEnvNameProblem(n);
      if (problem) throw invalid(problem, { field: "body.secretEnv", name: n });
      if (spec.env && Object.hasOwn(spec.env, n))
        throw invalid(`${n} is both in env and in secretEnv; give it once (secret if it is one)`, {
          field: "body.secretEnv",
          name: n,
        });
      const size = bytes(secretEnv![n]!);
      if (size > MAX_SECRET_VALUE_BYTES)
        throw invalid(
          `secret env value ${n} is ${size} bytes; at most ${MAX_SECRET_VALUE_BYTES} are accepted`,
          {
            field: "body.secretEnv",
            name: n,
          },
        );
      total += size;
    }
    if (total > MAX_SECRET_ENV_TOTAL_BYTES)
      throw invalid(
        `the job's secret env values sum to ${total} bytes; at most ${MAX_SECRET_ENV_TOTAL_BYTES} are accepted`,
        { field: "body.secretEnv" },
      );
    if (spec.registrySecret !== undefined) await this.checkRegistrySecret(tenantId, spec);
    const box = names.length > 0 ? this.box() : undefined;
    const rows = names.map((n) => ({ name: n, ...box!.seal(secretEnv![n]!, jobScope(jobId, n)) }));
    return { spec: names.length > 0 ? { ...spec, secretEnvNames: names } : spec, rows };
  }

  private async checkRegistrySecret(tenantId: string, spec: JobSpec): Promise<void> {
    const name = spec.registrySecret!;
    const s = await this.ctx.store.secrets.getTenantSecret(tenantId, name);
    if (!s)
      throw invalid(
        `registry secret "${name}" does not exist; create it with zumbido secrets create-registry`,
        {
          field: "body.registrySecret",
          name,
        },
      );
    if (spec.image === undefined)
      throw invalid(`registrySecret "${name}" needs an image to pull with it: give image (--image)`, {
        field: "body.registrySecret",
      });
    const registry = canonicalRegistry(parseImageRef(spec.image)?.registry ?? "docker.io");
    if (registry !== s.registry)
      throw invalid(
        `registry secret "${name}" is a login for ${s.registry}, but image ${spec.image} comes from ${registry}`,
        { field: "body.registrySecret", name },
      );
  }

  /** Opens a job's secrets for the node that runs its lease (the only place values leave sealed). */
  async forLease(job: { id: string; tenantId: string; spec: JobSpec }): Promise<LeaseSecrets> {
    const rows = await this.ctx.store.secrets.jobSecrets(job.id);
    const name = job.spec.registrySecret;
    if (rows.length === 0 && name === undefined) return { env: {} };
    try {
      const box = this.box();
      const env: Record<string, string> = {};
      for (const r of rows) env[r.name] = box.open(r, jobScope(job.id, r.name));
      const missing = (job.spec.secretEnvNames ?? []).filter((n) => !(n in env));
      if (missing.length > 0)
        return { problem: `the job's secret env values ${missing.join(", ")} are gone` };
      if (name === undefined) return { env };
      const s = await this.ctx.store.secrets.getTenantSecret(job.tenantId, name);
      if (!s)
        return {
          problem: `registry secret "${name}" was deleted after the job was submitted; create it again and resubmit`,
        };
      const login = JSON.parse(box.open(s, tenantScope(job.tenantId, name))) as {
        username: string;
        password: string;
      };
      return {
        env,
        registryAuth: { server: s.registry, username: login.username, password: login.password },
      };
    } catch (err) {
      if (err instanceof DomainError) return { problem: err.message };
      throw err;
    }
  }
}

/**
 * After a key rotation (a new active key, the old ones listed after it): re-seals every stored value
 * with the active key. Throws, naming the key ids, when some value was sealed with a key this server
 * does not have (nothing is changed then). Returns how many values were re-sealed.
 */
export async function resealSecrets(store: Store, box: SecretBox): Promise<number> {
  const unknown = (await store.secrets.keyIdsInUse()).filter((k) => !box.knows(k));
  if (unknown.length > 0)
    throw new Error(
      `stored secrets are sealed with key id(s) ${unknown.join(", ")}, which this server does not have: ` +
        "give the key they were sealed with after the active one (ZUMBIDO_ENCRYPTION_KEY or ZUMBIDO_ENCRYPTION_KEY_FILE)",
    );
  const stale = await store.secrets.sealedWithOtherKeys(box.activeKeyId);
  for (const t of stale.tenant) {
    const scope = tenantScope(t.tenantId, t.name);
    await store.secrets.resealTenantSecret(t.tenantId, t.name, t.keyId, box.seal(box.open(t, scope), scope));
  }
  for (const j of stale.job) {
    const scope = jobScope(j.jobId, j.name);
    await store.secrets.resealJobSecret(j.jobId, j.name, j.keyId, box.seal(box.open(j, scope), scope));
  }
  return stale.tenant.length + stale.job.length;
}
