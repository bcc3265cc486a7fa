import pg from "pg";
import { BUMP_TERM_SQL, SCHEDULER_TERM, type Fence } from "../store/index.js";

/** Decides which control-plane replica runs the scheduling loop. */
export interface Leadership {
  /** True when this replica may run scheduling cycles now. */
  isLeader(): Promise<boolean>;
  /** The fence for writes decided now: the term this replica leads under (undefined: a sole replica needs none). */
  fence(): Fence | undefined;
  /** Whether this replica still believes it leads; false as soon as its lock session is known lost. */
  holds(): boolean;
  /** Calls `fn` when this replica takes the lead between the loop's ticks (a standby's own retries). */
  onAcquired?(fn: () => void): void;
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
  /** How often the leader checks its lock session and term, cycles or not (ms; default 1000). */
  checkMs?: number;
  /** A lock-session query that takes longer than this counts as a lost session (ms; default 2000). */
  queryTimeoutMs?: number;
  /** The server ends the lock session after this long without a word from it (ms; default 10000). */
  serverIdleMs?: number;
  /** How often a standby tries the lock between scheduling ticks (ms; default 200). */
  retryMs?: number;
}

/**
 * Server-side deadlines of the lock session, so a leader cut off without a FIN (a partition, a dead
 * host) loses the lock after a bounded time: TCP keepalive (idle 5 s, then 3 probes 1 s apart: about
 * 8 s of silence) and idle_session_timeout (PostgreSQL 14+; serverIdleMs). docs/fleet.md has the
 * timing argument: the leader itself gives up after checkMs + queryTimeoutMs, well before either.
 */
const SESSION_SETTINGS = (serverIdleMs: number): string =>
  `select set_config('tcp_keepalives_idle', '5', false), set_config('tcp_keepalives_interval', '1', false),
     set_config('tcp_keepalives_count', '3', false),
     case when current_setting('server_version_num')::int >= 140000
       then set_config('idle_session_timeout', '${Math.round(serverIdleMs)}', false) end`;

/** The current term, read on the lock session (a live session that still sees its own term leads). */
const TERM_SQL = `select term from leader_terms where name = '${SCHEDULER_TERM}'`;

/**
 * PostgreSQL leadership: a session-level advisory lock held on a dedicated connection, plus a term
 * (fencing token) in leader_terms that the new holder bumps right after taking the lock. Whoever
 * holds the lock schedules; the others serve the API and retry. Every placement and preemption
 * commit checks the term in its own transaction, so a leader whose lock session was lost (terminated,
 * partitioned) cannot commit once the next leader has started: its writes fail with FencedError.
 *
 * The leader learns of a lost session from the connection's `error`/`end` (a terminated backend, a
 * closed socket) and, for a half-dead connection that never says so, from a check every `checkMs`
 * (independent of the scheduling cycles) that must answer within `queryTimeoutMs` and still see
 * this replica's term. `holds()` is false from then on; the cycle in flight stops at its next write.
 */
export class PgAdvisoryLeadership implements Leadership {
  private client: pg.Client | undefined;
  private held = false;
  private term: number | undefined;
  private pid: number | undefined;
  private checker: NodeJS.Timeout | undefined;
  private checking: Promise<boolean> | undefined;
  private attempt: Promise<boolean> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly acquired: (() => void)[] = [];
  private closed = false;
  private readonly key: number;
  private readonly holder: string;
  private readonly now: () => number;
  private readonly checkMs: number;
  private readonly queryTimeoutMs: number;
  private readonly serverIdleMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly url: string,
    opts: PgLeadershipOptions | number = {},
  ) {
    const o = typeof opts === "number" ? { key: opts } : opts;
    this.key = o.key ?? LEADER_LOCK_KEY;
    this.holder = o.holder ?? `pid ${process.pid}`;
    this.now = o.now ?? Date.now;
    this.checkMs = o.checkMs ?? 1000;
    this.queryTimeoutMs = o.queryTimeoutMs ?? 2000;
    this.serverIdleMs = o.serverIdleMs ?? 10_000;
    this.retryMs = o.retryMs ?? 200;
  }

  onAcquired(fn: () => void): void {
    this.acquired.push(fn);
  }

  private lost(c: pg.Client): void {
    if (this.client !== c) return;
    this.held = false;
    this.pid = undefined;
    this.client = undefined;
    this.stopChecks();
    c.end().catch(() => undefined);
  }

  private stopChecks(): void {
    if (this.checker) clearInterval(this.checker);
    this.checker = undefined;
  }

  /** One lock check: the session answers in time and still sees this replica's term; else it is lost. */
  private check(): Promise<boolean> {
    const c = this.client;
    if (!c || !this.held) return Promise.resolve(false);
    this.checking ??= c
      .query<{ term: string | number }>(TERM_SQL)
      .then(
        (r) => {
          if (Number(r.rows[0]?.term) !== this.term) this.lost(c); // another replica started a term
        },
        () => this.lost(c),
      )
      .then(() => {
        this.checking = undefined;
        return this.held && this.client === c;
      });
    return this.checking;
  }

  /**
   * Whether this replica leads now (taking the lock if it is free). A standby also retries every
   * `retryMs` on its own and calls the onAcquired listeners when it gets the lock, so a takeover
   * does not wait for the next scheduling tick. Calls share one attempt at a time.
   */
  isLeader(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.attempt ??= this.lead().finally(() => (this.attempt = undefined));
    const r = this.attempt;
    void r.then((lead) => {
      if (lead || this.retry || this.closed) return;
      this.retry = setInterval(() => {
        if (this.held || this.attempt) return;
        void this.isLeader().then((now) => {
          if (now) for (const fn of this.acquired) fn();
        });
      }, this.retryMs);
      this.retry.unref();
    });
    return r;
  }

  private async lead(): Promise<boolean> {
    try {
      if (!this.client) {
        const c = new pg.Client({
          connectionString: this.url,
          keepAlive: true,
          keepAliveInitialDelayMillis: 1000,
          // A half-dead session (no FIN, no answer) fails its next query after this long.
          query_timeout: this.queryTimeoutMs,
          connectionTimeoutMillis: this.queryTimeoutMs * 2,
        });
        // A terminated or broken lock session: stop leading at once (the in-flight cycle checks holds()).
        c.on("error", () => this.lost(c));
        c.on("end", () => this.lost(c));
        await c.connect();
        this.client = c;
        const r = await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        await c.query(SESSION_SETTINGS(this.serverIdleMs));
        this.pid = r.rows[0]?.pid;
      }
      const c = this.client;
      if (this.held) return await this.check();
      const r = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [this.key]);
      if (r.rows[0]?.ok !== true) return false;
      // A new term: commits of any older leader that are not yet in fail from here on (the bump
      // waits for an older leader's commit in flight: it holds the term row FOR SHARE).
      const t = await c.query<{ term: string | number }>(BUMP_TERM_SQL, [this.holder, this.now()]);
      this.term = Number(t.rows[0]?.term);
      this.held = this.client === c;
      if (this.held) {
        this.stopChecks();
        this.checker = setInterval(() => void this.check(), this.checkMs);
        this.checker.unref();
      }
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
    this.closed = true;
    await this.attempt?.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    this.held = false;
    this.stopChecks();
    if (this.retry) clearInterval(this.retry);
    this.retry = undefined;
    await c?.end().catch(() => undefined);
  }
}
