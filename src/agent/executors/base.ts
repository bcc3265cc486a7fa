import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Executor, LogChunk, WorkloadPhase, WorkloadSpec, WorkloadStatus } from "../executor.js";
import type { ExecutorKind, NodeRuntime } from "../../domain/index.js";
import type { LogReader } from "./k8s-file-log.js";
import { LogTail } from "./log-tail.js";
import type { LogTailState } from "./log-tail.js";

/** How a workload ended, as an executor records it. */
export interface EndedRecord {
  phase: WorkloadPhase;
  exitCode: number | null;
  signal: string | null;
  reason: string;
  endedAt: number;
}

/** The part of a lease record every executor keeps. */
export interface LeaseRecordBase {
  leaseId: string;
  jobId: string;
  /** When the workload began to run (undefined while it is only queued, pulled or submitted). */
  startedAt?: number;
  gpuIndices?: number[];
  stopRequested?: boolean;
  ended?: EndedRecord;
  /** How much of the log files was shipped. */
  logs?: LogTailState;
}

/** The status an executor reports for a record (phase kept separately, as engines know it). */
export function statusOf(
  rec: LeaseRecordBase,
  phase: WorkloadPhase,
  externalId: string | undefined,
  startedAt = rec.startedAt,
): WorkloadStatus {
  return {
    leaseId: rec.leaseId,
    phase,
    externalId,
    gpuIndices: rec.gpuIndices ? [...rec.gpuIndices] : undefined,
    exitCode: rec.ended?.exitCode ?? null,
    signal: rec.ended?.signal ?? null,
    reason: rec.ended?.reason,
    startedAt,
    endedAt: rec.ended?.endedAt,
  };
}

/** Makes a folder only its owner can enter (0700), creating parents as needed. */
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/** Writes JSON atomically (temp file + rename), readable by the owner only (0600). */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  renameSync(tmp, file);
}

/** One lease as a file-backed executor holds it in memory. */
export interface FileEntry<R extends LeaseRecordBase> {
  rec: R;
  /** The lease's own folder under the executor's state dir. */
  dir: string;
  logs: LogReader;
  phase: WorkloadPhase;
  timers: NodeJS.Timeout[];
  /** Resolves once the workload ended (end() was called). */
  exited: Promise<void>;
  markExited: () => void;
}

/**
 * What local, Slurm and podman share: one folder per lease holding state.json (0600) and the
 * workload's log files, an in-memory map of entries, end/save/status/drainLogs/forget/close.
 * A subclass implements start, notify, stop and recover, and says how its logs are read.
 */
export abstract class FileBackedExecutor<R extends LeaseRecordBase> implements Executor {
  abstract readonly kind: ExecutorKind;
  abstract readonly runtime: NodeRuntime;
  protected readonly entries = new Map<string, FileEntry<R>>();
  protected closed = false;

  constructor(
    /** Folder holding one sub-folder per lease (made 0700). */
    protected readonly leasesDir: string,
    /** Bytes of log output shipped per lease before one truncation notice. */
    protected readonly logCapBytes: number,
    /** Clock in epoch ms (injected). */
    protected readonly now: () => number,
  ) {
    privateDir(leasesDir);
  }

  abstract start(w: WorkloadSpec): Promise<WorkloadStatus>;
  abstract notify(leaseId: string): Promise<void>;
  abstract stop(leaseId: string, graceS: number): Promise<WorkloadStatus | undefined>;
  abstract recover(): Promise<WorkloadStatus[]>;
  /** The engine's id of the workload (pid, Slurm job id, container name). */
  protected abstract externalIdOf(rec: R): string | undefined;

  /** The log reader of a lease (default: stdout.log and stderr.log in its folder). */
  protected makeLogTail(dir: string, rec: R): LogReader {
    return new LogTail(dir, this.logCapBytes, rec.leaseId, rec.logs);
  }

  /** Refreshes the view of a live workload from the engine before status() answers (default: nothing). */
  protected refresh(_e: FileEntry<R>): Promise<void> {
    return Promise.resolve();
  }

  /** Current status of one workload (undefined if this executor never heard of it). */
  async status(leaseId: string): Promise<WorkloadStatus | undefined> {
    const e = this.entries.get(leaseId);
    if (!e) return undefined;
    if (!e.rec.ended) await this.refresh(e);
    return this.toStatus(e);
  }

  /** Log output written since the last call, capped per lease, then one truncation notice. */
  drainLogs(leaseId: string): Promise<LogChunk[]> {
    const e = this.entries.get(leaseId);
    if (!e) return Promise.resolve([]);
    const chunks = e.logs.drain();
    if (chunks.length > 0) {
      e.rec.logs = e.logs.state();
      this.save(e);
    }
    return Promise.resolve(chunks);
  }

  /** Removes the folder of an ended workload once the agent shipped its end and logs. */
  forget(leaseId: string): Promise<void> {
    const e = this.entries.get(leaseId);
    if (e?.rec.ended) {
      for (const t of e.timers) clearTimeout(t);
      this.entries.delete(leaseId);
      rmSync(e.dir, { recursive: true, force: true });
    }
    return Promise.resolve();
  }

  /** Stops timers and forgets the in-memory view; workloads keep running and recover() finds them. */
  close(): Promise<void> {
    this.closed = true;
    for (const e of this.entries.values()) for (const t of e.timers) clearTimeout(t);
    this.entries.clear();
    return Promise.resolve();
  }

  /** The folder of one lease (made 0700). */
  protected leaseDir(leaseId: string): string {
    return privateDir(join(this.leasesDir, encodeURIComponent(leaseId)));
  }

  /** A new in-memory entry for a record (phase "starting", or its end when it has ended). */
  protected newEntry(rec: R, dir: string): FileEntry<R> {
    let markExited = (): void => {};
    const exited = new Promise<void>((r) => (markExited = r));
    const e: FileEntry<R> = {
      rec,
      dir,
      phase: rec.ended?.phase ?? "starting",
      timers: [],
      exited,
      markExited,
      logs: this.makeLogTail(dir, rec),
    };
    if (rec.ended) markExited();
    return e;
  }

  /** Records of the leases kept in leasesDir (unreadable or hand-edited files are skipped). */
  protected storedRecords(): { rec: R; dir: string }[] {
    const out: { rec: R; dir: string }[] = [];
    for (const name of readdirSync(this.leasesDir)) {
      const dir = join(this.leasesDir, name);
      try {
        out.push({ rec: JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as R, dir });
      } catch {
        continue; // no state.json (yet) or not JSON: not ours to adopt
      }
    }
    return out;
  }

  /** Records the end of a workload once; the reason is in words. */
  protected end(
    e: FileEntry<R>,
    phase: WorkloadPhase,
    exitCode: number | null,
    signal: string | null,
    reason: string,
    endedAt?: number,
  ): void {
    if (e.rec.ended) return;
    e.rec.ended = { phase, exitCode, signal, reason, endedAt: endedAt ?? this.now() };
    e.phase = phase;
    for (const t of e.timers) clearTimeout(t);
    this.save(e);
    e.markExited();
  }

  /** Persists the record (atomic, 0600). */
  protected save(e: FileEntry<R>): void {
    writeJsonAtomic(join(e.dir, "state.json"), e.rec);
  }

  /** The status of an entry. */
  protected toStatus(e: FileEntry<R>): WorkloadStatus {
    return statusOf(e.rec, e.phase, this.externalIdOf(e.rec));
  }
}

/** Resolves true once p settled within ms, false otherwise. */
export function waitFor(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Ended phase of a workload that was stopped, exited 0, or failed. */
export function endPhase(stopRequested: boolean, exitCode: number | null): WorkloadPhase {
  return stopRequested ? "cancelled" : exitCode === 0 ? "succeeded" : "failed";
}
