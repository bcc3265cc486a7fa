import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import type { UsageRecord } from "../domain/index.js";

/** A lease as the agent tracks it for metering. */
export interface TrackedLease {
  leaseId: string;
  jobId: string;
  gpuIndices: number[];
  gpuModel: string;
  /** Per-GPU watts the control plane sent with the assignment (null from a server that sends none). */
  gpuPowerW: number | null;
  startedAt: number | null;
  /** Usage was recorded up to this time (epoch ms). */
  meteredUntil: number | null;
  endedAt: number | null;
}

/**
 * The agent's durable state: its credential, the leases it meters, and an outbox of usage records
 * and log chunks not yet acknowledged by the control plane. One SQLite file; every write is a
 * transaction, so a crash never loses an acknowledged-to-self record nor meters an interval twice.
 */
export class AgentStore {
  private readonly db: BetterSqlite3.Database;

  constructor(stateDir: string) {
    // The node key lives here: owner-only folder and file (SQLite gives -wal/-shm the file's mode).
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    chmodSync(stateDir, 0o700);
    const file = join(stateDir, "agent.db");
    closeSync(openSync(file, "a", 0o600));
    chmodSync(file, 0o600);
    this.db = new BetterSqlite3(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS leases (lease_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, gpu_indices TEXT NOT NULL, gpu_model TEXT NOT NULL,
        started_at INTEGER, metered_until INTEGER, ended_at INTEGER);
      CREATE TABLE IF NOT EXISTS usage_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, lease_id TEXT NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS log_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, lease_id TEXT NOT NULL, stream TEXT NOT NULL, text TEXT NOT NULL);
    `);
    // State written by an agent that predates per-GPU power in assignments gains the column (NULL).
    const cols = this.db.prepare("PRAGMA table_info(leases)").all() as { name: string }[];
    if (!cols.some((c) => c.name === "gpu_power_w"))
      this.db.exec("ALTER TABLE leases ADD COLUMN gpu_power_w REAL");
  }

  getMeta(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)
      ?.value;
  }
  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      )
      .run(key, value);
  }

  track(l: Omit<TrackedLease, "meteredUntil" | "endedAt" | "startedAt">): void {
    this.db
      .prepare(
        "INSERT OR IGNORE INTO leases (lease_id, job_id, gpu_indices, gpu_model, gpu_power_w, started_at, metered_until, ended_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)",
      )
      .run(l.leaseId, l.jobId, JSON.stringify(l.gpuIndices), l.gpuModel, l.gpuPowerW);
  }
  leases(): TrackedLease[] {
    const rows = this.db.prepare("SELECT * FROM leases ORDER BY lease_id").all() as {
      lease_id: string;
      job_id: string;
      gpu_indices: string;
      gpu_model: string;
      gpu_power_w: number | null;
      started_at: number | null;
      metered_until: number | null;
      ended_at: number | null;
    }[];
    return rows.map((r) => ({
      leaseId: r.lease_id,
      jobId: r.job_id,
      gpuIndices: JSON.parse(r.gpu_indices) as number[],
      gpuModel: r.gpu_model,
      gpuPowerW: r.gpu_power_w,
      startedAt: r.started_at,
      meteredUntil: r.metered_until,
      endedAt: r.ended_at,
    }));
  }
  setStarted(leaseId: string, startedAt: number, gpuIndices?: number[]): void {
    this.db
      .prepare(
        "UPDATE leases SET started_at = ?, metered_until = COALESCE(metered_until, ?) WHERE lease_id = ? AND started_at IS NULL",
      )
      .run(startedAt, startedAt, leaseId);
    if (gpuIndices)
      this.db
        .prepare("UPDATE leases SET gpu_indices = ? WHERE lease_id = ?")
        .run(JSON.stringify(gpuIndices), leaseId);
  }
  setEnded(leaseId: string, endedAt: number): void {
    this.db
      .prepare("UPDATE leases SET ended_at = ? WHERE lease_id = ? AND ended_at IS NULL")
      .run(endedAt, leaseId);
  }
  untrack(leaseId: string): void {
    this.db.prepare("DELETE FROM leases WHERE lease_id = ?").run(leaseId);
  }

  /**
   * Appends a usage record for [meteredUntil, toMs) and advances meteredUntil, atomically.
   * The record's seq is the outbox's own increasing id: unique per node, forever.
   */
  appendUsage(
    nodeId: string,
    leaseId: string,
    toMs: number,
    measure: (
      fromMs: number,
      toMs: number,
    ) => Omit<UsageRecord, "nodeId" | "seq" | "leaseId" | "fromMs" | "toMs">,
  ): UsageRecord | undefined {
    const tx = this.db.transaction((): UsageRecord | undefined => {
      const row = this.db.prepare("SELECT metered_until FROM leases WHERE lease_id = ?").get(leaseId) as
        { metered_until: number | null } | undefined;
      const from = row?.metered_until;
      if (from == null || toMs <= from) return undefined;
      const m = measure(from, toMs);
      const info = this.db.prepare("INSERT INTO usage_outbox (lease_id, body) VALUES (?, '')").run(leaseId);
      const seq = Number(info.lastInsertRowid);
      const rec: UsageRecord = { nodeId, seq, leaseId, fromMs: from, toMs, ...m };
      this.db.prepare("UPDATE usage_outbox SET body = ? WHERE seq = ?").run(JSON.stringify(rec), seq);
      this.db.prepare("UPDATE leases SET metered_until = ? WHERE lease_id = ?").run(toMs, leaseId);
      return rec;
    });
    return tx();
  }
  pendingUsage(limit: number): UsageRecord[] {
    return (
      this.db.prepare("SELECT body FROM usage_outbox ORDER BY seq LIMIT ?").all(limit) as { body: string }[]
    ).map((r) => JSON.parse(r.body) as UsageRecord);
  }
  ackUsage(seqs: number[]): void {
    const del = this.db.prepare("DELETE FROM usage_outbox WHERE seq = ?");
    this.db.transaction(() => {
      for (const s of seqs) del.run(s);
    })();
  }
  pendingUsageFor(leaseId: string): number {
    return (
      this.db.prepare("SELECT COUNT(*) AS n FROM usage_outbox WHERE lease_id = ?").get(leaseId) as {
        n: number;
      }
    ).n;
  }

  appendLogs(chunks: { leaseId: string; stream: string; text: string }[]): void {
    const ins = this.db.prepare("INSERT INTO log_outbox (lease_id, stream, text) VALUES (?, ?, ?)");
    this.db.transaction(() => {
      for (const c of chunks) ins.run(c.leaseId, c.stream, c.text);
    })();
  }
  pendingLogs(limit: number): { id: number; leaseId: string; stream: "stdout" | "stderr"; text: string }[] {
    return (
      this.db.prepare("SELECT id, lease_id, stream, text FROM log_outbox ORDER BY id LIMIT ?").all(limit) as {
        id: number;
        lease_id: string;
        stream: "stdout" | "stderr";
        text: string;
      }[]
    ).map((r) => ({
      id: r.id,
      leaseId: r.lease_id,
      stream: r.stream,
      text: r.text,
    }));
  }
  ackLogs(maxId: number): void {
    this.db.prepare("DELETE FROM log_outbox WHERE id <= ?").run(maxId);
  }
  dropLogsFor(leaseId: string): void {
    this.db.prepare("DELETE FROM log_outbox WHERE lease_id = ?").run(leaseId);
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Installs a rotated node key in an enrolled agent's state folder (`zumbido nodes install-key`);
 * a running agent switches to it when the control plane refuses its old key. Returns the node id.
 */
export function installNodeKey(stateDir: string, key: string): string {
  if (!/^zk_node_\S{20,}$/.test(key))
    throw new Error("that is not a node key: node keys start with zk_node_ (from zumbido nodes rotate-key)");
  if (!existsSync(join(stateDir, "agent.db")))
    throw new Error(`no agent state in ${stateDir}: pass the agent's --state-dir (default ./.zumbido/agent)`);
  const store = new AgentStore(stateDir);
  try {
    const nodeId = store.getMeta("nodeId");
    if (!nodeId)
      throw new Error(`the agent in ${stateDir} is not enrolled yet; enrol it with --token instead`);
    store.setMeta("nodeKey", key);
    return nodeId;
  } finally {
    store.close();
  }
}
