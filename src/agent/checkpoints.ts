import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Name of the notice file the agent writes into a job's checkpoint folder before a stop. */
export const NOTICE_FILE = ".zumbido-notice.json";
/** Files scanned at most when measuring a checkpoint folder (a bigger folder reports this many). */
const MAX_SCAN_FILES = 10_000;

/** What the agent reports of a job's checkpoint folder. */
export interface CheckpointState {
  /** Bytes of regular files, the notice file excluded. */
  bytes: number;
  files: number;
  /** Newest modification time among the files, epoch ms. */
  savedAt: number;
}

/** What a workload reads from the notice file when it must stop. */
export interface CheckpointNotice {
  /** Why it stops, e.g. "preempted: on-demand job ... needs 8 GPU(s)". */
  reason: string;
  /** Seconds it had when the notice was written. */
  graceS: number;
  /** When it will be killed, ISO 8601 UTC. */
  deadline: string;
  deadlineMs: number;
}

/** The per-job checkpoint folder under the agent's state (it outlives the job's leases). */
export function checkpointDirFor(stateDir: string, jobId: string): string {
  return join(stateDir, "checkpoints", encodeURIComponent(jobId));
}

/** Creates the job's checkpoint folder (kept if it exists) and removes a stale notice. */
export function prepareCheckpointDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, NOTICE_FILE), { force: true });
}

/** Writes the notice file atomically: the workload learns why it stops and its deadline. */
export function writeNotice(dir: string, reason: string, graceS: number, now: number): CheckpointNotice {
  const deadlineMs = now + graceS * 1000;
  const notice: CheckpointNotice = {
    reason,
    graceS,
    deadline: new Date(deadlineMs).toISOString(),
    deadlineMs,
  };
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${NOTICE_FILE}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(notice)}\n`);
  renameSync(tmp, join(dir, NOTICE_FILE));
  return notice;
}

/** Size, file count and newest save time of a checkpoint folder, or null when it holds no file. */
export function scanCheckpoint(dir: string): CheckpointState | null {
  let bytes = 0;
  let files = 0;
  let savedAt = 0;
  const walk = (d: string, top: boolean): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      if (files >= MAX_SCAN_FILES) return;
      if (top && (name === NOTICE_FILE || name === `${NOTICE_FILE}.tmp`)) continue;
      const p = join(d, name);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue; // removed while scanning
      }
      if (st.isDirectory()) walk(p, false);
      else if (st.isFile()) {
        files++;
        bytes += st.size;
        savedAt = Math.max(savedAt, Math.floor(st.mtimeMs));
      }
    }
  };
  walk(dir, true);
  return files === 0 ? null : { bytes, files, savedAt };
}
