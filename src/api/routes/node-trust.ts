import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DEFAULT_KEY_OVERLAP_S, MAX_KEY_OVERLAP_S, NodeTrustService } from "../../control/index.js";
import { ADMIN, OPS } from "../access.js";
import { who } from "../auth.js";
import { Gpu, IdParam, InventoryApprover } from "../schemas.js";
import type { Services } from "../server.js";

const Inventory = z.object({
  nodeId: z.string(),
  pending: z.boolean(),
  changedAt: z.number().nullable(),
  approved: z.array(Gpu),
  reported: z.array(Gpu),
  approver: InventoryApprover,
  held: z.string().nullable(),
});

const KeyRecord = z.object({
  id: z.string(),
  prefix: z.string(),
  role: z.string(),
  ownerId: z.string().nullable(),
  name: z.string(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
});

/** A node's inventory approval, its keys and its removal (the node's operator or an admin). */
export async function nodeTrustRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const nodes = new NodeTrustService(s.ctx);
  r.get(
    "/v1/nodes/:id/inventory",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        summary:
          "A node's approved GPU inventory (what placement and capacity use) and what it reports now; pending: held until approved",
        params: IdParam,
        response: { 200: Inventory },
      },
    },
    async (req) => nodes.inventory(who(req), req.params.id),
  );
  r.post(
    "/v1/nodes/:id/inventory/approve",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        summary:
          "Approve the inventory the node reports now (its operator, or only an admin when the operator's approver is admin)",
        params: IdParam,
        body: z
          .object({
            changedAt: z
              .number()
              .int()
              .optional()
              .describe("the changedAt you looked at; 409 if the node reported another inventory since"),
          })
          .strict()
          .default({}),
        response: { 200: Inventory },
      },
    },
    async (req) => nodes.approveInventory(who(req), req.params.id, req.body.changedAt),
  );
  r.put(
    "/v1/operators/:id/inventory-approver",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["accounts"],
        summary: "Who approves this operator's node inventory changes: operator or admin (admin)",
        params: IdParam,
        body: z.object({ approver: InventoryApprover }).strict(),
      },
    },
    async (req) => nodes.setInventoryApprover(who(req), req.params.id, req.body.approver),
  );
  r.get(
    "/v1/nodes/:id/keys",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        summary: "A node's keys (never their secrets)",
        params: IdParam,
        response: { 200: z.array(KeyRecord) },
      },
    },
    async (req) => nodes.keys(who(req), req.params.id),
  );
  r.post(
    "/v1/nodes/:id/keys/rotate",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        summary: `A new node key (shown once); the node's other live keys work for overlapS more seconds (default ${DEFAULT_KEY_OVERLAP_S}; 0 revokes them now)`,
        params: IdParam,
        body: z
          .object({ overlapS: z.number().int().min(0).max(MAX_KEY_OVERLAP_S).optional() })
          .strict()
          .default({}),
        response: { 201: z.object({ key: z.string(), record: KeyRecord, previous: z.array(KeyRecord) }) },
      },
    },
    async (req, reply) =>
      reply.status(201).send(await nodes.rotateKey(who(req), req.params.id, req.body.overlapS)),
  );
  r.delete(
    "/v1/nodes/:id/keys/:keyId",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        summary: "Revoke one of a node's keys now",
        params: z.object({ id: z.string().min(1).max(100), keyId: z.string().min(1).max(100) }),
        response: { 200: KeyRecord },
      },
    },
    async (req) => nodes.revokeKey(who(req), req.params.id, req.params.keyId),
  );
  r.delete(
    "/v1/nodes/:id",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        summary:
          "Remove a node: its keys are revoked, its leases end as lost (billed to their last accepted usage, jobs requeued)",
        params: IdParam,
        response: {
          200: z.object({ nodeId: z.string(), keysRevoked: z.number(), leasesLost: z.array(z.string()) }),
        },
      },
    },
    async (req) => nodes.removeNode(who(req), req.params.id),
  );
}
