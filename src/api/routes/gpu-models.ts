import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { OperatorGpuModel } from "../../contract/index.js";
import { GpuModelsService } from "../../control/index.js";
import { ADMIN, OPS } from "../access.js";
import { who } from "../auth.js";
import type { Services } from "../server.js";

const Proposal = z
  .object({
    id: z.string().min(2).max(32).describe('canonical id, e.g. "RTX3080" or "MI300X"'),
    vendor: z.enum(["nvidia", "amd", "intel"]),
    name: z.string().min(3).max(80).describe('display name, e.g. "AMD Instinct MI300X 192GB"'),
    memoryGb: z.number().int().min(1).max(4096),
    powerW: z.number().int().min(10).max(5000).describe("board power, watts"),
    relThroughput: z
      .number()
      .min(0.01)
      .max(100)
      .optional()
      .describe("throughput relative to an A100 (default 0.5)"),
    match: z
      .array(z.string().min(3).max(64))
      .min(1)
      .max(8)
      .optional()
      .describe("lower-case substrings of the driver's product name (default: the id)"),
  })
  .strict();

const IdParam = z.object({ id: z.string().min(1).max(32) });

/** The GPU catalogue: built-in and approved operator-defined models; proposals and their review. */
export async function gpuModelRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const models = new GpuModelsService(s.ctx);
  r.get(
    "/v1/gpu-models",
    {
      config: { access: "public" },
      schema: {
        tags: ["catalogue"],
        summary: "The GPU model catalogue: built-in models and the operator-defined ones an admin approved",
      },
    },
    async () => (await models.catalogue()).all(),
  );
  r.post(
    "/v1/gpu-models",
    {
      config: { access: OPS },
      schema: {
        tags: ["catalogue"],
        summary:
          "Propose a GPU model the catalogue lacks (operator); it is placed and sold once an admin approves it",
        body: Proposal,
        response: { 201: OperatorGpuModel },
      },
    },
    async (req, reply) => reply.status(201).send(await models.propose(who(req), req.body)),
  );
  r.get(
    "/v1/gpu-models/proposals",
    {
      config: { access: OPS },
      schema: {
        tags: ["catalogue"],
        summary: "Operator-defined GPU models (admin: all; operator: its own and every approved one)",
        querystring: z.object({ state: z.enum(["proposed", "approved", "rejected"]).optional() }),
        response: { 200: z.array(OperatorGpuModel) },
      },
    },
    async (req) => models.list(who(req), req.query.state),
  );
  r.post(
    "/v1/gpu-models/:id/approve",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["catalogue"],
        summary: "Approve a proposed GPU model (admin): nodes with it are placed and its prices can be set",
        params: IdParam,
        response: { 200: OperatorGpuModel },
      },
    },
    async (req) => models.decide(who(req), req.params.id, "approved"),
  );
  r.post(
    "/v1/gpu-models/:id/reject",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["catalogue"],
        summary: "Reject a proposed GPU model (admin), saying why",
        params: IdParam,
        body: z.object({ reason: z.string().min(1).max(500) }).strict(),
        response: { 200: OperatorGpuModel },
      },
    },
    async (req) => models.decide(who(req), req.params.id, "rejected", req.body.reason),
  );
}
