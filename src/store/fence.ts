import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

/** The name of the scheduler's row in leader_terms. */
export const SCHEDULER_TERM = "scheduler";

/** The leader term a write was decided under; the write commits only while it is still current. */
export interface Fence {
  term: number;
}

/** A write decided by a leader whose term has been superseded (another replica took over). */
export class FencedError extends Error {
  constructor(
    readonly term: number,
    readonly currentTerm: number | undefined,
  ) {
    super(
      `leader term ${term} is superseded (current term ${currentTerm ?? "none"}): another replica runs the scheduler`,
    );
    this.name = "FencedError";
  }
}

/**
 * How long a fenced transaction on PostgreSQL may sit idle (its client silent) before the server ends
 * it: a leader cut off mid-commit holds the term row FOR SHARE, and the next leader's term bump waits
 * for it; this bounds that wait (docs/fleet.md, "Losing the lock").
 */
export const FENCED_TX_IDLE_MS = 5000;

/**
 * Checks the fence inside a transaction. On PostgreSQL the term row is read FOR SHARE, so a new
 * leader's term bump waits for this transaction, and this transaction sees a bump committed before it.
 */
export async function checkFence(
  trx: Kysely<Database>,
  dialect: "sqlite" | "postgres",
  fence: Fence | undefined,
): Promise<void> {
  if (!fence) return;
  const q =
    dialect === "postgres"
      ? sql<{
          term: number | string;
        }>`select term, set_config('idle_in_transaction_session_timeout', ${String(
          FENCED_TX_IDLE_MS,
        )}, true) as idle from leader_terms where name = ${SCHEDULER_TERM} for share`
      : sql<{ term: number | string }>`select term from leader_terms where name = ${SCHEDULER_TERM}`;
  const row = (await q.execute(trx)).rows[0];
  const current = row === undefined ? undefined : Number(row.term);
  if (current !== fence.term) throw new FencedError(fence.term, current);
}

/**
 * Starts a new term (the caller has just taken the leader lock); parameters: holder, now (ms).
 * Plain SQL because it runs on the lock's own PostgreSQL session; returns the new term.
 */
export const BUMP_TERM_SQL = `insert into leader_terms (name, term, holder, acquired_at) values ('${SCHEDULER_TERM}', 1, $1, $2)
  on conflict (name) do update set term = leader_terms.term + 1, holder = excluded.holder, acquired_at = excluded.acquired_at
  returning term`;
