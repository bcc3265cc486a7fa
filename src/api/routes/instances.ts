import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { InstanceDefaultsView } from "../../contract/index.js";
import { InstancesService } from "../../control/index.js";
import { who } from "../auth.js";
import { InstanceDefaultsInput } from "../schemas.js";
import type { Services } from "../server.js";
import { TENANTS } from "../access.js";

/** Interactive instances: a tenant's defaults for --max-duration and --idle-stop. */
export async function instanceRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const instances = new InstancesService(s.ctx);
  const Query = z.object({ tenantId: z.string().max(100).optional() });
  r.get(
    "/v1/settings/instances",
    {
      config: { access: TENANTS },
      schema: {
        tags: ["jobs"],
        summary: "Your defaults for new instances: maxDurationS and idleStopS (null: none)",
        querystring: Query,
        response: { 200: InstanceDefaultsView },
      },
    },
    async (req) => instances.defaults(who(req), req.query.tenantId),
  );
  r.put(
    "/v1/settings/instances",
    {
      config: { access: TENANTS },
      schema: {
        tags: ["jobs"],
        summary:
          "Set your defaults for new instances (seconds; null or 0 clears; fields left out keep their value; running instances keep theirs)",
        querystring: Query,
        body: InstanceDefaultsInput,
        response: { 200: InstanceDefaultsView },
      },
    },
    async (req) => instances.setDefaults(who(req), req.body, req.query.tenantId),
  );
}
