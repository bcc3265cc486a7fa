import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { CapacityOffer } from "../../contract/index.js";
import { who } from "../auth.js";
import { IdParam, Node, NodeCluster, Price, PriceInput, Site, SiteInput, SitePatch } from "../schemas.js";
import type { Services } from "../server.js";
import { ANY_KEY, OPS } from "../access.js";

/** Sites, prices, enrolment tokens, nodes, and the capacity view. */
export async function fleetRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/v1/sites",
    {
      config: { access: OPS },
      schema: {
        tags: ["sites"],
        summary: "Register a site (operator)",
        body: SiteInput,
        response: { 201: Site },
      },
    },
    async (req, reply) => reply.status(201).send(await s.fleet.createSite(who(req), req.body)),
  );
  r.get(
    "/v1/sites",
    {
      config: { access: ANY_KEY },
      schema: {
        tags: ["sites"],
        summary: "Sites: operators see their own, others the marketplace",
        response: { 200: z.array(Site) },
      },
    },
    async (req) => s.fleet.listSites(who(req)),
  );
  r.get(
    "/v1/sites/:id",
    { config: { access: ANY_KEY }, schema: { tags: ["sites"], params: IdParam, response: { 200: Site } } },
    async (req) => s.fleet.getSite(who(req), req.params.id),
  );
  r.patch(
    "/v1/sites/:id",
    {
      config: { access: OPS },
      schema: { tags: ["sites"], params: IdParam, body: SitePatch, response: { 200: Site } },
    },
    async (req) => s.fleet.updateSite(who(req), req.params.id, req.body),
  );
  r.get(
    "/v1/sites/:id/prices",
    {
      config: { access: ANY_KEY },
      schema: { tags: ["prices"], params: IdParam, response: { 200: z.array(Price) } },
    },
    async (req) => s.fleet.listPrices(who(req), req.params.id),
  );
  r.put(
    "/v1/sites/:id/prices/:model",
    {
      config: { access: OPS },
      schema: {
        tags: ["prices"],
        summary: "Set a site's price for a GPU model (minor units per GPU-hour)",
        params: z.object({ id: z.string(), model: z.string() }),
        body: PriceInput,
        response: { 200: Price },
      },
    },
    async (req) =>
      s.fleet.setPrice(
        who(req),
        req.params.id,
        req.params.model,
        req.body.onDemandMinorPerGpuHour,
        req.body.interruptibleMinorPerGpuHour,
      ),
  );
  r.get(
    "/v1/prices",
    { config: { access: ANY_KEY }, schema: { tags: ["prices"], response: { 200: z.array(Price) } } },
    async (req) => s.fleet.listPrices(who(req)),
  );
  r.post(
    "/v1/sites/:id/enrolment-tokens",
    {
      config: { access: OPS },
      schema: { tags: ["nodes"], summary: "A one-time token for enrolling a node", params: IdParam },
    },
    async (req, reply) => reply.status(201).send(await s.fleet.createEnrolmentToken(who(req), req.params.id)),
  );
  r.get(
    "/v1/nodes",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        querystring: z.object({ siteId: z.string().optional() }),
        response: { 200: z.array(Node) },
      },
    },
    async (req) => s.fleet.listNodes(who(req), req.query.siteId),
  );
  r.get(
    "/v1/nodes/:id",
    {
      config: { access: ["node", "operator", "admin"] },
      schema: { tags: ["nodes"], params: IdParam, response: { 200: Node } },
    },
    async (req) => s.fleet.getNode(who(req), req.params.id),
  );
  r.post(
    "/v1/nodes/:id/drain",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        params: IdParam,
        body: z.object({ drain: z.boolean().default(true), reason: z.string().max(200).optional() }).strict(),
      },
    },
    async (req) => s.fleet.setNodeDrain(who(req), req.params.id, req.body.drain, req.body.reason),
  );
  r.put(
    "/v1/nodes/:id/cluster",
    {
      config: { access: OPS },
      schema: {
        tags: ["nodes"],
        summary:
          "States the node's place on its site's cluster network: address (rendezvous), fabric and switch group (placement of multi-node jobs)",
        params: IdParam,
        body: z.object({ cluster: NodeCluster.nullable() }).strict(),
        response: { 200: Node },
      },
    },
    async (req) => s.fleet.setNodeCluster(who(req), req.params.id, req.body.cluster),
  );
  r.get(
    "/v1/capacity",
    {
      config: { access: ANY_KEY },
      schema: {
        tags: ["sites"],
        summary:
          "What the marketplace offers now: per site and model, free GPUs and the prices a new lease pays (tenants, operators, admins)",
        response: { 200: z.array(CapacityOffer) },
      },
    },
    async (req) => s.fleet.capacity(who(req)),
  );
}
