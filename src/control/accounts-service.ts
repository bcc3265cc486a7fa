import type { Role } from "../domain/index.js";
import { DomainError, invalid, isKnownCountry, notFound } from "../domain/index.js";
import {
  hashSecret,
  type ApiKeyRecord,
  type InventoryApprover,
  type OperatorRecord,
  type TenantRecord,
} from "../store/index.js";
import { requireRole, type Ctx, type Principal } from "./context.js";

/** Platform fee setting key; value is basis points of gross. */
export const FEE_SETTING = "platform_fee_bps";
/** Who approves new operators' node inventory changes unless their creation says otherwise. */
export const INVENTORY_APPROVER_SETTING = "inventory_approver_default";

/** Admin's side: operators, tenants, keys, the platform fee. */
export class AccountsService {
  /** Keys by the secret's SHA-256, with the process's api_keys write epoch they were read at. */
  private readonly cachedKeys = new Map<string, { key: ApiKeyRecord; epoch: number }>();
  /** The same entries' secret hashes by key id (a changed key is dropped without a scan of the cache). */
  private readonly cachedKeyHashes = new Map<string, string>();
  private keyCacheHooked = false;

  constructor(private readonly ctx: Ctx) {}

  async createOperator(
    p: Principal,
    name: string,
    inventoryApprover?: InventoryApprover,
  ): Promise<{ operator: OperatorRecord; key: string }> {
    requireRole(p, "admin");
    const operator = await this.ctx.store.accounts.createOperator({
      id: this.ctx.ids("op"),
      name,
      createdAt: this.ctx.clock.now(),
      inventoryApprover: inventoryApprover ?? (await this.defaultInventoryApprover()),
    });
    const { key } = await this.ctx.store.accounts.createKey({
      id: this.ctx.ids("key"),
      role: "operator",
      ownerId: operator.id,
      name: `${name} (first key)`,
      now: this.ctx.clock.now(),
    });
    return { operator, key };
  }

  async createTenant(
    p: Principal,
    input: { name: string; country: string; vatId?: string | null; creditLimitMinor?: number },
  ): Promise<{ tenant: TenantRecord; key: string }> {
    requireRole(p, "admin");
    const country = input.country.toUpperCase();
    if (!isKnownCountry(country))
      throw invalid(`unknown country code "${input.country}"; use ISO 3166-1 alpha-2 such as ES`, {
        field: "country",
      });
    const tenant = await this.ctx.store.accounts.createTenant({
      id: this.ctx.ids("tn"),
      name: input.name,
      country,
      vatId: input.vatId ?? null,
      creditLimitMinor: input.creditLimitMinor ?? 0,
      createdAt: this.ctx.clock.now(),
    });
    const { key } = await this.ctx.store.accounts.createKey({
      id: this.ctx.ids("key"),
      role: "tenant",
      ownerId: tenant.id,
      name: `${input.name} (first key)`,
      now: this.ctx.clock.now(),
    });
    return { tenant, key };
  }

  async listOperators(p: Principal): Promise<OperatorRecord[]> {
    requireRole(p, "admin");
    return this.ctx.store.accounts.listOperators();
  }
  async listTenants(p: Principal): Promise<TenantRecord[]> {
    requireRole(p, "admin");
    return this.ctx.store.accounts.listTenants();
  }

  /** Creates a key: admins for anyone; operators and tenants for their own account. */
  async createKey(
    p: Principal,
    input: { role: Role; ownerId?: string | null; name: string; expiresAt?: number | null },
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    if (input.role === "node")
      throw invalid("node keys come from enrolment (zumbido agent --token), not from this route", {
        field: "role",
      });
    let ownerId = input.ownerId ?? null;
    if (p.role !== "admin") {
      if (input.role !== p.role)
        throw new DomainError("forbidden", `a ${p.role} key can only create ${p.role} keys`);
      ownerId = p.ownerId;
    } else if (
      input.role === "operator"
        ? !(await this.ctx.store.accounts.getOperator(ownerId ?? ""))
        : input.role === "tenant"
          ? !(await this.ctx.store.accounts.getTenant(ownerId ?? ""))
          : false
    ) {
      throw notFound(input.role, ownerId ?? "(none)");
    }
    return this.ctx.store.accounts.createKey({
      id: this.ctx.ids("key"),
      role: input.role,
      ownerId,
      name: input.name,
      now: this.ctx.clock.now(),
      expiresAt: input.expiresAt ?? null,
    });
  }

  async listKeys(p: Principal): Promise<ApiKeyRecord[]> {
    if (p.role === "admin") return this.ctx.store.accounts.listKeys();
    return this.ctx.store.accounts.listKeys(p.ownerId ?? "-");
  }

  async revokeKey(p: Principal, id: string): Promise<void> {
    const keys = await this.listKeys(p);
    if (!keys.some((k) => k.id === id)) throw notFound("key", id);
    await this.ctx.store.accounts.revokeKey(id, this.ctx.clock.now());
  }

  /** The principal of an API key's secret; 401 with the fix when it is unknown, revoked or expired. */
  async authenticate(secret: string): Promise<Principal> {
    const key = await this.findKey(secret);
    if (!key)
      throw new DomainError(
        "unauthorized",
        "unknown API key: check ZUMBIDO_TOKEN, or ask an admin for a new key",
      );
    if (key.revokedAt !== null)
      throw new DomainError("unauthorized", "this API key was revoked; ask for a new one");
    if (key.expiresAt !== null && key.expiresAt <= this.ctx.clock.now())
      throw new DomainError("unauthorized", "this API key has expired; ask for a new one");
    return { role: key.role, ownerId: key.ownerId, keyId: key.id };
  }

  /**
   * Keys are cached while the replica's cluster view follows the store (a heartbeat or a submission
   * then reads no key row): an entry lasts until this process changes any key (revokes, rotates; a
   * new key changes none), or the view's change feed names the key (another replica revoked or
   * rotated it; within one feed poll). Expiry is checked on every call, from the cached record.
   */
  private async findKey(secret: string): Promise<ApiKeyRecord | undefined> {
    const view = this.ctx.view;
    if (!view?.ready()) return this.ctx.store.accounts.findKeyBySecret(secret);
    if (!this.keyCacheHooked) {
      this.keyCacheHooked = true;
      view.onChange((c) => {
        for (const id of c.keys) {
          const h = this.cachedKeyHashes.get(id);
          if (h === undefined) continue;
          this.cachedKeys.delete(h);
          this.cachedKeyHashes.delete(id);
        }
      });
    }
    // Only a write that may change a key already there counts (a new node's key does not).
    const epoch = this.ctx.store.db.writes.changesOf("api_keys");
    const h = hashSecret(secret);
    const hit = this.cachedKeys.get(h);
    if (hit && hit.epoch === epoch) return hit.key;
    const key = await this.ctx.store.accounts.findKeyBySecret(secret);
    if (key) {
      if (this.cachedKeys.size >= 200_000) {
        this.cachedKeys.clear();
        this.cachedKeyHashes.clear();
      }
      this.cachedKeys.set(h, { key, epoch });
      this.cachedKeyHashes.set(key.id, h);
    }
    return key;
  }

  /** "Who am I": the caller's role, account id and account name (null for admin and node keys). */
  async me(
    p: Principal,
  ): Promise<{ role: Principal["role"]; ownerId: string | null; name: string | null; keyId: string }> {
    let name: string | null = null;
    if (p.role === "operator")
      name = (await this.ctx.store.accounts.getOperator(p.ownerId ?? ""))?.name ?? null;
    if (p.role === "tenant") name = (await this.ctx.store.accounts.getTenant(p.ownerId ?? ""))?.name ?? null;
    return { role: p.role, ownerId: p.ownerId, name, keyId: p.keyId };
  }

  /** Who approves new operators' inventory changes: "operator" (default) or "admin". */
  async defaultInventoryApprover(): Promise<InventoryApprover> {
    const v = await this.ctx.store.accounts.getSetting(INVENTORY_APPROVER_SETTING);
    return v === "admin" ? "admin" : "operator";
  }
  /** Admin: who approves the inventory changes of operators created from now on. */
  async setDefaultInventoryApprover(p: Principal, approver: InventoryApprover): Promise<InventoryApprover> {
    requireRole(p, "admin");
    await this.ctx.store.accounts.setSetting(INVENTORY_APPROVER_SETTING, approver);
    return approver;
  }

  async getFeeBps(): Promise<number> {
    return Number((await this.ctx.store.accounts.getSetting(FEE_SETTING)) ?? "1000");
  }
  async setFeeBps(p: Principal, bps: number): Promise<number> {
    requireRole(p, "admin");
    if (!Number.isInteger(bps) || bps < 0 || bps > 5000)
      throw invalid("fee must be a whole number of basis points between 0 and 5000 (50%)", {
        field: "feeBps",
      });
    await this.ctx.store.accounts.setSetting(FEE_SETTING, String(bps));
    return bps;
  }
}
