import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { OPS } from "../access.js";
import { who } from "../auth.js";
import type { Services } from "../server.js";

/** GET /v1/audit: the audit trail (admins: all; operators: their own account's entries). */
export async function auditRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/v1/audit",
    {
      config: { access: OPS },
      schema: {
        tags: ["accounts"],
        summary:
          "Audit trail, newest first: who (key, role), what, when, from where (admin: all; operator: own)",
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }),
      },
    },
    async (req) => s.audit.list(who(req), req.query.limit),
  );
}
