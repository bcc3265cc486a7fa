import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { OperatorReportService } from "../../control/index.js";
import { who } from "../auth.js";
import { IdParam } from "../schemas.js";
import type { Services } from "../server.js";
import { OPS } from "../access.js";

/** Read-only aggregations the web console draws: operator summary and site utilisation (operators and admins). */
export async function consoleDataRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const reports = new OperatorReportService(s.ctx, s.fleet, s.accounts);
  r.get(
    "/v1/operator/summary",
    {
      config: { access: OPS },
      schema: {
        tags: ["console"],
        summary:
          "Per site: GPUs total and busy, estimated power draw against the contracted kW, nodes, and revenue this month (operator: own sites; admin: all)",
      },
    },
    async (req) => reports.summary(who(req)),
  );

  r.get(
    "/v1/sites/:id/utilisation",
    {
      config: { access: OPS },
      schema: {
        tags: ["console"],
        summary:
          "A site's busy GPUs (peak and mean) and estimated power draw over the last hours (or minutes), from its leases",
        params: IdParam,
        querystring: z.object({
          hours: z.coerce
            .number()
            .int("hours must be a whole number")
            .min(1, "hours must be at least 1")
            .max(720, "hours can be at most 720 (30 days)")
            .default(24),
          minutes: z.coerce
            .number()
            .int("minutes must be a whole number")
            .min(5, "minutes must be at least 5")
            .max(43_200, "minutes can be at most 43200 (30 days)")
            .optional(),
        }),
      },
    },
    async (req) =>
      reports.utilisation(
        who(req),
        req.params.id,
        req.query.minutes !== undefined ? req.query.minutes * 60_000 : req.query.hours * 3_600_000,
      ),
  );
}
