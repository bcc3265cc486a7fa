import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { EnergyService, JobLocationsService } from "../../control/index.js";
import { who } from "../auth.js";
import { IdParam } from "../schemas.js";
import type { Services } from "../server.js";
import { OPS, PEOPLE } from "../access.js";

const Month = z.string().regex(/^\d{4}-\d{2}$/, "a month as YYYY-MM, e.g. 2026-11");
const Time = z.union([
  z.number().int().positive(),
  z
    .string()
    .datetime({ offset: true })
    .transform((s) => Date.parse(s)),
]);

/** Energy series, renewable contracts, EU indicators, per-job energy and carbon, curtailment, data locations. */
export async function energyRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const energy = new EnergyService(s.ctx);
  app.addContentTypeParser("text/csv", { parseAs: "string", bodyLimit: 16 * 1_048_576 }, (_req, body, done) =>
    done(null, body),
  );

  r.put(
    "/v1/sites/:id/energy/:kind",
    {
      config: { access: OPS },
      bodyLimit: 16 * 1_048_576,
      schema: {
        tags: ["energy"],
        summary:
          "Import an hourly carbon (gCO2e/kWh) or price (EUR/MWh) series as CSV: timestamp,value or an Electricity Maps export",
        params: z.object({ id: z.string(), kind: z.enum(["carbon", "price"]) }),
        body: z.string().min(1, "send the CSV as the body with Content-Type: text/csv"),
      },
    },
    async (req) => energy.importSeries(who(req), req.params.id, req.params.kind, req.body),
  );
  r.get(
    "/v1/sites/:id/energy",
    { config: { access: OPS }, schema: { tags: ["energy"], params: IdParam } },
    async (req) => energy.seriesInfo(who(req), req.params.id),
  );
  r.post(
    "/v1/sites/:id/contracts",
    {
      config: { access: OPS },
      schema: {
        tags: ["energy"],
        summary: "Record renewable supply for a period (PPA, guarantees of origin, on-site)",
        params: IdParam,
        body: z
          .object({
            kind: z.enum(["ppa", "guarantee-of-origin", "on-site"]),
            periodStart: Time,
            periodEnd: Time,
            kwh: z.number().nonnegative(),
            gPerKwh: z.number().nonnegative().optional(),
          })
          .strict(),
      },
    },
    async (req, reply) =>
      reply.status(201).send(
        await energy.addContract(who(req), req.params.id, {
          kind: req.body.kind,
          periodStartMs: req.body.periodStart,
          periodEndMs: req.body.periodEnd,
          kwh: req.body.kwh,
          gPerKwh: req.body.gPerKwh ?? null,
        }),
      ),
  );
  r.put(
    "/v1/sites/:id/meter-readings/:month",
    {
      config: { access: OPS },
      schema: {
        tags: ["energy"],
        summary: "The site's meter readings for a month; returns its EU indicators",
        params: z.object({ id: z.string(), month: Month }),
        body: z
          .object({
            eDcKwh: z.number().describe("E_DC: total facility energy, kWh"),
            eItKwh: z
              .number()
              .nullable()
              .optional()
              .describe("E_IT: IT energy, kWh (default: what Zumbido metered)"),
            eResTotKwh: z.number().nullable().optional().describe("E_RES-TOT: renewable energy, kWh"),
            eReuseKwh: z.number().nullable().optional().describe("E_REUSE: energy reused, kWh"),
            wInM3: z.number().nullable().optional().describe("W_IN: water input, m3"),
            installedItKw: z.number().describe("installed IT power, kW"),
          })
          .strict(),
      },
    },
    async (req) =>
      energy.putReading(who(req), req.params.id, {
        month: req.params.month,
        eDcKwh: req.body.eDcKwh,
        eItKwh: req.body.eItKwh ?? null,
        eResTotKwh: req.body.eResTotKwh ?? null,
        eReuseKwh: req.body.eReuseKwh ?? null,
        wInM3: req.body.wInM3 ?? null,
        installedItKw: req.body.installedItKw,
      }),
  );
  r.get(
    "/v1/indicators",
    {
      config: { access: OPS },
      schema: {
        tags: ["energy"],
        summary: "EU data-centre indicators (PUE, REF, ERF, WUE) of your sites for a month",
        querystring: z.object({
          month: Month,
          siteId: z.string().optional(),
          format: z.enum(["json", "csv"]).default("json"),
        }),
      },
    },
    async (req, reply) => {
      const r2 = await energy.indicators(who(req), req.query.month, req.query.siteId);
      if (req.query.format === "csv") return reply.type("text/csv; charset=utf-8").send(r2.csv);
      return { month: req.query.month, sites: r2.json, sitesWithoutReadings: r2.missing };
    },
  );
  r.get(
    "/v1/jobs/:id/energy",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["energy"],
        summary: "A job's facility energy, location- and market-based CO2e, energy cost",
        params: IdParam,
      },
    },
    async (req) => energy.jobEnergy(who(req), req.params.id),
  );
  r.get(
    "/v1/energy/summary",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["energy"],
        summary: "Energy and CO2e per tenant, site or job for a month",
        querystring: z.object({ month: Month, by: z.enum(["tenant", "site", "job"]).default("site") }),
      },
    },
    async (req) => energy.summary(who(req), req.query.month, req.query.by),
  );
  r.post(
    "/v1/curtailments",
    {
      config: { access: OPS },
      schema: {
        tags: ["energy"],
        summary: "Declare a curtailment: the site draws at most maxKw (facility) from start to end",
        body: z
          .object({
            siteId: z.string(),
            start: Time,
            end: Time,
            maxKw: z.number().nonnegative(),
            noticeS: z.number().int().nonnegative().optional(),
            reason: z.string().max(200).optional(),
          })
          .strict(),
      },
    },
    async (req, reply) =>
      reply.status(201).send(
        await energy.declareCurtailment(who(req), {
          siteId: req.body.siteId,
          startMs: req.body.start,
          endMs: req.body.end,
          maxKw: req.body.maxKw,
          ...(req.body.noticeS !== undefined ? { noticeS: req.body.noticeS } : {}),
          ...(req.body.reason ? { reason: req.body.reason } : {}),
        }),
      ),
  );
  r.get("/v1/curtailments", { config: { access: OPS }, schema: { tags: ["energy"] } }, async (req) =>
    energy.curtailments(who(req)),
  );
  r.get(
    "/v1/curtailments/:id",
    {
      config: { access: OPS },
      schema: { tags: ["energy"], summary: "A curtailment event and its report", params: IdParam },
    },
    async (req) => energy.curtailment(who(req), req.params.id),
  );
  r.get(
    "/v1/jobs/:id/locations",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["jobs"],
        summary:
          "Every site and country that held the job's code, logs and outputs, and its data: volumes and checkpoint",
        params: IdParam,
      },
    },
    async (req) => {
      const job = await s.jobs.get(who(req), req.params.id);
      return {
        jobId: job.id,
        jurisdiction: job.request.jurisdiction ?? null,
        countries: job.request.countries ?? null,
        code: job.placements.map((pl) => ({
          what: "code and outputs",
          siteId: pl.siteId,
          site: pl.siteName,
          country: pl.country,
          nodeId: pl.nodeId,
          from: pl.from,
          to: pl.to,
        })),
        logs: [{ what: "logs", where: `control plane (${s.ctx.config.region})` }],
        data: await new JobLocationsService(s.ctx).dataOf(job),
      };
    },
  );
}
