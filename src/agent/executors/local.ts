import { spawn as nodeSpawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { NOTICE_FILE } from "../checkpoints.js";
import type { WorkloadPhase, WorkloadSpec, WorkloadStatus } from "../executor.js";
import { endPhase, FileBackedExecutor, waitFor } from "./base.js";
import type { FileEntry, LeaseRecordBase } from "./base.js";
import { groupAlive, killGroup, processAlive, processStartTicks } from "./proc.js";

/** Options of the local executor. */
export interface LocalExecutorOptions {
  /** Folder for one sub-folder per lease (state.json, stdout.log, stderr.log); survives agent restarts. */
  stateDir: string;
  /** Bytes of log output shipped per lease before a single truncation notice (default 1 MiB). */
  logCapBytes?: number;
  /** Clock in epoch ms (injected; the agent passes its clock). */
  now: () => number;
  /** Environment every workload starts from (default: PATH, HOME, LANG, LC_ALL, TZ, TMPDIR of the agent). */
  baseEnv?: Record<string, string>;
  /** How often a recovered workload (not our child) is checked for exit, in ms (default 500). */
  pollIntervalMs?: number;
  /**
   * Tenant jobs run as host processes with the agent's user, files and network: no isolation.
   * Only for development and tests; without it every start fails and says why.
   */
  unsafeHostProcesses?: boolean;
  /** Replaces child_process.spawn (tests of odd failures only). */
  spawn?: (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess;
}

/** What the local executor writes to state.json for each workload it started. */
export interface LocalWorkloadRecord extends LeaseRecordBase {
  pid: number;
  pgid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22), to detect pid reuse. */
  procStartTicks?: number;
  startedAt: number;
  gpuIndices: number[];
  maxRuntimeS?: number;
  /** The max run time passed and the agent stopped it. */
  deadlineHit?: boolean;
  /** The workload outlived the stop's grace period and got SIGKILL (seconds of grace it had). */
  killedAfterGraceS?: number;
}

const DEFAULT_CAP = 1024 * 1024;
const KILL_WAIT_MS = 30_000;
const SAFE_ENV_KEYS = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/** The minimal environment a workload inherits from the agent: PATH, HOME, locale, TZ, TMPDIR. */
export function minimalEnv(from: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  };
  for (const k of SAFE_ENV_KEYS) {
    const v = from[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** The environment of a workload: base, then the tenant's, then the GPU pinning that the tenant cannot override. */
export function workloadEnv(base: Record<string, string>, w: WorkloadSpec): Record<string, string> {
  const gpus = w.gpuIndices.join(",");
  return {
    ...base,
    ...(w.spec.env ?? {}),
    // nvidia-smi numbers GPUs in PCI bus order; CUDA's default order is "fastest first". Align them.
    CUDA_DEVICE_ORDER: "PCI_BUS_ID",
    CUDA_VISIBLE_DEVICES: gpus,
    NVIDIA_VISIBLE_DEVICES: gpus === "" ? "void" : gpus,
    ZUMBIDO_LEASE_ID: w.leaseId,
    ZUMBIDO_JOB_ID: w.jobId,
    ...(w.gang ? { ...w.gang.env, ZUMBIDO_HOSTFILE: w.gang.hostfile } : {}),
    ZUMBIDO_GPU_MODEL: w.gpuModel,
    // The job's checkpoint folder outlives this lease (preemption, requeue); the notice file says when to stop.
    ...(w.checkpointDir !== undefined
      ? {
          ZUMBIDO_CHECKPOINT_DIR: w.checkpointDir,
          ZUMBIDO_CHECKPOINT_NOTICE: join(w.checkpointDir, NOTICE_FILE),
        }
      : {}),
  };
}

type Entry = FileEntry<LocalWorkloadRecord>;

/** Why the local executor refuses tenant jobs unless started with unsafeHostProcesses. */
export const HOST_PROCESSES_REFUSED =
  "this node runs workloads as host processes, which are not isolated (they run as the agent's user and can read its keys and other tenants' files); the operator must use --executor podman, or start the agent with --unsafe-host-processes for development only";

/**
 * Runs each lease's workload as a detached child process (its own process group) pinned to its GPUs.
 * No isolation: development only (see unsafeHostProcesses). The workload survives an agent restart;
 * `recover()` adopts it again from stateDir. Checkpoint notice = SIGTERM to the whole group.
 */
export class LocalExecutor extends FileBackedExecutor<LocalWorkloadRecord> {
  readonly kind = "local" as const;
  readonly runtime = { executor: "local", images: false, isolated: false } as const;
  private readonly baseEnv: Record<string, string>;
  private readonly pollMs: number;
  private readonly spawnFn: (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess;

  constructor(private readonly opts: LocalExecutorOptions) {
    super(join(opts.stateDir, "leases"), opts.logCapBytes ?? DEFAULT_CAP, opts.now);
    this.baseEnv = opts.baseEnv ?? minimalEnv(process.env);
    this.pollMs = opts.pollIntervalMs ?? 500;
    this.spawnFn = opts.spawn ?? nodeSpawn;
  }

  /** Starts the workload; resolves once the process exists (or with phase "failed" if it could not start). */
  async start(w: WorkloadSpec): Promise<WorkloadStatus> {
    const existing = this.entries.get(w.leaseId);
    if (existing) return this.toStatus(existing);
    const dir = this.leaseDir(w.leaseId);
    const startedAt = this.now();
    const rec: LocalWorkloadRecord = {
      leaseId: w.leaseId,
      jobId: w.jobId,
      pid: 0,
      pgid: 0,
      startedAt,
      gpuIndices: [...w.gpuIndices],
      maxRuntimeS: w.maxRuntimeS,
    };
    const entry = this.newEntry(rec, dir);
    this.entries.set(w.leaseId, entry);
    if (this.opts.unsafeHostProcesses !== true) {
      this.end(entry, "failed", null, null, HOST_PROCESSES_REFUSED);
      return this.toStatus(entry);
    }

    const argv = w.spec.shell ? ["/bin/sh", "-c", w.spec.command.join(" ")] : w.spec.command;
    const [cmd, ...args] = argv;
    if (!cmd) {
      this.end(entry, "failed", null, null, "command is empty: give spec.command as [program, ...args]");
      return this.toStatus(entry);
    }
    const workDir = join(dir, "work");
    mkdirSync(workDir, { recursive: true });
    const out = openSync(join(dir, "stdout.log"), "a", 0o600);
    const err = openSync(join(dir, "stderr.log"), "a", 0o600);
    let child: ChildProcess;
    try {
      child = this.spawnFn(cmd, args, {
        detached: true,
        stdio: ["ignore", out, err],
        env: workloadEnv(this.baseEnv, w),
        cwd: workDir,
      });
    } catch (e) {
      closeSync(out);
      closeSync(err);
      this.end(entry, "failed", null, null, spawnFailure(cmd, e));
      return this.toStatus(entry);
    }
    const outcome = await new Promise<{ ok: true } | { ok: false; reason: string }>((resolve) => {
      child.once("spawn", () => resolve({ ok: true }));
      child.once("error", (e) => resolve({ ok: false, reason: spawnFailure(cmd, e) }));
    });
    closeSync(out);
    closeSync(err);
    if (!outcome.ok || child.pid === undefined) {
      this.end(entry, "failed", null, null, outcome.ok ? `could not start ${cmd}` : outcome.reason);
      return this.toStatus(entry);
    }
    child.unref();
    rec.pid = child.pid;
    rec.pgid = child.pid; // detached: the child leads its own process group
    rec.procStartTicks = processStartTicks(child.pid);
    entry.phase = "running";
    this.save(entry);
    child.once("exit", (code, signal) => {
      if (this.closed) return; // the "agent" is gone: recovery will find out
      this.onExit(entry, code, signal);
    });
    this.armDeadline(entry, w.spec.gracePeriodS ?? 10);
    return this.toStatus(entry);
  }

  /** Checkpoint notice: SIGTERM to the workload's process group. */
  notify(leaseId: string): Promise<void> {
    const e = this.entries.get(leaseId);
    if (e && !e.rec.ended && e.rec.pgid > 0) killGroup(e.rec.pgid, "SIGTERM");
    return Promise.resolve();
  }

  /** SIGTERM to the group, SIGKILL after graceS; resolves with the final status once the workload ended. */
  async stop(leaseId: string, graceS: number): Promise<WorkloadStatus | undefined> {
    const e = this.entries.get(leaseId);
    if (!e) return undefined;
    if (e.rec.ended) return this.toStatus(e);
    e.rec.stopRequested = true;
    this.save(e);
    killGroup(e.rec.pgid, "SIGTERM");
    const ended = await waitFor(e.exited, graceS * 1000);
    if (!ended) {
      e.rec.killedAfterGraceS = graceS;
      this.save(e);
      killGroup(e.rec.pgid, "SIGKILL");
      // SIGKILL cannot be caught, but a process stuck in the kernel (a hung GPU driver) can outlive it:
      // do not wait forever; the status then still says running and health checks take over.
      await waitFor(e.exited, KILL_WAIT_MS);
    } else if (groupAlive(e.rec.pgid)) {
      killGroup(e.rec.pgid, "SIGKILL"); // the leader left, its children must not keep the GPUs
    }
    return this.toStatus(e);
  }

  /** Adopts workloads recorded in stateDir: live ones are watched again, ones that died meanwhile end with an unknown exit. */
  recover(): Promise<WorkloadStatus[]> {
    const out: WorkloadStatus[] = [];
    for (const { rec, dir } of this.storedRecords()) {
      let entry = this.entries.get(rec.leaseId);
      if (!entry) {
        entry = this.newEntry(rec, dir);
        this.entries.set(rec.leaseId, entry);
        if (rec.ended) {
          // already ended: newEntry took its phase
        } else if (rec.pid > 0 && processAlive(rec.pid, rec.procStartTicks)) {
          entry.phase = "running";
          this.watchAdopted(entry);
          this.armDeadline(entry, 10);
        } else {
          const leftovers = rec.pgid > 0 && groupAlive(rec.pgid);
          if (leftovers) killGroup(rec.pgid, "SIGKILL");
          this.end(
            entry,
            rec.stopRequested ? "cancelled" : "failed",
            null,
            null,
            "ended while the agent was down; exit code unknown" +
              (leftovers ? " (killed the processes it left behind)" : ""),
          );
        }
      }
      out.push(this.toStatus(entry));
    }
    return Promise.resolve(out);
  }

  protected externalIdOf(rec: LocalWorkloadRecord): string | undefined {
    return rec.pid > 0 ? String(rec.pid) : undefined;
  }

  /** Ends the workload; one that overran its max run time ends failed and says so. */
  protected override end(
    e: Entry,
    phase: WorkloadPhase,
    exitCode: number | null,
    signal: string | null,
    reason: string,
  ): void {
    const overran = e.rec.deadlineHit === true;
    super.end(
      e,
      overran ? "failed" : phase,
      exitCode,
      signal,
      overran ? `max run time of ${e.rec.maxRuntimeS}s reached; ${reason}` : reason,
    );
  }

  private onExit(e: Entry, code: number | null, signal: NodeJS.Signals | null): void {
    if (e.rec.ended) return;
    const stopped = e.rec.stopRequested === true;
    const reason = signal ? `killed by ${signal}` : `exited with code ${code ?? "unknown"}`;
    const killed = e.rec.killedAfterGraceS;
    this.end(
      e,
      endPhase(stopped, code),
      code,
      signal,
      killed !== undefined
        ? `did not exit within its ${killed} s grace period; killed with SIGKILL`
        : stopped
          ? `stopped by the agent; ${reason}`
          : reason,
    );
  }

  private watchAdopted(e: Entry): void {
    const tick = (): void => {
      if (this.closed || e.rec.ended) return;
      if (!processAlive(e.rec.pid, e.rec.procStartTicks)) {
        this.end(
          e,
          e.rec.stopRequested ? "cancelled" : "failed",
          null,
          null,
          "ended after an agent restart (not a child of this agent); exit code unknown",
        );
        return;
      }
      const t = setTimeout(tick, this.pollMs);
      t.unref();
      e.timers.push(t);
    };
    tick();
  }

  private armDeadline(e: Entry, graceS: number): void {
    const max = e.rec.maxRuntimeS;
    if (max === undefined) return;
    const left = Math.max(0, e.rec.startedAt + max * 1000 - this.now());
    const t = setTimeout(() => {
      e.rec.deadlineHit = true;
      void this.stop(e.rec.leaseId, graceS);
    }, left);
    t.unref();
    e.timers.push(t);
  }
}

function spawnFailure(cmd: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return `command not found: ${cmd}`;
  if (code === "EACCES") return `permission denied: ${cmd} is not executable`;
  return `could not start ${cmd}: ${e instanceof Error ? e.message : String(e)}`;
}
