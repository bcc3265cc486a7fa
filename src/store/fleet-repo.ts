import { sql, type Kysely } from "kysely";
import type {
  Cooling,
  Gpu,
  Node,
  NodeCluster,
  NodeRuntime,
  NodeState,
  Price,
  Site,
} from "../domain/index.js";
import { sameInventory, sameValue } from "../domain/index.js";
import { hashSecret } from "./accounts-repo.js";
import { LivenessBatch } from "./liveness-batch.js";
import type { Database } from "./schema.js";

const siteRow = (r: Database["sites"]): Site => ({
  id: r.id,
  operatorId: r.operator_id,
  name: r.name,
  country: r.country,
  lat: r.lat,
  lon: r.lon,
  powerKw: r.power_kw,
  pue: r.pue,
  cooling: r.cooling as Cooling,
  nodeOverheadW: r.node_overhead_w,
  carbonGPerKwh: r.carbon_g_per_kwh,
  createdAt: r.created_at,
  defaultImage: r.default_image,
  allowImages: JSON.parse(r.allow_images_json) as string[],
  denyImages: JSON.parse(r.deny_images_json) as string[],
  allowNetwork: Number(r.allow_network) === 1,
});

const nodeRow = (r: Database["nodes"]): Node => ({
  id: r.id,
  siteId: r.site_id,
  name: r.name,
  state: r.state as NodeState,
  stateReason: r.state_reason,
  executor: r.executor as Node["executor"],
  gpus: JSON.parse(r.gpus_json) as Gpu[],
  driverVersion: r.driver_version,
  lastHeartbeatAt: r.last_heartbeat_at,
  runtime: r.runtime_json === null ? null : (JSON.parse(r.runtime_json) as NodeRuntime),
  cluster: r.cluster_json === null ? null : (JSON.parse(r.cluster_json) as NodeCluster),
  ...(r.approved_gpus_json === null ? {} : { approvedGpus: JSON.parse(r.approved_gpus_json) as Gpu[] }),
  inventoryChangedAt: r.inventory_changed_at === null ? null : Number(r.inventory_changed_at),
});

const priceRow = (r: Database["prices"]): Price => ({
  siteId: r.site_id,
  gpuModel: r.gpu_model,
  onDemandMinorPerGpuHour: r.on_demand_minor,
  interruptibleMinorPerGpuHour: r.interruptible_minor,
});

/** How liveness-only heartbeats are written: batched every `intervalMs` (0: one UPDATE each). */
export interface LivenessOptions {
  intervalMs: number;
  /** Flush as soon as this many nodes wait (default 1,000). */
  maxBatch?: number;
  /** A batched write that failed (its times are kept and retried with the next flush). */
  onError?: (err: unknown) => void;
}

/** Rows per batched liveness UPDATE (two parameters each). */
const LIVENESS_CHUNK = 1000;

/** Sites, prices, enrolment tokens and nodes. */
export class FleetRepo {
  /** Buffered liveness times (src/store/liveness-batch.ts); absent when every heartbeat is written. */
  private readonly liveness: LivenessBatch | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    liveness: LivenessOptions = { intervalMs: 0 },
  ) {
    this.liveness =
      liveness.intervalMs > 0
        ? new LivenessBatch((entries) => this.writeLiveness(entries), liveness)
        : undefined;
  }

  /** A node as stored, with this replica's buffered liveness time when newer. */
  private live(n: Node): Node {
    const at = this.liveness?.buffered(n.id);
    return at !== undefined && at > (n.lastHeartbeatAt ?? Number.NEGATIVE_INFINITY)
      ? { ...n, lastHeartbeatAt: at }
      : n;
  }

  /**
   * Writes many nodes' liveness times in one UPDATE per 1,000 nodes (a VALUES join), never moving a
   * node's time backwards (another replica or a status write may have stored a newer one).
   */
  async writeLiveness(entries: [string, number][]): Promise<void> {
    for (let i = 0; i < entries.length; i += LIVENESS_CHUNK) {
      const rows = sql.join(
        entries.slice(i, i + LIVENESS_CHUNK).map(([id, at]) => sql`(${id}, CAST(${at} AS BIGINT))`),
      );
      await sql`WITH v(id, t) AS (VALUES ${rows})
        UPDATE nodes SET last_heartbeat_at = v.t FROM v
        WHERE nodes.id = v.id AND (nodes.last_heartbeat_at IS NULL OR nodes.last_heartbeat_at < v.t)`.execute(
        this.db,
      );
    }
  }

  /** Writes the buffered liveness times now (detection does this itself). */
  async flushLiveness(): Promise<void> {
    await this.liveness?.flush();
  }

  /** Stops batching and writes what is buffered (shutdown). */
  async closeLiveness(): Promise<void> {
    await this.liveness?.close();
  }

  async createSite(s: Site): Promise<Site> {
    await this.db
      .insertInto("sites")
      .values({
        id: s.id,
        operator_id: s.operatorId,
        name: s.name,
        country: s.country,
        lat: s.lat,
        lon: s.lon,
        power_kw: s.powerKw,
        pue: s.pue,
        cooling: s.cooling,
        node_overhead_w: s.nodeOverheadW,
        carbon_g_per_kwh: s.carbonGPerKwh ?? null,
        created_at: s.createdAt,
        default_image: s.defaultImage ?? null,
        allow_images_json: JSON.stringify(s.allowImages ?? []),
        deny_images_json: JSON.stringify(s.denyImages ?? []),
        allow_network: s.allowNetwork ? 1 : 0,
      })
      .execute();
    return s;
  }
  async updateSite(id: string, patch: Partial<Omit<Site, "id" | "operatorId" | "createdAt">>): Promise<void> {
    const set: Partial<Database["sites"]> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.country !== undefined) set.country = patch.country;
    if (patch.lat !== undefined) set.lat = patch.lat;
    if (patch.lon !== undefined) set.lon = patch.lon;
    if (patch.powerKw !== undefined) set.power_kw = patch.powerKw;
    if (patch.pue !== undefined) set.pue = patch.pue;
    if (patch.cooling !== undefined) set.cooling = patch.cooling;
    if (patch.nodeOverheadW !== undefined) set.node_overhead_w = patch.nodeOverheadW;
    if (patch.carbonGPerKwh !== undefined) set.carbon_g_per_kwh = patch.carbonGPerKwh;
    if (patch.defaultImage !== undefined) set.default_image = patch.defaultImage;
    if (patch.allowImages !== undefined) set.allow_images_json = JSON.stringify(patch.allowImages);
    if (patch.denyImages !== undefined) set.deny_images_json = JSON.stringify(patch.denyImages);
    if (patch.allowNetwork !== undefined) set.allow_network = patch.allowNetwork ? 1 : 0;
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable("sites").set(set).where("id", "=", id).execute();
  }
  async getSite(id: string): Promise<Site | undefined> {
    const r = await this.db.selectFrom("sites").selectAll().where("id", "=", id).executeTakeFirst();
    return r && siteRow(r);
  }
  async listSites(operatorId?: string): Promise<Site[]> {
    let q = this.db.selectFrom("sites").selectAll();
    if (operatorId) q = q.where("operator_id", "=", operatorId);
    return (await q.orderBy("created_at").orderBy("id").execute()).map(siteRow);
  }

  async setPrice(p: Price, now: number): Promise<Price> {
    await this.db
      .insertInto("prices")
      .values({
        site_id: p.siteId,
        gpu_model: p.gpuModel,
        on_demand_minor: p.onDemandMinorPerGpuHour,
        interruptible_minor: p.interruptibleMinorPerGpuHour,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.columns(["site_id", "gpu_model"]).doUpdateSet({
          on_demand_minor: p.onDemandMinorPerGpuHour,
          interruptible_minor: p.interruptibleMinorPerGpuHour,
          updated_at: now,
        }),
      )
      .execute();
    return p;
  }
  async listPrices(siteId?: string): Promise<Price[]> {
    let q = this.db.selectFrom("prices").selectAll();
    if (siteId) q = q.where("site_id", "=", siteId);
    return (await q.orderBy("site_id").orderBy("gpu_model").execute()).map(priceRow);
  }

  async createEnrolmentToken(siteId: string, token: string, now: number, expiresAt: number): Promise<void> {
    await this.db
      .insertInto("enrolment_tokens")
      .values({
        token_hash: hashSecret(token),
        site_id: siteId,
        created_at: now,
        expires_at: expiresAt,
        used_at: null,
        node_id: null,
      })
      .execute();
  }

  /**
   * Trades a one-time token for a node: marks the token used and creates the node, atomically.
   * Returns the site id, or a reason when the token is unknown, used or expired.
   */
  async consumeEnrolmentToken(
    token: string,
    node: Omit<Node, "siteId" | "lastHeartbeatAt">,
    now: number,
  ): Promise<{ ok: true; siteId: string } | { ok: false; reason: string }> {
    return this.db.transaction().execute(async (trx) => {
      const t = await trx
        .selectFrom("enrolment_tokens")
        .selectAll()
        .where("token_hash", "=", hashSecret(token))
        .executeTakeFirst();
      if (!t)
        return {
          ok: false as const,
          reason: "unknown enrolment token; ask the operator for a new one (zumbido nodes token --site ID)",
        };
      if (t.used_at !== null)
        return {
          ok: false as const,
          reason: "this enrolment token was already used; tokens are one-time, ask for a new one",
        };
      if (t.expires_at <= now)
        return {
          ok: false as const,
          reason: "this enrolment token has expired; ask the operator for a new one",
        };
      const upd = await trx
        .updateTable("enrolment_tokens")
        .set({ used_at: now, node_id: node.id })
        .where("token_hash", "=", t.token_hash)
        .where("used_at", "is", null)
        .executeTakeFirst();
      if (Number(upd.numUpdatedRows) !== 1)
        return { ok: false as const, reason: "this enrolment token was already used" };
      await trx
        .insertInto("nodes")
        .values({
          id: node.id,
          site_id: t.site_id,
          name: node.name,
          state: node.state,
          state_reason: node.stateReason ?? null,
          executor: node.executor,
          gpus_json: JSON.stringify(node.gpus),
          // The inventory declared at enrolment is the approved one; later changes need approval.
          approved_gpus_json: JSON.stringify(node.gpus),
          inventory_changed_at: null,
          driver_version: node.driverVersion ?? null,
          last_heartbeat_at: now,
          created_at: now,
          runtime_json: node.runtime ? JSON.stringify(node.runtime) : null,
          cluster_json: node.cluster ? JSON.stringify(node.cluster) : null,
        })
        .execute();
      return { ok: true as const, siteId: t.site_id };
    });
  }

  async getNode(id: string): Promise<Node | undefined> {
    const r = await this.db.selectFrom("nodes").selectAll().where("id", "=", id).executeTakeFirst();
    return r && this.live(nodeRow(r));
  }
  /** Nodes by id (the cluster view's re-reads), with this replica's buffered liveness. */
  async nodesByIds(ids: string[]): Promise<Node[]> {
    const out: Node[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom("nodes")
        .selectAll()
        .where("id", "in", ids.slice(i, i + 500))
        .execute();
      out.push(...rows.map((r) => this.live(nodeRow(r))));
    }
    return out;
  }
  async listNodes(siteIds?: string[]): Promise<Node[]> {
    let q = this.db.selectFrom("nodes").selectAll();
    if (siteIds) {
      if (siteIds.length === 0) return [];
      q = q.where("site_id", "in", siteIds);
    }
    return (await q.orderBy("created_at").orderBy("id").execute()).map((r) => this.live(nodeRow(r)));
  }
  /**
   * Records a heartbeat: GPUs as seen now, and the state the agent's health check implies. The
   * advertised runtime, when given, is written only when it differs from the stored one. True when
   * the node's status was written (false: a liveness renewal only).
   */
  async heartbeat(
    id: string,
    gpus: Gpu[],
    driverVersion: string | null,
    now: number,
    health: { healthy: boolean; reasons: string[] },
    runtime?: NodeRuntime,
    cluster?: NodeCluster,
    known?: Node,
  ): Promise<boolean> {
    // `known`: the node as the caller's cluster view has it (its status is current; liveness is not compared).
    const node = known ?? (await this.getNode(id));
    if (!node) return false;
    let state: NodeState = node.state;
    let reason = node.stateReason ?? null;
    if (!health.healthy) {
      state = "draining";
      reason = `unhealthy: ${health.reasons.join("; ")}`;
    } else if (
      node.state === "offline" ||
      node.state === "pending" ||
      (node.state === "draining" && reason?.startsWith("unhealthy"))
    ) {
      state = "ready";
      reason = null;
    }
    // Inventory other than the approved one holds the node out of placement until it is approved.
    const approved = node.approvedGpus ?? gpus;
    // The change's time is when the node started to report what it reports now (an approval names it).
    const changedAt = sameInventory(gpus, approved)
      ? null
      : sameInventory(gpus, node.gpus)
        ? (node.inventoryChangedAt ?? now)
        : now;
    const newRuntime = runtime && !sameRuntime(node.runtime, runtime);
    // The agent's config states its cluster network when it names one; a change there wins.
    const newCluster = cluster && !sameValue(cluster, node.cluster ?? null);
    // The node's status is written only when it changes; otherwise a heartbeat renews liveness only.
    const changed =
      newRuntime ||
      newCluster ||
      state !== node.state ||
      reason !== (node.stateReason ?? null) ||
      driverVersion !== (node.driverVersion ?? null) ||
      changedAt !== (node.inventoryChangedAt ?? null) ||
      !sameValue(gpus, node.gpus);
    if (!changed) {
      // A liveness renewal only: batched with the others when batching is on.
      if (this.liveness) this.liveness.touch(id, now);
      else await this.db.updateTable("nodes").set({ last_heartbeat_at: now }).where("id", "=", id).execute();
      return false;
    }
    this.liveness?.forget(id, now);
    const gpusJson = JSON.stringify(gpus);
    const status = {
      gpus_json: gpusJson,
      driver_version: driverVersion,
      state,
      state_reason: reason,
      inventory_changed_at: changedAt,
      ...(node.approvedGpus ? {} : { approved_gpus_json: gpusJson }),
      ...(newRuntime ? { runtime_json: JSON.stringify(runtime), executor: runtime.executor } : {}),
      ...(newCluster ? { cluster_json: JSON.stringify(cluster) } : {}),
    };
    // Written only where the row differs: a caller's view of the node may lag the row (a status this
    // node's earlier heartbeat already wrote), and rewriting the same status would cost a durable
    // commit and a change-feed entry on every beat until the view caught up.
    const r = await this.db
      .updateTable("nodes")
      .set({ ...status, last_heartbeat_at: now })
      .where("id", "=", id)
      .where((eb) =>
        eb.or(
          Object.entries(status).map(([col, v]) =>
            eb(col as keyof typeof status, "is distinct from", v as string | number | null),
          ),
        ),
      )
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      if (this.liveness) this.liveness.touch(id, now);
      else await this.db.updateTable("nodes").set({ last_heartbeat_at: now }).where("id", "=", id).execute();
      return false;
    }
    return true;
  }
  /** Sets (or clears, with null) a node's place on its site's cluster network. */
  async setNodeCluster(id: string, cluster: NodeCluster | null): Promise<void> {
    await this.db
      .updateTable("nodes")
      .set({ cluster_json: cluster ? JSON.stringify(cluster) : null })
      .where("id", "=", id)
      .execute();
  }
  /**
   * Approves the node's reported inventory, if it is still the one the approver saw (`expected`,
   * the reported GPUs as JSON); false when the node reported something else since.
   */
  async approveInventory(id: string, expected: Gpu[]): Promise<boolean> {
    const r = await this.db
      .updateTable("nodes")
      .set({ approved_gpus_json: JSON.stringify(expected), inventory_changed_at: null })
      .where("id", "=", id)
      .where("gpus_json", "=", JSON.stringify(expected))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  /** Deletes a node's row (its leases, usage and anomalies stay as history). */
  async deleteNode(id: string): Promise<boolean> {
    this.liveness?.forget(id);
    const r = await this.db.deleteFrom("nodes").where("id", "=", id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }
  /** How many nodes are enrolled. */
  async countNodes(): Promise<number> {
    const r = await this.db
      .selectFrom("nodes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }
  async setNodeState(id: string, state: NodeState, reason: string | null): Promise<void> {
    await this.db.updateTable("nodes").set({ state, state_reason: reason }).where("id", "=", id).execute();
  }
  /**
   * Marks nodes whose last heartbeat is older than the cutoff as offline; returns their ids. This
   * replica's buffered liveness is written first, and a node whose fresh heartbeat arrived during
   * that write (still buffered) is not marked.
   */
  async markStaleNodesOffline(cutoff: number): Promise<string[]> {
    await this.liveness?.flush();
    const live = ["ready", "draining", "pending"] as const;
    const stale = await this.db
      .selectFrom("nodes")
      .select("id")
      .where("state", "in", live)
      .where("last_heartbeat_at", "<", cutoff)
      .execute();
    const ids = stale.map((s) => s.id).filter((id) => !((this.liveness?.buffered(id) ?? 0) >= cutoff));
    if (ids.length === 0) return [];
    // Checked again in the write: another replica may have stored a fresher heartbeat since.
    const marked = await this.db
      .updateTable("nodes")
      .set({ state: "offline", state_reason: "no heartbeat" })
      .where("id", "in", ids)
      .where("state", "in", live)
      .where("last_heartbeat_at", "<", cutoff)
      .returning("id")
      .execute();
    return marked.map((m) => m.id);
  }
}

/** True when two runtime advertisements say the same. */
function sameRuntime(a: NodeRuntime | null | undefined, b: NodeRuntime): boolean {
  return !!a && a.executor === b.executor && a.images === b.images && a.isolated === b.isolated;
}
