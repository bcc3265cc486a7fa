import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { MAX_ORDERS_WAIT_MS, validateUsageBatch, usageBatchError } from "../../control/index.js";
import { invalid } from "../../domain/index.js";
import { who } from "../auth.js";
import { Enrol, Heartbeat, LogChunks, UsageRecord, WorkloadReport } from "../schemas.js";
import type { Services } from "../server.js";

/** The node side: enrolment, heartbeats, workload reports, usage and logs. */
export async function agentRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/v1/agent/enrol",
    {
      config: { access: "public" },
      schema: {
        tags: ["agent"],
        summary: "Trade a one-time token for a node key",
        body: Enrol,
        security: [],
      },
    },
    async (req, reply) => reply.status(201).send(await s.fleet.enrol(req.body)),
  );
  r.post(
    "/v1/agent/heartbeat",
    { config: { access: ["node"] }, schema: { tags: ["agent"], body: Heartbeat } },
    async (req) => s.agent.heartbeat(who(req), req.body),
  );
  r.get(
    "/v1/agent/orders",
    {
      config: { access: ["node"] },
      schema: {
        tags: ["agent"],
        summary:
          "Long-poll for assignments and stop orders (answered as soon as the scheduler assigns or stops)",
        querystring: z.object({
          wait: z
            .string()
            .regex(/^\d{1,6}(ms|s)?$/, "wait is a duration like 25s or 25000ms (at most 30s)")
            .optional(),
          version: z.string().max(64).optional(),
        }),
      },
    },
    async (req) => {
      const w = req.query.wait ?? "0";
      const ms = w.endsWith("ms") ? Number(w.slice(0, -2)) : Number(w.replace(/s$/, "")) * 1000;
      if (ms > MAX_ORDERS_WAIT_MS)
        throw invalid(
          `wait ${w} is longer than the ${MAX_ORDERS_WAIT_MS / 1000}s a long-poll is held; ask for 30s or less`,
          {
            field: "wait",
          },
        );
      return s.agent.orders(who(req), req.query.version, ms);
    },
  );
  r.post(
    "/v1/agent/workloads",
    {
      config: { access: ["node"] },
      schema: {
        tags: ["agent"],
        summary: "Report workload phases",
        body: z.object({ workloads: z.array(WorkloadReport) }),
      },
    },
    async (req) => {
      for (const w of req.body.workloads) await s.agent.report(who(req), w);
      return { ok: true };
    },
  );
  r.post(
    "/v1/agent/usage",
    {
      config: { access: ["node"] },
      bodyLimit: 16 * 1_048_576,
      // The zod schema documents the body; the hand check (src/control/usage-validate.ts, proven to
      // accept exactly what the schema accepts) validates it at a third of zod's cost per record.
      validatorCompiler: () => (data: unknown) => {
        const v = validateUsageBatch(data);
        return v.ok ? { value: { records: v.records } } : { error: usageBatchError(v.issues) };
      },
      schema: {
        tags: ["agent"],
        summary:
          "Usage records (node key). Idempotent on node and seq; bounded by the lease (GPUs, server-observed life, power limit, no overlap); a replayed seq with other content is refused in `conflicts`",
        body: z.object({ records: z.array(UsageRecord).max(100_000) }),
      },
    },
    async (req) => {
      const res = await s.agent.usage(who(req), req.body.records);
      s.metrics.usageRecords.inc({ result: "accepted" }, res.accepted);
      s.metrics.usageRecords.inc({ result: "duplicate" }, res.duplicates);
      if (res.clipped) s.metrics.usageRecords.inc({ result: "clipped" }, res.clipped);
      if (res.conflicts.length) s.metrics.usageRecords.inc({ result: "conflict" }, res.conflicts.length);
      return res;
    },
  );
  r.post(
    "/v1/agent/logs",
    { config: { access: ["node"] }, bodyLimit: 8 * 1_048_576, schema: { tags: ["agent"], body: LogChunks } },
    async (req) => s.agent.logs(who(req), req.body.chunks),
  );
}
