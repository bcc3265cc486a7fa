import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkpointDirFor } from "./checkpoints.js";
import type { ApiClient } from "./client.js";
import { CheckpointCopier, incomingDirFor, type CopyOrder } from "./checkpoint-copy.js";

/** Most checkpoint folders named in one heartbeat (the control plane's bound). */
const MAX_REPORTED = 1000;

export interface CleanerOptions {
  stateDir: string;
  /** How long a folder the control plane calls removable is kept before it is removed, ms. */
  keepMs: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Bounded disk use for checkpoints: now and then the agent names the checkpoint folders it holds; the
 * control plane answers which are removable (the job ended, or this node's copy went to another node
 * that now holds the latest). A folder is removed once it has been removable for the keep period,
 * and never while a lease or a copy of its job is active here. Staging folders of copies no longer
 * ordered are removed after the same period.
 */
export class CheckpointCleaner {
  private readonly since = new Map<string, number>();
  private lastReport = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: CleanerOptions) {}

  /** How often the held folders are reported: half the keep period, between 1 s and 60 s. */
  private get reportEveryMs(): number {
    return Math.min(60_000, Math.max(1000, Math.floor(this.o.keepMs / 2)));
  }

  /** The job ids to name in this heartbeat, or undefined when it is not time yet. */
  held(now: number): string[] | undefined {
    if (now - this.lastReport < this.reportEveryMs) return undefined;
    this.lastReport = now;
    return list(join(this.o.stateDir, "checkpoints"))
      .map((n) => safeDecode(n))
      .filter((n): n is string => n !== null)
      .slice(0, MAX_REPORTED);
  }

  /**
   * Applies the control plane's answer: removes folders removable for the keep period and not in use;
   * also staging folders of transfers no longer worked on, once they are that old. Returns removed job ids.
   */
  apply(
    removable: string[] | undefined,
    now: number,
    inUse: Set<string>,
    transfersInUse: Set<string>,
  ): string[] {
    const removed: string[] = [];
    if (removable !== undefined) {
      const told = new Set(removable);
      for (const id of this.since.keys()) if (!told.has(id)) this.since.delete(id);
      for (const id of told) {
        const first = this.since.get(id) ?? now;
        this.since.set(id, first);
        if (now - first < this.o.keepMs || inUse.has(id)) continue;
        rmSync(checkpointDirFor(this.o.stateDir, id), { recursive: true, force: true });
        this.since.delete(id);
        removed.push(id);
        this.o.log?.("removed the checkpoint folder of a job that no longer needs it here", { jobId: id });
      }
    }
    for (const name of list(join(this.o.stateDir, "checkpoints-incoming"))) {
      const id = safeDecode(name);
      if (id === null || transfersInUse.has(id)) continue;
      const dir = incomingDirFor(this.o.stateDir, id);
      try {
        if (now - statSync(dir).mtimeMs >= this.o.keepMs) rmSync(dir, { recursive: true, force: true });
      } catch {
        // removed meanwhile
      }
    }
    return removed;
  }
}

/** The agent's checkpoint work after each heartbeat: copies to and from other nodes, then cleanup. */
export class CheckpointKeeper {
  private readonly copier: CheckpointCopier;
  private readonly cleaner: CheckpointCleaner;

  constructor(
    client: ApiClient,
    stateDir: string,
    keepMs: number,
    log?: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.copier = new CheckpointCopier({ client, stateDir, ...(log ? { log } : {}) });
    this.cleaner = new CheckpointCleaner({ stateDir, keepMs, ...(log ? { log } : {}) });
  }

  /** The folders to name in this heartbeat (now and then), or undefined. */
  held(now: number): string[] | undefined {
    return this.cleaner.held(now);
  }

  /** Starts ordered copies; removes removable folders, never one of a job in `active` or being copied. */
  apply(orders: CopyOrder[], removable: string[] | undefined, now: number, active: string[]): void {
    this.copier.order(orders);
    const inUse = new Set([...active, ...this.copier.busyJobs(), ...orders.map((o) => o.jobId)]);
    const transfers = new Set([...this.copier.busyTransfers(), ...orders.map((o) => o.id)]);
    this.cleaner.apply(removable, now, inUse, transfers);
  }

  /** Stops taking copy orders and waits for the copies in progress to notice. */
  close(): Promise<void> {
    return this.copier.close();
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeDecode(name: string): string | null {
  try {
    return decodeURIComponent(name);
  } catch {
    return null;
  }
}
