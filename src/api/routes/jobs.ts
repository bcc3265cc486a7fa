import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { BillingService, ledgerServiceFor } from "../../control/index.js";
import { invalid } from "../../domain/index.js";
import { who } from "../auth.js";
import { IdParam, Job, JobSubmit } from "../schemas.js";
import type { Services } from "../server.js";
import { PEOPLE, TENANTS } from "../access.js";

/** Tenants' jobs: submit, list, inspect, logs, cancel; usage, statements and balance. */
export async function jobRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const billing = new BillingService(s.ctx);
  r.post(
    "/v1/jobs",
    {
      config: { access: ["tenant"] },
      schema: { tags: ["jobs"], summary: "Submit a job (tenant)", body: JobSubmit, response: { 201: Job } },
    },
    async (req, reply) => {
      const b = req.body;
      const instance = b.kind === "instance";
      if (!instance && (b.ports || b.maxDurationS !== undefined || b.idleStopS !== undefined))
        throw invalid(
          'ports, maxDurationS and idleStopS are for instances: add "kind": "instance" (--instance)',
          {
            field: "kind",
          },
        );
      const job = await s.jobs.submit(who(req), {
        ...(b.name ? { name: b.name } : {}),
        request: {
          gpuModels: b.gpuModels,
          gpus: b.gpus,
          class: b.class,
          ...(b.gpusPerNode !== undefined ? { gpusPerNode: b.gpusPerNode } : {}),
          ...(b.minGpuMemoryGb !== undefined ? { minGpuMemoryGb: b.minGpuMemoryGb } : {}),
          ...(b.maxPriceMinorPerGpuHour !== undefined
            ? { maxPriceMinorPerGpuHour: b.maxPriceMinorPerGpuHour }
            : {}),
          ...(b.jurisdiction ? { jurisdiction: b.jurisdiction } : {}),
          ...(b.countries ? { countries: b.countries } : {}),
          ...(b.maxCarbonGPerKwh !== undefined ? { maxCarbonGPerKwh: b.maxCarbonGPerKwh } : {}),
          ...(b.runtimeEstimateS !== undefined ? { runtimeEstimateS: b.runtimeEstimateS } : {}),
          ...(b.deadlineAt !== undefined ? { deadlineAt: b.deadlineAt } : {}),
          ...(b.fabric !== undefined ? { fabric: b.fabric } : {}),
        },
        spec: {
          command: b.command ?? [],
          ...(b.shell ? { shell: true } : {}),
          ...(b.env ? { env: b.env } : {}),
          ...(b.image ? { image: b.image } : {}),
          ...(b.registrySecret !== undefined ? { registrySecret: b.registrySecret } : {}),
          ...(b.network ? { network: true } : {}),
          ...(b.gracePeriodS !== undefined ? { gracePeriodS: b.gracePeriodS } : {}),
          ...(b.sshKeys ? { sshAuthorizedKeys: b.sshKeys.map((k) => k.trim()) } : {}),
          ...(b.freshIfCheckpointLost ? { freshIfCheckpointLost: true } : {}),
        },
        ...(b.secretEnv ? { secretEnv: b.secretEnv } : {}),
        ...(b.volumes ? { volumes: b.volumes } : {}),
        ...(instance
          ? {
              instance: {
                ...(b.ports ? { ports: b.ports } : {}),
                ...(b.maxDurationS !== undefined ? { maxDurationS: b.maxDurationS } : {}),
                ...(b.idleStopS !== undefined ? { idleStopS: b.idleStopS } : {}),
              },
            }
          : {}),
      });
      return reply.status(201).send(job);
    },
  );
  r.get(
    "/v1/jobs",
    {
      config: { access: TENANTS },
      schema: {
        tags: ["jobs"],
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }),
        response: { 200: z.array(Job) },
      },
    },
    async (req) => s.jobs.list(who(req), req.query.limit),
  );
  r.get(
    "/v1/jobs/:id",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["jobs"],
        summary: "A job with its leases, usage, cost and placements",
        params: IdParam,
      },
    },
    async (req) => s.jobs.get(who(req), req.params.id),
  );
  r.get(
    "/v1/jobs/:id/events",
    { config: { access: PEOPLE }, schema: { tags: ["jobs"], summary: "State history", params: IdParam } },
    async (req) => s.jobs.events(who(req), req.params.id),
  );
  r.get(
    "/v1/jobs/:id/logs",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["jobs"],
        summary: "Log lines after an id (poll to follow)",
        params: IdParam,
        querystring: z.object({ after: z.coerce.number().int().nonnegative().default(0) }),
      },
    },
    async (req) => s.jobs.logs(who(req), req.params.id, req.query.after),
  );
  r.post(
    "/v1/jobs/:id/cancel",
    { config: { access: TENANTS }, schema: { tags: ["jobs"], params: IdParam, response: { 200: Job } } },
    async (req) => s.jobs.cancel(who(req), req.params.id),
  );
  r.get(
    "/v1/statements/:month",
    {
      config: { access: TENANTS },
      schema: {
        tags: ["billing"],
        summary: "A month's statement (YYYY-MM)",
        params: z.object({ month: z.string() }),
        querystring: z.object({ tenantId: z.string().optional() }),
      },
    },
    async (req) => billing.statement(who(req), req.params.month, req.query.tenantId),
  );
  r.get(
    "/v1/balance",
    {
      config: { access: TENANTS },
      schema: {
        tags: ["billing"],
        summary: "Spend to date and credit left",
        querystring: z.object({ tenantId: z.string().optional() }),
      },
    },
    async (req) => ledgerServiceFor(s.ctx).tenantBalance(who(req), req.query.tenantId),
  );
}
