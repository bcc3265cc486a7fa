import { constants } from "node:os";
import type { WorkloadPhase } from "../executor.js";

/** What the Slurm executor reads from `scontrol -d show job <id>`. */
export interface SlurmJobInfo {
  jobId: string;
  name?: string;
  /** Base state, e.g. "RUNNING", "CANCELLED" (flags such as "+" or " by 0" removed). */
  state: string;
  reason?: string;
  exitCode: number | null;
  /** Signal number of ExitCode's second half, 0 when none. */
  signalNo: number;
  /** GPU indices from "GRES=gpu:h100:2(IDX:0-1)" (only shown while the job holds them). */
  gpuIndices?: number[];
  /** "2026-11-27T23:10:06" as Slurm prints it (local time of the controller), or undefined for Unknown/None. */
  startTime?: string;
  endTime?: string;
  comment?: string;
}

/** Parses Slurm's index lists such as "0-1,4,6-7" into [0,1,4,6,7]. */
export function parseIndexList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** Parses the text of `scontrol -d show job <id>` (one job). */
export function parseScontrolJob(text: string): SlurmJobInfo | undefined {
  const field = (key: string): string | undefined => {
    const m = new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(text);
    return m?.[1];
  };
  const jobId = field("JobId");
  const rawState = field("JobState");
  if (!jobId || !rawState) return undefined;
  const [ec, sig] = (field("ExitCode") ?? "").split(":");
  const idx: number[] = [];
  let sawIdx = false;
  for (const m of text.matchAll(/GRES=\S*?gpu[^\s(]*\(IDX:([0-9,-]+)\)/g)) {
    sawIdx = true;
    idx.push(...parseIndexList(m[1] ?? ""));
  }
  const time = (k: string): string | undefined => {
    const v = field(k);
    return v && /^\d{4}-\d\d-\d\dT/.test(v) ? v : undefined;
  };
  const commentMatch = /(?:^|\s)Comment=(.*)$/m.exec(text);
  return {
    jobId,
    name: field("JobName"),
    state: rawState.replace(/[+].*$/, ""),
    reason: field("Reason"),
    exitCode: ec !== undefined && ec !== "" && /^\d+$/.test(ec) ? Number(ec) : null,
    signalNo: sig !== undefined && /^\d+$/.test(sig) ? Number(sig) : 0,
    gpuIndices: sawIdx ? idx : undefined,
    startTime: time("StartTime"),
    endTime: time("EndTime"),
    comment: commentMatch?.[1]?.trim(),
  };
}

const STARTING = new Set([
  "PENDING",
  "CONFIGURING",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESV_DEL_HOLD",
  "RESIZING",
  "SPECIAL_EXIT",
]);
const RUNNING = new Set(["RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED"]);
const FAILED = new Set([
  "FAILED",
  "NODE_FAIL",
  "BOOT_FAIL",
  "OUT_OF_MEMORY",
  "TIMEOUT",
  "DEADLINE",
  "PREEMPTED",
]);

/**
 * Maps a Slurm job state to a workload phase. SUSPENDED/STOPPED still hold their GPUs, so they count
 * as running; PREEMPTED by Slurm itself (not by Zumbido) is a failure; REVOKED (federation) is a cancel.
 */
export function phaseOfSlurmState(state: string): WorkloadPhase {
  if (STARTING.has(state)) return "starting";
  if (RUNNING.has(state)) return "running";
  if (state === "COMPLETED") return "succeeded";
  if (state === "CANCELLED" || state === "REVOKED") return "cancelled";
  if (FAILED.has(state)) return "failed";
  return "starting"; // an unknown state: not ended as far as we can tell
}

/** Name of a signal number ("SIGKILL" for 9), or "signal N" when the platform has no name for it. */
export function signalName(n: number): string {
  for (const [name, no] of Object.entries(constants.signals)) if (no === n) return name;
  return `signal ${n}`;
}

/** Slurm's --time for a run-time limit in seconds ("minutes:seconds", rounded up, at least 1 s). */
export function slurmTimeLimit(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Quotes one word for /bin/sh: 'it'\''s'. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
