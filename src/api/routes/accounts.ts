import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { Me } from "../../contract/index.js";
import { who } from "../auth.js";
import { CountryCode, IdParam, InventoryApprover } from "../schemas.js";
import type { Services } from "../server.js";
import { ADMIN, ANY_KEY, PEOPLE } from "../access.js";

/** Operators, tenants, keys and the fee (admin), and "who am I" for everyone. */
export async function accountRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/v1/me",
    {
      config: { access: ANY_KEY },
      schema: {
        tags: ["accounts"],
        summary: "The caller's role and account (any key)",
        response: { 200: Me },
      },
    },
    async (req) => s.accounts.me(who(req)),
  );
  r.post(
    "/v1/operators",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["accounts"],
        summary: "Create an operator and its first key (admin)",
        body: z
          .object({
            name: z.string().min(1).max(120),
            inventoryApprover: InventoryApprover.optional().describe(
              "who approves this operator's node inventory changes (default: the platform setting)",
            ),
          })
          .strict(),
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(await s.accounts.createOperator(who(req), req.body.name, req.body.inventoryApprover)),
  );
  r.get("/v1/operators", { config: { access: ADMIN }, schema: { tags: ["accounts"] } }, async (req) =>
    s.accounts.listOperators(who(req)),
  );
  r.post(
    "/v1/tenants",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["accounts"],
        summary: "Create a tenant and its first key (admin)",
        body: z
          .object({
            name: z.string().min(1).max(120),
            country: CountryCode,
            vatId: z.string().max(20).nullable().optional(),
            creditLimitMinor: z.number().int().nonnegative().optional(),
          })
          .strict(),
      },
    },
    async (req, reply) => reply.status(201).send(await s.accounts.createTenant(who(req), req.body)),
  );
  r.get("/v1/tenants", { config: { access: ADMIN }, schema: { tags: ["accounts"] } }, async (req) =>
    s.accounts.listTenants(who(req)),
  );
  r.post(
    "/v1/keys",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["accounts"],
        summary: "Create an API key (shown once)",
        body: z
          .object({
            role: z.enum(["admin", "operator", "tenant"]),
            ownerId: z.string().nullable().optional(),
            name: z.string().min(1).max(120),
            expiresAt: z.number().int().nullable().optional(),
          })
          .strict(),
      },
    },
    async (req, reply) => reply.status(201).send(await s.accounts.createKey(who(req), req.body)),
  );
  r.get("/v1/keys", { config: { access: PEOPLE }, schema: { tags: ["accounts"] } }, async (req) =>
    s.accounts.listKeys(who(req)),
  );
  r.delete(
    "/v1/keys/:id",
    { config: { access: PEOPLE }, schema: { tags: ["accounts"], params: IdParam } },
    async (req, reply) => {
      await s.accounts.revokeKey(who(req), req.params.id);
      return reply.status(204).send();
    },
  );
  r.get(
    "/v1/settings/inventory-approver",
    { config: { access: ADMIN }, schema: { tags: ["accounts"] } },
    async () => ({ approver: await s.accounts.defaultInventoryApprover() }),
  );
  r.put(
    "/v1/settings/inventory-approver",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["accounts"],
        summary:
          "Who approves new operators' node inventory changes: operator (default) or admin (admin; existing operators keep theirs)",
        body: z.object({ approver: InventoryApprover }).strict(),
      },
    },
    async (req) => ({ approver: await s.accounts.setDefaultInventoryApprover(who(req), req.body.approver) }),
  );
  r.get("/v1/settings/fee", { config: { access: PEOPLE }, schema: { tags: ["accounts"] } }, async () => ({
    feeBps: await s.accounts.getFeeBps(),
  }));
  r.put(
    "/v1/settings/fee",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["accounts"],
        summary: "Set the platform fee in basis points (admin)",
        body: z.object({ feeBps: z.number().int() }).strict(),
      },
    },
    async (req) => ({ feeBps: await s.accounts.setFeeBps(who(req), req.body.feeBps) }),
  );
}
