import pg from "pg";

/** Decides which control-plane replica runs the scheduling loop. */
export interface Leadership {
  /** True when this replica may run scheduling cycles now. */
  isLeader(): Promise<boolean>;
  close(): Promise<void>;
}

/** One replica (SQLite): always the leader. */
export const soleLeader: Leadership = {
  isLeader: () => Promise.resolve(true),
  close: () => Promise.resolve(),
};

/** Advisory-lock key shared by every replica of one database ("zumbido" in ASCII). */
export const LEADER_LOCK_KEY = 0x7a756d62;

/**
 * PostgreSQL leadership: a session-level advisory lock held on a dedicated connection. Whoever holds
 * it schedules; the others serve the API and retry. If the leader dies, its session ends, the lock
 * is released by the server, and the next replica to try takes over.
 */
export class PgAdvisoryLeadership implements Leadership {
  private client: pg.Client | undefined;
  private held = false;

  constructor(
    private readonly url: string,
    private readonly key = LEADER_LOCK_KEY,
  ) {}

  async isLeader(): Promise<boolean> {
    try {
      if (!this.client) {
        const c = new pg.Client({ connectionString: this.url });
        c.on("error", () => {
          this.held = false;
          this.client = undefined;
        });
        await c.connect();
        this.client = c;
      }
      if (this.held) {
        // Still connected means still holding it; a lost connection clears `held` above.
        await this.client.query("SELECT 1");
        return true;
      }
      const r = await this.client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [this.key]);
      this.held = r.rows[0]?.ok === true;
      return this.held;
    } catch {
      this.held = false;
      const c = this.client;
      this.client = undefined;
      await c?.end().catch(() => undefined);
      return false;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.held = false;
    await c?.end().catch(() => undefined);
  }
}
