import type { FastifyInstance } from "fastify";
import { gpuModels } from "../../domain/index.js";
import type { Services } from "../server.js";

/** Health, metrics, OpenAPI and the GPU catalogue. */
export async function metaRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get("/healthz", { config: { access: "public" }, schema: { hide: true } }, async () => {
    const t0 = performance.now();
    await s.ctx.store.accounts.getSetting("health");
    return {
      status: "ok",
      store: s.ctx.store.dialect,
      storeLatencyMs: Math.round((performance.now() - t0) * 1000) / 1000,
    };
  });
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
