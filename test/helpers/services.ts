// Finding the real services the integration suites need. Under CI (CI=true) a missing service is a
// failure with a plain message; elsewhere the suite is skipped and says why on stderr.
import { randomBytes } from "node:crypto";
import pg from "pg";

/** Base URL of the PostgreSQL server the suites use (database `test`, trust auth). */
export const PG_BASE_URL = process.env.ZUMBIDO_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** True when PostgreSQL answers; under CI, throws with instructions instead of returning false. */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_BASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch (err) {
    const msg = `PostgreSQL is not reachable at ${PG_BASE_URL} (${(err as Error).message}). Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`;
    if (process.env.CI === "true") throw new Error(msg);
    console.warn(`[not run] ${msg}`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates a fresh database for one suite and returns its URL and a function that drops it. */
export async function freshPostgresDb(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `zumbido_t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = PG_BASE_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      try {
        // The suite's pool is closed by now; give the server a moment to end those sessions rather
        // than terminating them (FORCE makes still-open clients raise 57P01 into the test run).
        for (let i = 0; ; i++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name}`);
            break;
          } catch (err) {
            if (i >= 50) {
              await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
              break;
            }
            if ((err as { code?: string }).code !== "55006") throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}
