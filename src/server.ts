import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import pino from "pino";
import { buildApi, makeServices, type RoutePlugin, type Services } from "./api/server.js";
import {
  loadSecretBox,
  PgAdvisoryLeadership,
  resealSecrets,
  SchedulerLoop,
  ClusterView,
  randomIds,
  soleLeader,
  type Ctx,
} from "./control/index.js";
import type { Clock } from "./domain/index.js";
import { DEFAULT_POLICY } from "./scheduler/index.js";
import { Store, parseStoreUrl } from "./store/index.js";
import { apiSettingsOf, livenessBatchMsOf, type ServerConfig } from "./config.js";
import { Metrics } from "./api/metrics.js";

/** A running control plane. */
export interface ServerHandle {
  url: string;
  services: Services;
  store: Store;
  loop: SchedulerLoop;
  log: pino.Logger;
  /** Where the keys sealing tenants' secrets came from (never the keys), for the banner. */
  secretKeyNote: string;
  /** The admin key, when this start created it (first start). */
  bootstrapAdminKey?: string;
  /**
   * Stops the loop, then the API: requests in flight get `graceMs` (default 10 s) to finish, and the
   * connections still open after it are cut (a client that connected and sent nothing would otherwise
   * hold the close forever); then the store.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

const systemClock: Clock = { now: () => Date.now() };

/** Opens the store, builds the API, starts the scheduling loop and listens. */
export async function startServer(
  config: ServerConfig,
  opts: { plugins?: RoutePlugin[]; clock?: Clock } = {},
): Promise<ServerHandle> {
  const log = pino({ level: config.logLevel, base: { svc: "zumbido" } });
  // Tenants' secrets: keys from config (never logged), re-sealed with the active key after a rotation.
  const secretKeys = loadSecretBox({
    key: config.encryptionKey,
    keyFile: config.encryptionKeyFile,
    dataDir: config.dataDir,
  });
  // Info, not warn: `serve --ready-json` promises its ready line first; the banners repeat the note.
  log.info(secretKeys.note);
  const store = await Store.open(parseStoreUrl(config.store), {
    ...(config.keySecret ? { keySecret: config.keySecret } : {}),
    liveness: {
      intervalMs: livenessBatchMsOf(config),
      onError: (err: unknown) => log.warn({ err }, "batched liveness write failed; retried next flush"),
    },
  });
  const resealed = await resealSecrets(store, secretKeys.box).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  if (resealed > 0)
    log.info({ resealed, keyId: secretKeys.box.activeKeyId }, "re-sealed secrets with the active key");
  const ctx: Ctx = {
    store,
    clock: opts.clock ?? systemClock,
    ids: randomIds(),
    config: {
      currency: config.currency,
      logCapBytes: config.logCapBytes,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      stopGraceS: config.stopGraceS,
      stopTimeoutS: config.stopTimeoutS,
      checkpointCopyWaitS: config.checkpointCopyWaitS,
      gangStartTimeoutS: config.gangStartTimeoutS,
      leaseLossTimeoutMs: config.leaseLossTimeoutMs,
      enrolmentTokenTtlMs: 24 * 3_600_000,
      policy: { ...DEFAULT_POLICY, preemptionGraceS: config.stopGraceS },
      region: config.region,
      deferFlexible: config.deferFlexible,
    },
    nudge: () => loop.nudge(),
    secrets: secretKeys.box,
  };
  // Every replica keeps a cluster view: the leader schedules on it, heartbeats and long-polls read it.
  const view = new ClusterView(store, log.child({ part: "view" }));
  ctx.view = view;
  const metrics = new Metrics();
  const services = makeServices(ctx, metrics, apiSettingsOf(config));
  const storeConfig = parseStoreUrl(config.store);
  const leadership =
    storeConfig.kind === "postgres"
      ? new PgAdvisoryLeadership(storeConfig.url, {
          holder: `${hostname()} pid ${process.pid}`,
          now: () => ctx.clock.now(),
        })
      : soleLeader;
  const loop = new SchedulerLoop(
    ctx,
    log.child({ part: "scheduler" }),
    undefined,
    (r) => metrics.onCycle(r),
    leadership,
  );

  // First start: make sure an admin key exists.
  let bootstrapAdminKey: string | undefined;
  const keys = await store.accounts.listKeys();
  if (!keys.some((k) => k.role === "admin" && k.revokedAt === null)) {
    const { key } = await store.accounts.createKey({
      id: ctx.ids("key"),
      role: "admin",
      ownerId: null,
      name: "bootstrap admin",
      now: ctx.clock.now(),
      ...(config.adminKey ? { secret: config.adminKey } : {}),
    });
    bootstrapAdminKey = key;
  }

  const app = await buildApi(services, {
    logger: log.child(
      { part: "api" },
      { level: ["debug", "trace"].includes(config.logLevel) ? config.logLevel : "warn" },
    ) /* request logs only when debugging */,
    plugins: opts.plugins ?? [],
    ...(config.tlsCert && config.tlsKey
      ? { tls: { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } }
      : {}),
  });
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address() as AddressInfo;
  const url = `${config.tlsCert ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${addr.port}`;
  loop.start(config.scheduleIntervalMs);
  view.follow(250, () => ctx.clock.now());
  return {
    url,
    services,
    store,
    loop,
    log,
    secretKeyNote: secretKeys.note,
    ...(bootstrapAdminKey ? { bootstrapAdminKey } : {}),
    async close(opts = {}) {
      view.unfollow();
      await loop.stop();
      const cut = setTimeout(() => app.server.closeAllConnections(), opts.graceMs ?? 10_000);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
      await store.close();
    },
  };
}
