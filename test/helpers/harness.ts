// An in-process control plane for API tests: a real store, a manual clock, sequential ids.
import type { FastifyInstance } from "fastify";
import { buildApi, makeServices, type RoutePlugin, type Services } from "../../src/api/server.js";
import { SchedulerLoop, SecretBox, sequentialIds, type Ctx } from "../../src/control/index.js";
import { ManualClock } from "../../src/domain/index.js";
import { DEFAULT_POLICY } from "../../src/scheduler/index.js";
import type { Store } from "../../src/store/index.js";
import { Metrics } from "../../src/api/metrics.js";
import { DEFAULT_API_SETTINGS, type ApiSettings } from "../../src/api/settings.js";
import type { StoreFactory } from "./stores.js";

export interface Harness {
  app: FastifyInstance;
  store: Store;
  clock: ManualClock;
  services: Services;
  loop: SchedulerLoop;
  adminKey: string;
  close(): Promise<void>;
}

/** Starts an in-process API over a fresh store. */
export async function startHarness(
  factory: StoreFactory,
  plugins: RoutePlugin[] = [],
  api: ApiSettings = { ...DEFAULT_API_SETTINGS, rate: { ...DEFAULT_API_SETTINGS.rate, enabled: false } },
): Promise<Harness> {
  const { store, cleanup } = await factory.open();
  const clock = new ManualClock(Date.UTC(2026, 10, 2, 8, 0, 0));
  const ctx: Ctx = {
    store,
    clock,
    ids: sequentialIds(),
    config: {
      currency: "EUR",
      logCapBytes: 64 * 1024,
      heartbeatTimeoutMs: 30_000,
      stopGraceS: 10,
      enrolmentTokenTtlMs: 3_600_000,
      policy: DEFAULT_POLICY,
      region: "EU (ES)",
      deferFlexible: true,
    },
    nudge: () => undefined,
    secrets: SecretBox.random(),
  };
  const services = makeServices(ctx, new Metrics(false), api);
  const loop = new SchedulerLoop(ctx);
  // Heartbeats answer from the loop's cluster view, as in the server.
  ctx.view = loop.view;
  const app = await buildApi(services, { plugins });
  const { key: adminKey } = await store.accounts.createKey({
    id: "key_admin",
    role: "admin",
    ownerId: null,
    name: "admin",
    now: clock.now(),
  });
  return {
    app,
    store,
    clock,
    services,
    loop,
    adminKey,
    async close() {
      await app.close();
      await cleanup();
    },
  };
}

/** inject() with a bearer key and a JSON body; returns status and parsed JSON. */
export async function call(
  app: FastifyInstance,
  key: string | null,
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  url: string,
  body?: unknown,
): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const res = await app.inject({
    method,
    url,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { payload: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  let json: unknown = undefined;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = res.body;
  }
  return { status: res.statusCode, json, headers: res.headers };
}
