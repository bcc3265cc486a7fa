import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { Logger } from "pino";
import {
  AccountsService,
  AgentService,
  AuditService,
  FleetService,
  JobsService,
  SecretsService,
  ControlRelayHub,
  type Ctx,
} from "../control/index.js";
import { requireRole } from "../control/index.js";
import { checkDeclaredAccess } from "./access.js";
import { authenticate } from "./auth.js";
import { refuseBadStrings, securityHeaders } from "./guards.js";
import { TokenBuckets, sendTooMany } from "./rate-limit.js";
import { Metrics } from "./metrics.js";
import { DEFAULT_API_SETTINGS, type ApiSettings } from "./settings.js";
import { DomainError } from "../domain/index.js";
import { problem, sendProblem, toProblem } from "./problem.js";
import { accountRoutes } from "./routes/accounts.js";
import { auditRoutes } from "./routes/audit.js";
import { agentRoutes } from "./routes/agent.js";
import { energyRoutes } from "./routes/energy.js";
import { fleetRoutes } from "./routes/fleet.js";
import { jobRoutes } from "./routes/jobs.js";
import { instanceRoutes } from "./routes/instances.js";
import { portRoutes } from "./routes/ports.js";
import { gpuModelRoutes } from "./routes/gpu-models.js";
import { secretRoutes } from "./routes/secrets.js";
import { metaRoutes } from "./routes/meta.js";
import { trustRoutes } from "./routes/trust.js";
import { nodeTrustRoutes } from "./routes/node-trust.js";
import { volumeRoutes } from "./routes/volumes.js";
import { checkpointTransferRoutes } from "./routes/checkpoint-transfers.js";
import { relayRoutes } from "./routes/relay.js";
import { routeUpgrades } from "./upgrade.js";

/** The relay hub of this process, also the ctx's source of relay traffic times. */
function hubFor(ctx: Ctx): ControlRelayHub {
  const hub = new ControlRelayHub(ctx);
  ctx.relayActivity ??= hub;
  return hub;
}

/** The services every route uses. */
export interface Services {
  ctx: Ctx;
  fleet: FleetService;
  jobs: JobsService;
  agent: AgentService;
  accounts: AccountsService;
  audit: AuditService;
  secrets: SecretsService;
  /** The relay: node agents' connections and tenants' streams into running jobs. */
  relay: ControlRelayHub;
  metrics: Metrics;
  /** The API's limits (rate limits, per-request caps). */
  api: ApiSettings;
}

/** Creates the services over one context. */
export function makeServices(
  ctx: Ctx,
  metrics = new Metrics(),
  api: ApiSettings = DEFAULT_API_SETTINGS,
): Services {
  return {
    ctx,
    fleet: new FleetService(ctx),
    jobs: new JobsService(ctx),
    agent: new AgentService(ctx),
    accounts: new AccountsService(ctx),
    audit: new AuditService(ctx),
    secrets: new SecretsService(ctx),
    // The loop reads relay traffic for instances' --idle-stop (unless the caller gave its own).
    relay: hubFor(ctx),
    metrics,
    api,
  };
}

/** Extra route plugins (planner, billing, energy, console) registered by their parts. */
export type RoutePlugin = (app: FastifyInstance, services: Services) => Promise<void>;

/** Builds the HTTP API (not listening yet). */
export async function buildApi(
  services: Services,
  opts: {
    logger?: Logger | boolean;
    plugins?: RoutePlugin[];
    bodyLimit?: number;
    /** Serve HTTPS with this certificate and key (PEM); HSTS is sent then. */
    tls?: { cert: string | Buffer; key: string | Buffer };
  } = {},
): Promise<FastifyInstance> {
  const bodyLimit = opts.bodyLimit ?? 1_048_576;
  const https = opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {};
  const app: FastifyInstance =
    typeof opts.logger === "object"
      ? (Fastify({ loggerInstance: opts.logger, bodyLimit, ...https }) as unknown as FastifyInstance)
      : (Fastify({ logger: opts.logger ?? false, bodyLimit, ...https }) as unknown as FastifyInstance);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Zumbido API",
        version: "0.1.0",
        description: "Open GPU cloud for converted mining farms.",
      },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      security: [{ apiKey: [] }],
    },
    // Each operation states who may call it (x-zumbido-access); public ones need no key (security: []).
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      const access = (input.route.config as { access?: unknown } | undefined)?.access;
      return {
        ...out,
        schema: {
          ...out.schema,
          "x-zumbido-access": access,
          ...(access === "public" ? { security: [] } : {}),
        },
      };
    },
  });
  // The API docs (Swagger UI's own routes) are public; every other route declares its access.
  await app.register(async (docs) => {
    docs.addHook("onRoute", (route) => {
      route.config = { ...route.config, access: "public" };
    });
    await docs.register(swaggerUi, { routePrefix: "/docs" });
  });
  app.addHook("onRoute", (route) => checkDeclaredAccess(route));

  app.decorateRequest("principal", null);
  app.decorateRequest("auditTarget", null);
  app.decorateRequest("audited", false);
  // Authentication is decided on the route the router matched (its declared access), never on the
  // raw URL: `/%76%31/plans` matches /v1/plans and needs what /v1/plans needs.
  // Rate limits: every request draws from its source address's bucket; calls without a valid key
  // (and public /v1 routes) from the stricter anonymous bucket of the address; authenticated calls
  // from their key's bucket, and expensive routes (plans, invoices, charge runs) also from a small one.
  const rate = services.api.rate;
  const now = (): number => services.ctx.clock.now();
  const byAddress = new TokenBuckets(rate.address, now);
  const anonymous = new TokenBuckets(rate.anonymous, now);
  const byKey = new TokenBuckets(rate.key, now);
  const expensive = new TokenBuckets(rate.expensive, now);
  app.addHook("onRequest", async (req, reply) => {
    (req as { startNs?: bigint }).startNs = process.hrtime.bigint();
    if (rate.enabled) {
      const r = byAddress.take(req.ip);
      if (r) return sendTooMany(reply, r, `from ${req.ip}`);
    }
    if (req.is404) return;
    const { access, cost, ownAuth } = req.routeOptions.config;
    if (access === "public") {
      const counted = rate.enabled && !ownAuth && req.routeOptions.url?.startsWith("/v1/");
      const r = counted ? anonymous.take(req.ip) : null;
      if (r) return sendTooMany(reply, r, `without an API key from ${req.ip}`);
      return;
    }
    if (!access) throw new DomainError("forbidden", "this route declares no access, so nobody may call it");
    try {
      req.principal = await authenticate(services.accounts, req);
    } catch (err) {
      // Missing or bad keys count against the source address.
      const r = rate.enabled ? anonymous.take(req.ip) : null;
      if (r) return sendTooMany(reply, r, `without a valid API key from ${req.ip}`);
      throw err;
    }
    requireRole(req.principal, ...access);
    if (rate.enabled) {
      const k = req.principal.keyId;
      const r = byKey.take(k) ?? (cost === "expensive" ? expensive.take(k) : null);
      if (r)
        return sendTooMany(
          reply,
          r,
          cost === "expensive" ? "to this expensive route with this key" : "with this key",
        );
    }
  });
  securityHeaders(app, { tls: opts.tls !== undefined });
  refuseBadStrings(app);
  // The audit entry is written before the answer is sent: a client that has its answer finds the
  // entry there, and entries follow the order of the answers. A route that answers by itself
  // (hijacked: no onSend) is recorded once it has answered.
  const writeAudit = async (req: FastifyRequest, status: number): Promise<void> => {
    const route = req.routeOptions.url ?? "unmatched";
    if (req.audited || !req.principal || !AuditService.records(req.principal, req.method, route)) return;
    req.audited = true;
    const params = req.params as Record<string, string> | undefined;
    await services.audit
      .record(req.principal, {
        action: `${req.method} ${route}`,
        target:
          params && Object.keys(params).length
            ? JSON.stringify(params)
            : req.auditTarget !== null
              ? JSON.stringify({ name: req.auditTarget })
              : null,
        status,
        source: req.ip,
      })
      .catch((err: unknown) => req.log.error({ err }, "audit entry not written"));
  };
  app.addHook("onSend", async (req, reply, payload) => {
    await writeAudit(req, reply.statusCode);
    return payload;
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    await writeAudit(req, reply.statusCode);
    services.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    const start = (req as { startNs?: bigint }).startNs;
    if (start)
      services.metrics.httpDuration.observe(
        { method: req.method, route },
        Number(process.hrtime.bigint() - start) / 1e9,
      );
  });
  app.setErrorHandler(async (err, req, reply) => {
    const p = toProblem(err, req);
    if (p.status >= 500) req.log.error({ err }, "request failed");
    await sendProblem(reply, p);
  });
  app.setNotFoundHandler(async (req, reply) => {
    await sendProblem(
      reply,
      problem(404, "no-route", `no route ${req.method} ${req.url.split("?")[0]}; see /docs for the API`, {
        instance: req.url,
      }),
    );
  });

  await metaRoutes(app, services);
  await gpuModelRoutes(app, services);
  await accountRoutes(app, services);
  await fleetRoutes(app, services);
  await jobRoutes(app, services);
  await instanceRoutes(app, services);
  await secretRoutes(app, services);
  await agentRoutes(app, services);
  await checkpointTransferRoutes(app, services);
  await energyRoutes(app, services);
  await auditRoutes(app, services);
  await trustRoutes(app, services);
  await nodeTrustRoutes(app, services);
  await volumeRoutes(app, services);
  routeUpgrades(app);
  await relayRoutes(app, services);
  await portRoutes(app, services);
  for (const plugin of opts.plugins ?? []) await plugin(app, services);
  return app;
}
