import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type MigrationProvider } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";
import { migrations } from "./migrations/index.js";
import { WriteEpoch } from "./write-epoch.js";

/** Where the control plane keeps its state. */
export type StoreConfig =
  | { kind: "sqlite"; path: string; synchronous?: "NORMAL" | "FULL" }
  | { kind: "postgres"; url: string; poolSize?: number };

/** An open database with its dialect. */
export interface Db {
  kysely: Kysely<Database>;
  dialect: "sqlite" | "postgres";
  /** The raw SQLite handle (bulk paths Kysely does not expose); use it only under kysely.connection(). */
  sqlite?: BetterSqlite3.Database;
  /** The raw PostgreSQL pool Kysely runs on (bulk paths). */
  pgPool?: pg.Pool;
  /** This process's writes to the tables the cluster view follows (src/store/write-epoch.ts). */
  writes: WriteEpoch;
  close(): Promise<void>;
}

const rawHandles = new WeakMap<object, Pick<Db, "sqlite" | "pgPool">>();

/** The raw driver handles behind a Kysely instance opened by openDb (empty for any other). */
export function rawHandlesOf(kysely: Kysely<Database>): Pick<Db, "sqlite" | "pgPool"> {
  return rawHandles.get(kysely) ?? {};
}

// PostgreSQL returns BIGINT (int8) as strings; every bigint we store is a safe integer (ms, minor units).
pg.types.setTypeParser(20, (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${v} is outside the safe integer range`);
  return n;
});

/** Opens the database and brings its schema to the latest migration. */
export async function openDb(config: StoreConfig): Promise<Db> {
  let kysely: Kysely<Database>;
  const raw: Pick<Db, "sqlite" | "pgPool"> = {};
  const writes = new WriteEpoch();
  if (config.kind === "sqlite") {
    if (config.path !== ":memory:") mkdirSync(dirname(config.path), { recursive: true });
    const sqlite = new BetterSqlite3(config.path);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma(`synchronous = ${config.synchronous ?? "NORMAL"}`);
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
    kysely = new Kysely<Database>({
      dialect: new SqliteDialect({ database: sqlite }),
      plugins: [writes],
    });
    raw.sqlite = sqlite;
  } else {
    const pool = new pg.Pool({ connectionString: config.url, max: config.poolSize ?? 10 });
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [writes] });
    raw.pgPool = pool;
  }
  const dialect = config.kind;
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations({ dialect })) };
  // Engineers number migrations in parallel: a database may see 0007 before 0004 lands.
  const migrator = new Migrator({ db: kysely, provider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await kysely.destroy();
    const failed = results?.find((r) => r.status === "Error");
    throw new Error(
      `database migration ${failed?.migrationName ?? "?"} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
    );
  }
  rawHandles.set(kysely, raw);
  return { kysely, dialect, ...raw, writes, close: () => kysely.destroy() };
}

/** Parses a store URL: `sqlite:PATH` or a `postgres://` URL. */
export function parseStoreUrl(url: string): StoreConfig {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return { kind: "postgres", url };
  if (url.startsWith("sqlite:")) {
    // sqlite:PATH?synchronous=FULL makes every commit fsync the WAL (survives power loss; NORMAL survives a process crash).
    const [path, query] = url.slice("sqlite:".length).split("?", 2) as [string, string | undefined];
    const sync = query ? new URLSearchParams(query).get("synchronous")?.toUpperCase() : undefined;
    if (sync !== undefined && sync !== "NORMAL" && sync !== "FULL")
      throw new Error(`store URL "${url}": synchronous must be NORMAL or FULL`);
    return sync ? { kind: "sqlite", path, synchronous: sync } : { kind: "sqlite", path };
  }
  throw new Error(`store URL "${url}" is neither sqlite:PATH nor postgres://USER@HOST:PORT/DB`);
}
