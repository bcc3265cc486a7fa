import type { FastifyInstance } from "fastify";
import { storeHealth } from "../../control/index.js";
import { gpuModels } from "../../domain/index.js";
import type { Services } from "../server.js";

/** Health, metrics, OpenAPI and the GPU catalogue. */
export async function metaRoutes(app: FastifyInstance, s: Services): Promise<void> {
  // Public (no key): load balancers and probes ask it.
  app.get("/healthz", { config: { access: "public" }, schema: { hide: true } }, async () =>
    storeHealth(s.ctx),
  );
  app.get("/metrics", { config: { access: "public" }, schema: { hide: true } }, async (_req, reply) => {
    const text = await s.metrics.registry.metrics();
    return reply.type(s.metrics.registry.contentType).send(text);
  });
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  app.get(
    "/v1/gpu-models",
    { config: { access: "public" }, schema: { tags: ["catalogue"], summary: "The GPU model catalogue" } },
    async () => gpuModels(),
  );
}
