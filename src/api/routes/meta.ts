import type { FastifyInstance } from "fastify";
import { storeHealth } from "../../control/index.js";
import type { Services } from "../server.js";

/** Health, metrics and OpenAPI (the GPU catalogue is in gpu-models.ts). */
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
}
