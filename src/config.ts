import { z } from "zod";
import type { ApiSettings } from "./api/settings.js";

const TRUE_WORDS = ["true", "yes", "on", "1"];
const FALSE_WORDS = ["false", "no", "off", "0"];

/** A boolean setting written as a word: true/yes/on/1 or false/no/off/0 (any case); anything else is an error. */
export function flag(def: boolean) {
  return z
    .union([z.boolean(), z.string()])
    .default(def)
    .transform((v, ctx): boolean => {
      if (typeof v === "boolean") return v;
      const w = v.trim().toLowerCase();
      if (TRUE_WORDS.includes(w)) return true;
      if (FALSE_WORDS.includes(w)) return false;
      ctx.addIssue({
        code: "custom",
        message: `"${v}" is not a yes/no value: use one of ${[...TRUE_WORDS, ...FALSE_WORDS].join(", ")}`,
      });
      return z.NEVER;
    });
}

/** The server's configuration, parsed once from the environment (and flags) in main(). */
export const ServerConfig = z
  .object({
    host: z.string().default("127.0.0.1"),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    store: z.string().default("sqlite:./.zumbido/zumbido.db"),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR")
      .default("EUR"),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    scheduleIntervalMs: z.coerce.number().int().min(50).default(1000),
    heartbeatTimeoutMs: z.coerce.number().int().min(1000).default(15_000),
    /**
     * Liveness-only heartbeats are written as one batched UPDATE this often (ms); 0 writes each one
     * at once. Default: 1,000, or a quarter of the heartbeat timeout when that is less. At most a
     * third of the timeout, so that a heartbeating node is never marked offline (docs/fleet.md).
     */
    livenessBatchMs: z.coerce.number().int().min(0).max(60_000).optional(),
    stopGraceS: z.coerce.number().int().min(0).max(3600).default(10),
    /** After a stop's grace period, seconds the server waits for the node to report the end before ending the lease itself. */
    stopTimeoutS: z.coerce.number().int().min(1).max(3600).default(60),
    /** A node silent this long (ms) loses its leases and their jobs are requeued. */
    leaseLossTimeoutMs: z.coerce.number().int().min(1000).default(300_000),
    /** Seconds a multi-node job's ranks may take to all be ready before the gang is stopped and requeued. */
    gangStartTimeoutS: z.coerce.number().int().min(5).max(86_400).default(600),
    /** Seconds a checkpoint copy may go without progress (its source node lost) before it fails. */
    checkpointCopyWaitS: z.coerce.number().int().min(5).max(86_400).default(600),
    logCapBytes: z.coerce.number().int().min(1024).default(1_048_576),
    /** Bootstrap admin key: created on first start if given (else one is generated and printed). */
    adminKey: z.string().min(20).optional(),
    /**
     * Server secret API keys are stored under (HMAC-SHA256). Set it before the first start and keep
     * it: changing it invalidates every key. Without it a random secret is kept in the database.
     */
    keySecret: z.string().min(32, "use at least 32 characters, e.g. openssl rand -base64 32").optional(),
    /** Seed the demo federation and run its agents in-process. */
    demo: flag(false),
    /** How the demo's agents run workloads: podman containers when podman works here (auto), always podman, or host processes. */
    demoExecutor: z.enum(["auto", "podman", "local"]).default("auto"),
    /** Hold flexible jobs (interruptible, with deadline and runtime estimate) for cleaner hours. */
    deferFlexible: flag(true),
    /** Where this control plane runs (logs are kept here), reported to tenants. */
    region: z.string().default("EU (ES)"),
    /** Folder for demo agents' state. */
    dataDir: z.string().default("./.zumbido"),
    /** Keys sealing tenants' secrets: base64 of 32 bytes, active first, older keys after (rotation). */
    encryptionKey: z.string().min(1).optional(),
    /** A file holding those keys (one a line); default: <dataDir>/encryption.key, generated (0600) if absent. */
    encryptionKeyFile: z.string().min(1).optional(),
    /** Serve HTTPS: PEM certificate (chain) and private key files; both or neither. */
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /** Rate limits (token buckets; 429 with Retry-After). Off only for benchmarks and tests. */
    rateLimits: flag(true),
    rateKeyPerMinute: z.coerce.number().int().min(1).default(1200),
    rateKeyBurst: z.coerce.number().int().min(1).default(200),
    rateAddressPerMinute: z.coerce.number().int().min(1).default(6000),
    rateAddressBurst: z.coerce.number().int().min(1).default(1000),
    rateAnonymousPerMinute: z.coerce.number().int().min(1).default(60),
    rateAnonymousBurst: z.coerce.number().int().min(1).default(20),
    rateExpensivePerMinute: z.coerce.number().int().min(1).default(30),
    rateExpensiveBurst: z.coerce.number().int().min(1).default(5),
    /** Most Monte-Carlo runs one POST /v1/plans may ask for. */
    planMaxRuns: z.coerce.number().int().min(1).max(20_000).default(2000),
  })
  .superRefine((c, ctx) => {
    if (c.encryptionKey !== undefined && c.encryptionKeyFile !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["encryptionKeyFile"],
        message:
          "give the encryption keys in ZUMBIDO_ENCRYPTION_KEY or in ZUMBIDO_ENCRYPTION_KEY_FILE, not both",
      });
    if (c.livenessBatchMs !== undefined && c.livenessBatchMs > Math.floor(c.heartbeatTimeoutMs / 3))
      ctx.addIssue({
        code: "custom",
        path: ["livenessBatchMs"],
        message: `ZUMBIDO_LIVENESS_BATCH_MS (${c.livenessBatchMs}) must be at most a third of ZUMBIDO_HEARTBEAT_TIMEOUT_MS (${c.heartbeatTimeoutMs}), else a node that heartbeats could be marked offline; lower it, or 0 to write each heartbeat`,
      });
    if ((c.tlsCert === undefined) !== (c.tlsKey === undefined))
      ctx.addIssue({
        code: "custom",
        path: [c.tlsCert === undefined ? "tlsCert" : "tlsKey"],
        message:
          "give both the TLS certificate and key files (ZUMBIDO_TLS_CERT and ZUMBIDO_TLS_KEY), or neither",
      });
  });
export type ServerConfig = z.infer<typeof ServerConfig>;

const ENV: Record<keyof ServerConfig, string> = {
  host: "ZUMBIDO_HOST",
  port: "ZUMBIDO_PORT",
  store: "ZUMBIDO_STORE",
  currency: "ZUMBIDO_CURRENCY",
  logLevel: "ZUMBIDO_LOG_LEVEL",
  scheduleIntervalMs: "ZUMBIDO_SCHEDULE_INTERVAL_MS",
  heartbeatTimeoutMs: "ZUMBIDO_HEARTBEAT_TIMEOUT_MS",
  livenessBatchMs: "ZUMBIDO_LIVENESS_BATCH_MS",
  stopGraceS: "ZUMBIDO_STOP_GRACE_S",
  stopTimeoutS: "ZUMBIDO_STOP_TIMEOUT_S",
  gangStartTimeoutS: "ZUMBIDO_GANG_START_TIMEOUT_S",
  checkpointCopyWaitS: "ZUMBIDO_CHECKPOINT_COPY_WAIT_S",
  leaseLossTimeoutMs: "ZUMBIDO_LEASE_LOSS_TIMEOUT_MS",
  logCapBytes: "ZUMBIDO_LOG_CAP_BYTES",
  adminKey: "ZUMBIDO_ADMIN_KEY",
  keySecret: "ZUMBIDO_KEY_SECRET",
  demo: "ZUMBIDO_DEMO",
  demoExecutor: "ZUMBIDO_DEMO_EXECUTOR",
  dataDir: "ZUMBIDO_DATA",
  region: "ZUMBIDO_REGION",
  deferFlexible: "ZUMBIDO_DEFER_FLEXIBLE",
  encryptionKey: "ZUMBIDO_ENCRYPTION_KEY",
  encryptionKeyFile: "ZUMBIDO_ENCRYPTION_KEY_FILE",
  tlsCert: "ZUMBIDO_TLS_CERT",
  tlsKey: "ZUMBIDO_TLS_KEY",
  rateLimits: "ZUMBIDO_RATE_LIMITS",
  rateKeyPerMinute: "ZUMBIDO_RATE_KEY_PER_MIN",
  rateKeyBurst: "ZUMBIDO_RATE_KEY_BURST",
  rateAddressPerMinute: "ZUMBIDO_RATE_ADDRESS_PER_MIN",
  rateAddressBurst: "ZUMBIDO_RATE_ADDRESS_BURST",
  rateAnonymousPerMinute: "ZUMBIDO_RATE_ANON_PER_MIN",
  rateAnonymousBurst: "ZUMBIDO_RATE_ANON_BURST",
  rateExpensivePerMinute: "ZUMBIDO_RATE_EXPENSIVE_PER_MIN",
  rateExpensiveBurst: "ZUMBIDO_RATE_EXPENSIVE_BURST",
  planMaxRuns: "ZUMBIDO_PLAN_MAX_RUNS",
};

/** The liveness batch interval in effect (ms; 0: off): the setting, else min(1 s, timeout / 4). */
export function livenessBatchMsOf(c: Pick<ServerConfig, "livenessBatchMs" | "heartbeatTimeoutMs">): number {
  return c.livenessBatchMs ?? Math.min(1000, Math.floor(c.heartbeatTimeoutMs / 4));
}

/** The API limits a server config sets. */
export function apiSettingsOf(c: ServerConfig): ApiSettings {
  return {
    planMaxRuns: c.planMaxRuns,
    rate: {
      enabled: c.rateLimits,
      key: { perMinute: c.rateKeyPerMinute, burst: c.rateKeyBurst },
      address: { perMinute: c.rateAddressPerMinute, burst: c.rateAddressBurst },
      anonymous: { perMinute: c.rateAnonymousPerMinute, burst: c.rateAnonymousBurst },
      expensive: { perMinute: c.rateExpensivePerMinute, burst: c.rateExpensiveBurst },
    },
  };
}

/** Parses config from env and overrides; every problem is reported with its variable name. */
export function parseServerConfig(
  env: Record<string, string | undefined>,
  overrides: Partial<Record<keyof ServerConfig, unknown>> = {},
): ServerConfig {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ENV)) if (env[v] !== undefined && env[v] !== "") raw[k] = env[v];
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) raw[k] = v;
  const r = ServerConfig.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof ServerConfig;
      return `  ${ENV[key] ?? key} (--${key}): ${i.message}`;
    });
    throw new Error(`invalid configuration:\n${lines.join("\n")}`);
  }
  return r.data;
}
