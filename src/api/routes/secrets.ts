import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { SecretView } from "../../contract/index.js";
import { who } from "../auth.js";
import { RegistrySecretInput, SecretName } from "../schemas.js";
import type { Services } from "../server.js";

/** A tenant's named secrets (registry logins): store, list (names only), delete. Each write is audited. */
export async function secretRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/v1/secrets",
    {
      config: { access: ["tenant"] },
      schema: {
        tags: ["secrets"],
        summary: "Store a private registry's login under a name (sealed; never shown back)",
        body: RegistrySecretInput,
        response: { 201: SecretView },
      },
    },
    async (req, reply) => {
      req.auditTarget = req.body.name;
      const info = await s.secrets.createRegistry(who(req), req.body);
      return reply.status(201).send(info);
    },
  );
  r.get(
    "/v1/secrets",
    {
      config: { access: ["tenant"] },
      schema: {
        tags: ["secrets"],
        summary: "Your named secrets: names, types and registries, never values",
        response: { 200: z.array(SecretView) },
      },
    },
    async (req) => s.secrets.list(who(req)),
  );
  r.delete(
    "/v1/secrets/:name",
    {
      config: { access: ["tenant"] },
      schema: {
        tags: ["secrets"],
        summary: "Delete a named secret (jobs naming it that have not started fail at their start)",
        params: z.object({ name: SecretName }),
      },
    },
    async (req, reply) => {
      await s.secrets.delete(who(req), req.params.name);
      return reply.status(204).send();
    },
  );
}
