import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import { VIEW_TABLES } from "./migrations/0019-view-changes.js";

type AnyNode = { kind?: string } & Record<string, unknown>;

/** The first table a write names (INSERT INTO, UPDATE, DELETE FROM). */
function tableOf(node: unknown, depth = 0): string | undefined {
  if (!node || typeof node !== "object" || depth > 4) return undefined;
  const n = node as AnyNode;
  if (n.kind === "TableNode") {
    const id = (n.table as AnyNode | undefined)?.identifier as AnyNode | undefined;
    return typeof id?.name === "string" ? id.name : undefined;
  }
  for (const k of ["into", "table", "from", "froms", "node"]) {
    const v = n[k];
    for (const c of Array.isArray(v) ? v : [v]) {
      const t = tableOf(c, depth + 1);
      if (t) return t;
    }
  }
  return undefined;
}

/** Whether an UPDATE sets liveness only (not a change the cluster view follows). */
function livenessOnly(n: AnyNode): boolean {
  const updates = n.updates as AnyNode[] | undefined;
  return (
    !!updates &&
    updates.length > 0 &&
    updates.every((u) => {
      const col = ((u.column as AnyNode | undefined)?.column as AnyNode | undefined)?.name;
      return col === "last_heartbeat_at";
    })
  );
}

type FollowedWrite = { table: string; changesRows: boolean };

/**
 * The writes of one statement to tables the view follows: the statement's own, and those of its
 * data-modifying common table expressions (`WITH j AS (INSERT INTO jobs ...) INSERT INTO job_events`).
 */
function followedWrites(n: AnyNode): FollowedWrite[] {
  const out: FollowedWrite[] = [];
  if (n.kind === "InsertQueryNode" || n.kind === "UpdateQueryNode" || n.kind === "DeleteQueryNode") {
    const t = tableOf(n);
    if (t && t in VIEW_TABLES && !(n.kind === "UpdateQueryNode" && livenessOnly(n)))
      out.push({
        table: t,
        changesRows: n.kind !== "InsertQueryNode" || n.onConflict != null || n.replace === true,
      });
  }
  const ctes = ((n.with as AnyNode | undefined)?.expressions ?? []) as AnyNode[];
  for (const c of ctes) out.push(...followedWrites((c.expression ?? {}) as AnyNode));
  return out;
}

/** How many recent writes' finishing times a WriteEpoch remembers. */
const RING = 4096;

/**
 * Counts this process's writes to the tables the cluster view follows (a Kysely plugin; raw SQL
 * writes are not seen). A reader that has synced the view at epoch E knows it has seen every such
 * write of this process that finished before E was read; heartbeats sync first only when it moved.
 */
export class WriteEpoch implements KyselyPlugin {
  private epoch = 0;
  private readonly pending = new WeakMap<object, FollowedWrite[]>();
  private readonly changedByTable = new Map<string, number>();
  private readonly writtenByTable = new Map<string, number>();
  /** When each of the last RING writes finished (this.now(), by epoch modulo RING). */
  private readonly finishedAt = new Float64Array(RING);

  /** Writes to followed tables finished so far in this process. */
  get value(): number {
    return this.epoch;
  }

  /** The monotonic time source of ageOf, ms (tests replace it). */
  now: () => number = () => performance.now();

  /**
   * How long ago write number `epoch` finished, ms: 0 for one not done yet, Infinity for one too far
   * back to be remembered (more than RING writes ago), so a reader treats it as old.
   */
  ageOf(epoch: number): number {
    if (epoch > this.epoch) return 0;
    if (this.epoch - epoch >= RING) return Number.POSITIVE_INFINITY;
    return this.now() - this.finishedAt[epoch % RING]!;
  }

  /** Writes to one followed table finished so far (inserts too). */
  writesOf(table: string): number {
    return this.writtenByTable.get(table) ?? 0;
  }

  /**
   * Writes to one followed table finished so far that may have changed a row already there (UPDATE,
   * DELETE, an INSERT with ON CONFLICT); a plain INSERT only adds rows, so what a reader kept of the
   * other rows stays true (a cache of node keys survives the next node's enrolment).
   */
  changesOf(table: string): number {
    return this.changedByTable.get(table) ?? 0;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const writes = followedWrites(args.node as unknown as AnyNode);
    if (writes.length > 0) this.pending.set(args.queryId, writes);
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const writes = this.pending.get(args.queryId);
    if (writes !== undefined) {
      this.pending.delete(args.queryId);
      // A write that changed no row changed nothing the view holds (the cycle's idle steps do such writes).
      if (args.result.numAffectedRows === 0n) return Promise.resolve(args.result);
      this.epoch++;
      this.finishedAt[this.epoch % RING] = this.now();
      for (const w of writes) {
        this.writtenByTable.set(w.table, (this.writtenByTable.get(w.table) ?? 0) + 1);
        if (w.changesRows) this.changedByTable.set(w.table, (this.changedByTable.get(w.table) ?? 0) + 1);
      }
    }
    return Promise.resolve(args.result);
  }
}
