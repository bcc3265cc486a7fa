import { readFileSync } from "node:fs";

/** Fields of /proc/<pid>/stat after the command name: state and start time (Linux only). */
function procStat(pid: number): { state: string; startTicks: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ppid ..." — comm may hold spaces and parentheses, so split after the last ")".
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    const startTicks = Number(rest[19]); // field 22 of proc(5), counted from field 3 (state)
    return { state: rest[0] ?? "?", startTicks };
  } catch {
    return undefined;
  }
}

/** Start time of a process in clock ticks since boot, or undefined where /proc is absent. */
export function processStartTicks(pid: number): number | undefined {
  const st = procStat(pid);
  return st && Number.isFinite(st.startTicks) ? st.startTicks : undefined;
}

/** Whether pid runs and is the same process (same start time) and not a zombie. */
export function processAlive(pid: number, startTicks?: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to someone else, which a reused pid would; treat as not ours.
    void e;
    return false;
  }
  const st = procStat(pid);
  if (!st) return true; // no /proc: kill(pid, 0) is all we know
  if (st.state === "Z" || st.state === "X") return false;
  return startTicks === undefined || st.startTicks === startTicks;
}

/** Whether any process of the group still runs. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends a signal to a whole process group; ignores a group that is already gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 1) return; // never signal group 0 (our own) or init's
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group ended meanwhile
  }
}
