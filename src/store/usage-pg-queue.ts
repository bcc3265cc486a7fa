/**
 * Per-node queues for the checked usage ingest on PostgreSQL (the steps are in usage-pg.ts).
 *
 * A node's batches must be bounded one after the other, so a node has at most one deciding
 * transaction (holding the node's advisory lock) in this process; batches that arrive meanwhile
 * wait in the node's queue without holding a pooled connection. A batch alone (one in flight, as
 * an agent sends) is decided, written and committed in that one transaction. When batches of a
 * node are in flight together, the transaction becomes a session: it decides each batch as it
 * comes (against the stored state and what the session decided before it), writes each on its
 * own connection in its own transaction, so that the inserts of one node run in parallel as they
 * did before usage bounds, commits them in arrival order (a batch commits only after the one
 * before it did; if one fails, those after it are rolled back and tried again alone, so one
 * batch's error is only that batch's), and releases the lock only once they are all done: another
 * replica deciding the node's next batch sees them all. Every batch is answered after its own
 * commit, exactly as if the batches had been ingested one by one in arrival order.
 */
import pg from "pg";
import type { UsageRecord } from "../domain/index.js";
import type { LeaseUsageBounds } from "../ledger/index.js";
import type { IngestResult } from "./usage-ingest.js";
import {
  View,
  commitAfter,
  decide,
  lockNode,
  rollback,
  write,
  type Pending,
  type Planned,
} from "./usage-pg.js";

/** Batches written at the same time, each on its own connection (the size of the writers' pool). */
export const PARALLEL_WRITES = 4;
/** A session decides at most this many records before it lets other replicas have the node's lock. */
export const SESSION_MAX_RECORDS = 200_000;

/** The checked ingest of one PostgreSQL pool (see the file comment). */
export class PgUsageIngest {
  /** Nodes with a deciding transaction, and their batches waiting for it. */
  private readonly waiting = new Map<string, Pending[]>();
  /** Connections the session writes batches on (opened on first use, closed by close()). */
  private writers: pg.Pool | undefined;
  private closed = false;

  constructor(private readonly pool: pg.Pool) {}

  /** Ingests one node's batch (see UsageRepo.ingest); resolves after the commit that stored it. */
  ingest(
    nodeId: string,
    operatorId: string,
    records: UsageRecord[],
    at: number,
    bounds: ReadonlyMap<string, LeaseUsageBounds>,
  ): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, reject) => {
      const item: Pending = { records, at, bounds, operatorId, resolve, reject };
      const queue = this.waiting.get(nodeId);
      if (queue) queue.push(item);
      else {
        this.waiting.set(nodeId, []);
        void this.drain(nodeId, [item]);
      }
    });
  }

  /** Closes the writers' connections (the store closes the main pool). */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.writers;
    this.writers = undefined;
    await w?.end();
  }

  /** Sessions for the node until no batch waits; batches a session could not store go alone. */
  private async drain(nodeId: string, first: Pending[]): Promise<void> {
    let next = first;
    while (next.length > 0) {
      let again: Pending[];
      try {
        again = await this.session(nodeId, next);
      } catch (e) {
        // Nothing was written: with one batch that is its answer, with more each goes alone.
        if (next.length === 1) next[0]!.reject(e);
        again = next.length === 1 ? [] : next;
      }
      for (const g of again) await this.alone(nodeId, g);
      next = this.take(nodeId);
    }
    this.waiting.delete(nodeId);
  }

  /** The batches waiting for the node, all of them. */
  private take(nodeId: string): Pending[] {
    const q = this.waiting.get(nodeId)!;
    return q.splice(0, q.length);
  }

  /** One batch in one transaction; answers it either way. */
  private async alone(nodeId: string, g: Pending): Promise<void> {
    try {
      const left = await this.session(nodeId, [g], true);
      if (left.length > 0) throw new Error("the usage batch was not stored: its transaction did not commit");
    } catch (e) {
      g.reject(e);
    }
  }

  /**
   * One deciding transaction (see the file comment). Answers the batches it stores; returns those
   * it decided but could not store; throws when it stored nothing. `single`: only `first`, in the
   * deciding transaction.
   */
  private async session(nodeId: string, first: Pending[], single = false): Promise<Pending[]> {
    const c = await this.pool.connect();
    const view = new View();
    let planned: Planned[];
    try {
      await lockNode(c, nodeId);
      planned = await decide(c, nodeId, view, first);
      if (single || (first.length === 1 && this.waiting.get(nodeId)!.length === 0)) {
        await write(c, planned[0]!);
        await c.query("COMMIT");
        c.release();
        first[0]!.resolve(planned[0]!.plan.result);
        return [];
      }
    } catch (e) {
      await rollback(c);
      throw e;
    }
    return this.pipeline(c, nodeId, view, first, planned);
  }

  /** The session's batches on the writers, decided as they come; ends the deciding transaction. */
  private async pipeline(
    c: pg.PoolClient,
    nodeId: string,
    view: View,
    firstGroup: Pending[],
    firstPlanned: Planned[],
  ): Promise<Pending[]> {
    let prev: Promise<boolean> = Promise.resolve(true);
    let failed = false;
    const notStored = new Set<Pending>();
    const decided = new Set<Pending>();
    let records = 0;
    let group = firstGroup;
    let planned = firstPlanned;
    try {
      for (;;) {
        for (let i = 0; i < group.length; i++) {
          const g = group[i]!;
          const p = planned[i]!;
          decided.add(g);
          notStored.add(g);
          records += g.records.length;
          // Connections are taken in arrival order: a batch only waits for one that holds a
          // connection, so sessions of different nodes cannot wait for each other in a circle.
          const w = await this.writerPool().connect();
          prev = commitAfter(w, p, prev).then((ok) => {
            if (ok) {
              notStored.delete(g);
              g.resolve(p.plan.result);
            } else failed = true;
            return ok;
          });
        }
        group = this.take(nodeId);
        if (group.length === 0) {
          await prev;
          group = this.take(nodeId);
        }
        if (group.length === 0 || failed || records >= SESSION_MAX_RECORDS) break;
        planned = await decide(c, nodeId, view, group);
      }
    } catch {
      // A read or a connection failed: what was decided and not stored is tried again alone.
    }
    // Batches taken but not decided go back to the head of the queue, in order.
    const undecided = group.filter((g) => !decided.has(g));
    if (undecided.length > 0) this.waiting.get(nodeId)!.unshift(...undecided);
    await prev;
    // Only reads were done here: committing just releases the lock.
    await c.query("COMMIT").then(
      () => c.release(),
      (e: Error) => c.release(e),
    );
    return [...notStored];
  }

  private writerPool(): pg.Pool {
    if (this.closed) throw new Error("the store is closed");
    this.writers ??= new pg.Pool({ ...this.pool.options, max: PARALLEL_WRITES });
    return this.writers;
  }
}
