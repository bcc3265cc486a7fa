import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { TrustService } from "../../control/trust-service.js";
import { OPS } from "../access.js";
import { who } from "../auth.js";
import type { Services } from "../server.js";

const Anomaly = z.object({
  id: z.number().int(),
  at: z.number().int(),
  nodeId: z.string(),
  operatorId: z.string(),
  leaseId: z.string().nullable(),
  seq: z.number().int().nullable(),
  kind: z.string(),
  message: z.string(),
  claim: z.unknown(),
  accepted: z.unknown(),
});

/** Evidence of what nodes claimed and the control plane did not take: anomalies. */
export async function trustRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const trust = new TrustService(s.ctx);
  r.get(
    "/v1/anomalies",
    {
      config: { access: OPS },
      schema: {
        tags: ["fleet"],
        summary:
          "Usage anomalies (operator: own nodes; admin: all, or ?operatorId=): records clipped or refused, replayed seqs with other content, clamped times",
        querystring: z.object({
          nodeId: z.string().max(100).optional(),
          operatorId: z.string().max(100).optional(),
          since: z.coerce.number().int().nonnegative().optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
        response: { 200: z.array(Anomaly) },
      },
    },
    async (req) => trust.anomalies(who(req), req.query),
  );
}
