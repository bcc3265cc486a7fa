/**
 * What an operator controls about a node's trust: its GPU inventory (approved before placement
 * uses it), its keys (listed, revoked, rotated) and its membership (removed, its leases lost and
 * billed to their last accepted usage). Every write here is audited by the API's audit hook.
 */
import type { Gpu, Node } from "../domain/index.js";
import {
  DomainError,
  forbidden,
  inventoryHold,
  inventoryPending,
  invalid,
  MAX_GPUS_PER_NODE,
  notFound,
} from "../domain/index.js";
import type { ApiKeyRecord, InventoryApprover } from "../store/index.js";
import { requireRole, type Ctx, type Principal } from "./context.js";
import { loseLease } from "./lease-end.js";

/** How long a rotated node key keeps working by default, seconds (time to install the new one). */
export const DEFAULT_KEY_OVERLAP_S = 300;
/** Longest overlap a rotation may leave the old key, seconds. */
export const MAX_KEY_OVERLAP_S = 86_400;

/** A node's approved and reported GPU inventory, and who may approve a change. */
export interface NodeInventory {
  nodeId: string;
  /** True while the reported inventory differs from the approved one (the node takes no new work). */
  pending: boolean;
  /** Since when it differs (null when it does not). */
  changedAt: number | null;
  approved: Gpu[];
  reported: Gpu[];
  /** Who approves this node's changes: its operator, or only an admin. */
  approver: InventoryApprover;
  /** Why the node is held, in words (null when it is not). */
  held: string | null;
}

/** Inventory approval, node keys and node removal, with ownership checks. */
export class NodeTrustService {
  constructor(private readonly ctx: Ctx) {}

  /** The node if the caller is its operator or an admin (404 for another operator's node). */
  private async ownNode(p: Principal, nodeId: string): Promise<{ node: Node; operatorId: string }> {
    requireRole(p, "operator", "admin");
    const node = await this.ctx.store.fleet.getNode(nodeId);
    const site = node && (await this.ctx.store.fleet.getSite(node.siteId));
    if (!node || !site || (p.role === "operator" && site.operatorId !== p.ownerId))
      throw notFound("node", nodeId);
    return { node, operatorId: site.operatorId };
  }

  private async approverOf(operatorId: string): Promise<InventoryApprover> {
    return (await this.ctx.store.accounts.getOperator(operatorId))?.inventoryApprover ?? "operator";
  }

  /** The node's approved and reported inventory. */
  async inventory(p: Principal, nodeId: string): Promise<NodeInventory> {
    const { node, operatorId } = await this.ownNode(p, nodeId);
    return {
      nodeId,
      pending: inventoryPending(node),
      changedAt: node.inventoryChangedAt ?? null,
      approved: node.approvedGpus ?? node.gpus,
      reported: node.gpus,
      approver: await this.approverOf(operatorId),
      held: inventoryHold(node),
    };
  }

  /**
   * Approves the inventory the node reports now: placement and capacity use it from then on. Only
   * an admin may approve for an operator whose approver is "admin". 409 when the node reported
   * another inventory between the caller's look (`expectChangedAt`) and this approval.
   */
  async approveInventory(p: Principal, nodeId: string, expectChangedAt?: number): Promise<NodeInventory> {
    const { node, operatorId } = await this.ownNode(p, nodeId);
    if (p.role !== "admin" && (await this.approverOf(operatorId)) === "admin")
      throw forbidden(
        `node ${nodeId}'s inventory changes are approved by an admin for this operator; ask an admin to run zumbido nodes approve-inventory ${nodeId}`,
      );
    if (!inventoryPending(node)) return this.inventory(p, nodeId);
    if (expectChangedAt !== undefined && expectChangedAt !== node.inventoryChangedAt)
      throw new DomainError(
        "conflict",
        `node ${nodeId}'s reported inventory changed since you looked; look again (zumbido nodes inventory ${nodeId})`,
      );
    if (node.gpus.length > MAX_GPUS_PER_NODE)
      throw invalid(
        `node ${nodeId} reports ${node.gpus.length} GPUs; a node has at most ${MAX_GPUS_PER_NODE}, so this inventory cannot be approved (the node stays held; check the machine, or remove it: zumbido nodes remove ${nodeId})`,
      );
    if (new Set(node.gpus.map((g) => g.model)).size > 1)
      throw invalid(
        `node ${nodeId} reports GPUs of several models; a node's GPUs must be one model, so this inventory cannot be approved`,
      );
    if (!(await this.ctx.store.fleet.approveInventory(nodeId, node.gpus)))
      throw new DomainError(
        "conflict",
        `node ${nodeId} reported another inventory while it was being approved; look again (zumbido nodes inventory ${nodeId})`,
      );
    this.ctx.nudge();
    return this.inventory(p, nodeId);
  }

  /** Admin: who approves an operator's node inventory changes from now on. */
  async setInventoryApprover(
    p: Principal,
    operatorId: string,
    approver: InventoryApprover,
  ): Promise<{ operatorId: string; inventoryApprover: InventoryApprover }> {
    requireRole(p, "admin");
    if (!(await this.ctx.store.accounts.setInventoryApprover(operatorId, approver)))
      throw notFound("operator", operatorId);
    return { operatorId, inventoryApprover: approver };
  }

  /** The node's keys (never their secrets), oldest first. */
  async keys(p: Principal, nodeId: string): Promise<ApiKeyRecord[]> {
    await this.ownNode(p, nodeId);
    return this.ctx.store.accounts.listKeysOf("node", [nodeId]);
  }

  /** Revokes one of the node's keys at once; calls with it get 401 from now on. */
  async revokeKey(p: Principal, nodeId: string, keyId: string): Promise<ApiKeyRecord> {
    const keys = await this.keys(p, nodeId);
    const key = keys.find((k) => k.id === keyId);
    if (!key) throw notFound("key", keyId);
    const now = this.ctx.clock.now();
    await this.ctx.store.accounts.revokeKey(keyId, now);
    return { ...key, revokedAt: key.revokedAt ?? now };
  }

  /**
   * Creates a new key for the node (its secret is shown once) and lets the node's other live keys
   * work for `overlapS` more seconds (0: revoked now), time to install the new key on the node.
   */
  async rotateKey(
    p: Principal,
    nodeId: string,
    overlapS = DEFAULT_KEY_OVERLAP_S,
  ): Promise<{ key: string; record: ApiKeyRecord; previous: ApiKeyRecord[] }> {
    const { node } = await this.ownNode(p, nodeId);
    const now = this.ctx.clock.now();
    const old = (await this.ctx.store.accounts.listKeysOf("node", [nodeId])).filter(
      (k) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now),
    );
    const created = await this.ctx.store.accounts.createKey({
      id: this.ctx.ids("key"),
      role: "node",
      ownerId: nodeId,
      name: `node ${node.name} (rotated)`,
      now,
    });
    for (const k of old)
      if (overlapS === 0) await this.ctx.store.accounts.revokeKey(k.id, now);
      else await this.ctx.store.accounts.expireKey(k.id, now + overlapS * 1000);
    const after = new Map(
      (await this.ctx.store.accounts.listKeysOf("node", [nodeId])).map((k) => [k.id, k] as const),
    );
    return { ...created, previous: old.map((k) => after.get(k.id) ?? k) };
  }

  /**
   * Removes a node: its keys are revoked, its active leases end as lost (billed to the end of their
   * last accepted usage; their jobs go back to the queue) and it leaves the fleet. Its usage,
   * anomalies and bills stay.
   */
  async removeNode(
    p: Principal,
    nodeId: string,
  ): Promise<{ nodeId: string; keysRevoked: number; leasesLost: string[] }> {
    const { node } = await this.ownNode(p, nodeId);
    const { store } = this.ctx;
    const now = this.ctx.clock.now();
    let keysRevoked = 0;
    for (const k of await store.accounts.listKeysOf("node", [nodeId]))
      if (await store.accounts.revokeKey(k.id, now)) keysRevoked++;
    const all = await store.jobs.activeLeases();
    const lost: string[] = [];
    for (const l of all.filter((x) => x.nodeId === nodeId)) {
      const last = await store.usage.lastAcceptedTo(l.id);
      const from = l.startedAt ?? l.createdAt;
      const stoppedAt = Math.min(now, Math.max(from, last ?? from));
      const gang = all.filter((x) => x.nodeId !== nodeId && !lost.includes(x.id));
      await loseLease(
        this.ctx,
        l,
        `preempted: node ${node.name} was removed by its operator`,
        stoppedAt,
        now,
        gang,
      );
      lost.push(l.id);
    }
    await store.fleet.deleteNode(nodeId);
    this.ctx.nudge();
    return { nodeId, keysRevoked, leasesLost: lost };
  }
}
