import pg from "pg";
import { BUMP_TERM_SQL, type Fence } from "../store/index.js";

/** Decides which control-plane replica runs the scheduling loop. */
export interface Leadership {
  /** True when this replica may run scheduling cycles now. */
  isLeader(): Promise<boolean>;
  /** The fence for writes decided now: the term this replica leads under (undefined: a sole replica needs none). */
  fence(): Fence | undefined;
  /** Whether this replica still believes it leads; false as soon as its lock session is known lost. */
  holds(): boolean;
  close(): Promise<void>;
}

/** One replica (SQLite): always the leader. */
export const soleLeader: Leadership = {
  isLeader: () => Promise.resolve(true),
  fence: () => undefined,
  holds: () => true,
  close: () => Promise.resolve(),
};

/** Advisory-lock key shared by every replica of one database ("zumbido" in ASCII). */
export const LEADER_LOCK_KEY = 0x7a756d62;

/** Options of PgAdvisoryLeadership. */
export interface PgLeadershipOptions {
  /** The advisory-lock key (tests use their own). */
  key?: number;
  /** Who this replica is, recorded with each term it starts. */
  holder?: string;
  /** Wall clock for the term's acquisition time. */
  now?: () => number;
}

/**
 * PostgreSQL leadership: a session-level advisory lock held on a dedicated connection, plus a term
 * (fencing token) in leader_terms that the new holder bumps right after taking the lock. Whoever
 * holds the lock schedules; the others serve the API and retry. Every placement and preemption
 * commit checks the term in its own transaction, so a leader whose lock session was lost (terminated,
 * partitioned) cannot commit once the next leader has started: its writes fail with FencedError.
 */
export class PgAdvisoryLeadership implements Leadership {
  private client: pg.Client | undefined;
  private held = false;
  private term: number | undefined;
  private pid: number | undefined;
  private readonly key: number;
  private readonly holder: string;
  private readonly now: () => number;

  constructor(
    private readonly url: string,
    opts: PgLeadershipOptions | number = {},
  ) {
    const o = typeof opts === "number" ? { key: opts } : opts;
    this.key = o.key ?? LEADER_LOCK_KEY;
    this.holder = o.holder ?? `pid ${process.pid}`;
    this.now = o.now ?? Date.now;
  }

  private lost(c: pg.Client): void {
    if (this.client !== c) return;
    this.held = false;
    this.pid = undefined;
    this.client = undefined;
    c.end().catch(() => undefined);
  }

  async isLeader(): Promise<boolean> {
    try {
      if (!this.client) {
        const c = new pg.Client({ connectionString: this.url, keepAlive: true });
        // A terminated or broken lock session: stop leading at once (the in-flight cycle checks holds()).
        c.on("error", () => this.lost(c));
        c.on("end", () => this.lost(c));
        await c.connect();
        this.client = c;
        const r = await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        this.pid = r.rows[0]?.pid;
      }
      const c = this.client;
      if (this.held) {
        // Still connected means still holding it; a lost connection clears `held` above.
        await c.query("SELECT 1");
        return this.held;
      }
      const r = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [this.key]);
      if (r.rows[0]?.ok !== true) return false;
      // A new term: commits of any older leader that are not yet in fail from here on.
      const t = await c.query<{ term: string | number }>(BUMP_TERM_SQL, [this.holder, this.now()]);
      this.term = Number(t.rows[0]?.term);
      this.held = this.client === c;
      return this.held;
    } catch {
      const c = this.client;
      if (c) this.lost(c);
      return false;
    }
  }

  fence(): Fence {
    // Always a fence on PostgreSQL: after a lost lock the last term (or 0, never a real term) is stale.
    return { term: this.term ?? 0 };
  }

  holds(): boolean {
    return this.held;
  }

  /** The backend process id of the lock session (tests and the fleet bench terminate it). */
  lockSessionPid(): number | undefined {
    return this.pid;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.held = false;
    await c?.end().catch(() => undefined);
  }
}
