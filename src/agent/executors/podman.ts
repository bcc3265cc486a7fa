import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegistryAuth, WorkloadSpec, WorkloadStatus } from "../executor.js";
import { endPhase, FileBackedExecutor, waitFor } from "./base.js";
import type { FileEntry, LeaseRecordBase } from "./base.js";
import { cdiNamesFor, DEFAULT_CDI_DIRS, readCdiGpus } from "./cdi.js";
import { K8sFileLogTail } from "./k8s-file-log.js";
import type { LogReader } from "./k8s-file-log.js";
import {
  checkUser,
  CONTAINER_NOTICE_FILE,
  CONTAINER_WORK_DIR,
  containerEndReason,
  containerName,
  execFailedIn,
  gpuRunOptions,
  LABEL_AGENT,
  LABEL_LEASE,
  leaseLimits,
  podmanEnv,
  podmanRunOptions,
  envSecrets,
  prepareContainerDirs,
  workloadArgv,
  writeNoticeFile,
} from "./podman-args.js";
import type { ContainerIsolationOptions } from "./podman-args.js";
import { signalName } from "./slurm-parse.js";

/** Options of the podman executor. */
export interface PodmanExecutorOptions extends ContainerIsolationOptions {
  /** Folder for one sub-folder per lease (state, container log, work and notice folders); survives restarts. */
  stateDir: string;
  now: () => number;
  /** Label value tying containers to this agent; recover() adopts only containers with it. */
  agentId: string;
  /** Image for workloads that name none (after the server's resolution). */
  defaultImage?: string;
  /** containers.conf and storage.conf the project's setup wrote (default: /etc/zumbido/*.conf when present). */
  containersConf?: string;
  storageConf?: string;
  /** Folders holding CDI specs (default /etc/cdi, /run/cdi). */
  cdiDirs?: string[];
  /** GPU index -> UUID, for CDI specs that name devices by UUID only. */
  gpuUuids?: Record<number, string>;
  /** The node's GPUs are simulated (the demo): no devices are passed; CUDA_VISIBLE_DEVICES still numbers them. */
  simulatedGpus?: boolean;
  /** Bytes of log output shipped per lease before one truncation notice (default 1 MiB). */
  logCapBytes?: number;
  /** The podman binary (default "podman" on PATH). */
  podman?: string;
  /** Limit for one podman command other than pull, in ms (default 60 s); pulls get 30 min. */
  commandTimeoutMs?: number;
}

/** What the podman executor writes to state.json for each lease. */
export interface PodmanLeaseRecord extends LeaseRecordBase {
  container: string;
  image?: string;
  /** Seconds the workload has between the checkpoint notice and the kill. */
  graceS: number;
  maxRuntimeS?: number;
  deadlineHit?: boolean;
  /** The agent sent SIGKILL (stop), so an exit of 137 is not an out-of-memory kill. */
  agentKilled?: boolean;
  createdAt: number;
}

type Entry = FileEntry<PodmanLeaseRecord>;

export { CONTAINER_NOTICE_FILE, CONTAINER_WORK_DIR, containerName, leaseLimits, podmanEnv };

const MIB = 1024 * 1024;
const POLL_MS = 2000;

/** Whether a string names an image archive on disk (loaded with `podman load`) rather than a registry image. */
export function isArchive(image: string): boolean {
  return image.startsWith("/") || image.startsWith("./") || /\.(tar|tar\.gz|tgz)$/.test(image);
}

/** The registry host of an image reference ("docker.io" when it names none). */
export function registryOf(image: string): string {
  const first = image.split("/")[0] ?? "";
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : "docker.io";
}

/**
 * Runs each lease in a rootful podman container (crun): the tenant's image, a non-root user, a
 * read-only root with writable /tmp and /work, no capabilities, no-new-privileges, no network unless
 * allowed, memory/pids/CPU limits by the lease's share of the node, `--init`, GPUs by CDI. Pull time
 * is not billed (startedAt is set once the container runs). Checkpoint notice: SIGUSR1 plus the
 * file $ZUMBIDO_NOTICE_FILE; stop: SIGTERM, grace, SIGKILL. Containers outlive the agent and carry
 * the lease in a label, so a restarted agent finds them; each is removed once its exit is recorded.
 */
export class PodmanExecutor extends FileBackedExecutor<PodmanLeaseRecord> {
  readonly kind = "podman" as const;
  readonly runtime = { executor: "podman", images: true, isolated: true } as const;
  private readonly env: Record<string, string>;
  /** `podman wait` children, by lease. */
  private readonly waiters = new Map<string, ChildProcess>();
  /** Image preparation and run in progress, by lease. */
  private readonly preparing = new Map<string, Promise<void>>();
  /** Outcome collection in progress, by lease (one at a time). */
  private readonly collecting = new Map<string, Promise<void>>();
  /** When refresh() last inspected a running container, by lease (wall clock, ms). */
  private readonly lastPoll = new Map<string, number>();

  constructor(private readonly opts: PodmanExecutorOptions) {
    super(join(opts.stateDir, "leases"), opts.logCapBytes ?? MIB, opts.now);
    if (!/^[A-Za-z0-9._-]+$/.test(opts.agentId))
      throw new Error(`agentId "${opts.agentId}": use letters, digits, ".", "_" or "-"`);
    checkUser(opts.user);
    this.env = podmanEnv(opts);
  }

  /** Accepts the lease and prepares it in the background (image pull/load, then run); resolves "starting". */
  async start(w: WorkloadSpec): Promise<WorkloadStatus> {
    const known = this.entries.get(w.leaseId);
    if (known) return this.toStatus(known);
    const dir = this.leaseDir(w.leaseId);
    const rec: PodmanLeaseRecord = {
      leaseId: w.leaseId,
      jobId: w.jobId,
      container: containerName(w.leaseId),
      gpuIndices: [...w.gpuIndices],
      graceS: w.spec.gracePeriodS ?? 10,
      maxRuntimeS: w.maxRuntimeS,
      createdAt: this.now(),
    };
    const e = this.newEntry(rec, dir);
    this.entries.set(w.leaseId, e);
    this.save(e);
    const prep = this.prepareAndRun(e, w)
      .catch((err: unknown) => {
        this.end(e, "failed", null, null, `could not start the container: ${errText(err)}`);
      })
      .finally(() => this.preparing.delete(w.leaseId));
    this.preparing.set(w.leaseId, prep);
    await Promise.resolve();
    return this.toStatus(e);
  }

  /** Checkpoint notice: writes $ZUMBIDO_NOTICE_FILE (with the deadline) and sends SIGUSR1. */
  async notify(leaseId: string): Promise<void> {
    const e = this.entries.get(leaseId);
    if (!e || e.rec.ended) return;
    // The container may already run (and log) while start() is still recording it: wait for that.
    await this.preparing.get(leaseId);
    if (e.rec.ended || e.rec.startedAt === undefined) return;
    this.writeNotice(e, "checkpoint", e.rec.graceS);
    await this.podman(["kill", "--signal", "USR1", e.rec.container]);
  }

  /** Notice file, then SIGTERM and SIGKILL after graceS (`podman stop -t`); resolves once it ended. */
  async stop(leaseId: string, graceS: number): Promise<WorkloadStatus | undefined> {
    const e = this.entries.get(leaseId);
    if (!e) return undefined;
    if (e.rec.ended) return this.toStatus(e);
    e.rec.stopRequested = true;
    this.save(e);
    await this.preparing.get(leaseId);
    if (e.rec.ended) return this.toStatus(e);
    if (e.rec.startedAt === undefined) {
      this.end(e, "cancelled", null, null, "stopped by the agent before the container started");
      return this.toStatus(e);
    }
    this.writeNotice(e, "stop", graceS);
    e.rec.agentKilled = true; // a 137 from here on is ours, not the kernel's OOM killer
    this.save(e);
    const grace = Math.max(0, Math.round(graceS));
    await this.podman(["stop", "-t", String(grace), e.rec.container], (grace + 60) * 1000);
    await this.collect(e);
    await waitFor(e.exited, 30_000);
    return this.toStatus(e);
  }

  /** Finds this agent's containers by label and its lease folders; reports ended ones and watches live ones. */
  async recover(): Promise<WorkloadStatus[]> {
    const r = await this.podman([
      "ps",
      "-a",
      "--filter",
      `label=${LABEL_AGENT}=${this.opts.agentId}`,
      "--format",
      "json",
    ]);
    if (r.code !== 0)
      throw new Error(`podman ps failed: ${r.stderr.trim()}; is podman installed and configured?`);
    const live = new Map<string, { name: string; state: string }>();
    for (const c of parseJson<{ Names?: string[]; State?: string; Labels?: Record<string, string> }[]>(
      r.stdout,
    ) ?? []) {
      const lease = c.Labels?.[LABEL_LEASE];
      if (lease) live.set(lease, { name: c.Names?.[0] ?? "", state: c.State ?? "" });
    }
    for (const { rec, dir } of this.storedRecords()) {
      if (this.entries.has(rec.leaseId)) continue;
      const e = this.newEntry(rec, dir);
      this.entries.set(rec.leaseId, e);
      if (rec.ended) continue;
      const c = live.get(rec.leaseId);
      if (!c) {
        this.end(
          e,
          rec.stopRequested ? "cancelled" : "failed",
          null,
          null,
          "the container was gone after an agent restart; exit code unknown",
        );
      } else if (c.state === "running" || c.state === "paused") {
        e.phase = "running";
        this.watch(e);
        this.armDeadline(e);
      } else if (c.state === "created" || c.state === "configured") {
        await this.podman(["rm", "-f", rec.container]);
        this.end(
          e,
          rec.stopRequested ? "cancelled" : "failed",
          null,
          null,
          "the agent stopped before the container started",
        );
      } else {
        await this.collect(e);
      }
    }
    // Containers of this agent with no lease folder (state lost): nothing can bill or report them; remove.
    for (const [lease, c] of live) if (!this.entries.has(lease)) await this.podman(["rm", "-f", c.name]);
    return [...this.entries.values()].map((e) => this.toStatus(e));
  }

  /** Stops the exit watchers; containers keep running and recover() finds them again. */
  override async close(): Promise<void> {
    for (const w of this.waiters.values()) w.kill("SIGKILL");
    this.waiters.clear();
    await super.close();
  }

  /** A running workload whose exit watcher went away (podman wait failed) gets a new one. */
  protected override async refresh(e: Entry): Promise<void> {
    if (e.phase !== "running" || this.closed) return;
    if (!this.waiters.has(e.rec.leaseId)) this.watch(e);
    // Belt and braces: if `podman wait` misses an exit, a slow inspect poll still sees it.
    const now = Date.now();
    if (now - (this.lastPoll.get(e.rec.leaseId) ?? 0) < POLL_MS) return;
    this.lastPoll.set(e.rec.leaseId, now);
    await this.collect(e);
  }

  protected externalIdOf(rec: PodmanLeaseRecord): string | undefined {
    return rec.container;
  }

  protected override makeLogTail(dir: string, rec: PodmanLeaseRecord): LogReader {
    return new K8sFileLogTail(join(dir, "container.log"), this.logCapBytes, rec.leaseId, rec.logs);
  }

  /** Ends the workload; one that overran its max run time ends failed and says so. */
  protected override end(
    e: Entry,
    phase: WorkloadStatus["phase"],
    exitCode: number | null,
    signal: string | null,
    reason: string,
    endedAt?: number,
  ): void {
    const overran = e.rec.deadlineHit === true;
    super.end(
      e,
      overran ? "failed" : phase,
      exitCode,
      signal,
      overran ? `max run time of ${e.rec.maxRuntimeS}s reached; ${reason}` : reason,
      endedAt,
    );
  }

  /** A multi-node rank at the start barrier: its image is made present now, so the go starts it at once. */
  async prepare(w: WorkloadSpec): Promise<{ problem?: string; cause?: "image-pull" }> {
    const image = w.image ?? w.spec.image ?? this.opts.defaultImage;
    if (!image)
      return {
        problem:
          "no container image: the job names none and this node has no default image (--default-image)",
      };
    const ready = await this.ensureImage(image, w.registryAuth);
    return "problem" in ready ? { problem: ready.problem, cause: "image-pull" } : {};
  }

  private async prepareAndRun(e: Entry, w: WorkloadSpec): Promise<void> {
    const rec = e.rec;
    const image = w.image ?? w.spec.image ?? this.opts.defaultImage;
    if (!image) {
      this.end(
        e,
        "failed",
        null,
        null,
        "no container image: the job names none and this node has no default image (--default-image)",
      );
      return;
    }
    if (w.spec.command.length === 0) {
      this.end(e, "failed", null, null, "command is empty: give spec.command as [program, ...args]");
      return;
    }
    let devices: string[] = [];
    if (w.gpuIndices.length > 0 && this.opts.simulatedGpus !== true) {
      const found = cdiNamesFor(
        w.gpuIndices,
        readCdiGpus(this.opts.cdiDirs ?? DEFAULT_CDI_DIRS),
        this.opts.gpuUuids,
      );
      if ("problem" in found) {
        this.end(e, "failed", null, null, found.problem);
        return;
      }
      devices = found.names;
    }
    const ready = await this.ensureImage(image, w.registryAuth);
    if ("problem" in ready) {
      this.end(e, "failed", null, null, ready.problem);
      return;
    }
    rec.image = ready.image;
    if (rec.stopRequested) {
      this.end(e, "cancelled", null, null, "stopped by the agent before the container started");
      return;
    }
    const secrets = envSecrets(w.spec, rec.container);
    const made = await this.createEnvSecrets(e.dir, secrets);
    // The container holds its env once it runs; the secrets are removed whatever the run did.
    const r = made.ok
      ? await this.podman(this.runArgs(e, w, ready.image, devices))
      : { code: 125, stdout: "", stderr: made.problem };
    if (secrets.length > 0) await this.podman(["secret", "rm", ...secrets.map((x) => x.secret)]);
    if (r.code !== 0) {
      await this.podman(["rm", "-f", rec.container]);
      const msg = lastLine(r.stderr) || `podman run exited ${r.code}`;
      const notFound = r.code === 127 || /executable file .* not found/.test(msg);
      this.end(
        e,
        "failed",
        notFound ? 127 : null,
        null,
        notFound
          ? `command not found in image ${ready.image}: ${w.spec.command[0]} (${msg})`
          : `podman could not run the container: ${msg}`,
      );
      return;
    }
    rec.startedAt = this.now(); // billing starts here: the image is in and the container runs
    e.phase = "running";
    this.save(e);
    this.watch(e);
    this.armDeadline(e);
  }

  private runArgs(e: Entry, w: WorkloadSpec, image: string, devices: string[]): string[] {
    const dirs = prepareContainerDirs(e.dir, this.opts, w.checkpointDir, w.volumes, w.spec.sshAuthorizedKeys);
    return [
      "run",
      "-d",
      ...podmanRunOptions(
        w,
        w.gpuIndices.length,
        { container: e.rec.container, agentId: this.opts.agentId, leaseDir: e.dir, ...dirs },
        this.opts,
      ),
      ...gpuRunOptions(devices, w.gpuIndices),
      image,
      ...workloadArgv(w.spec),
    ];
  }

  /**
   * Creates the podman secrets carrying the tenant's env values, each from a 0600 file in the lease's
   * private folder, removed at once: a value is never on a command line. (podman 4 reads `-` only
   * from a FIFO, and node gives children sockets.)
   */
  private async createEnvSecrets(
    dir: string,
    secrets: { value: string; secret: string }[],
  ): Promise<{ ok: true } | { ok: false; problem: string }> {
    const file = join(dir, "env-value");
    try {
      for (const s of secrets) {
        rmSync(file, { force: true });
        writeFileSync(file, s.value, { mode: 0o600 });
        let r = await this.podman(["secret", "create", s.secret, file]);
        if (r.code !== 0) {
          // A secret left by an agent that stopped between create and rm: replace it.
          await this.podman(["secret", "rm", s.secret]);
          r = await this.podman(["secret", "create", s.secret, file]);
        }
        if (r.code !== 0)
          return {
            ok: false,
            problem: `could not hand the job's env to podman: ${lastLine(r.stderr) || `exit ${r.code}`}`,
          };
      }
      return { ok: true };
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Makes the image present: already there, `podman load` of an archive, or `podman pull` (with a 0600 auth file). */
  private async ensureImage(
    image: string,
    auth?: RegistryAuth,
  ): Promise<{ image: string } | { problem: string }> {
    if (isArchive(image)) {
      if (!existsSync(image)) return { problem: `image archive ${image} does not exist on this node` };
      const r = await this.podman(["load", "-i", image], 30 * 60_000);
      const name = /Loaded image(?:\(s\))?: *(\S+)/.exec(r.stdout)?.[1];
      if (r.code !== 0 || !name)
        return {
          problem: `could not load image archive ${image}: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.code}`}`,
        };
      return { image: name.split(",")[0]! };
    }
    if ((await this.podman(["image", "exists", image])).code === 0) return { image };
    let authDir: string | undefined;
    const args = ["pull", "--quiet"];
    if (auth) {
      authDir = mkdtempSync(join(tmpdir(), "zumbido-auth-"));
      const file = join(authDir, "auth.json");
      const token = Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
      writeFileSync(file, JSON.stringify({ auths: { [auth.server]: { auth: token } } }), { mode: 0o600 });
      args.push("--authfile", file);
    }
    args.push(image);
    try {
      const r = await this.podman(args, 30 * 60_000);
      if (r.code !== 0)
        return {
          problem: `could not pull image ${image} from ${registryOf(image)}: ${lastLine(r.stderr) || `podman pull exited ${r.code}`}`,
        };
      return { image };
    } finally {
      if (authDir) rmSync(authDir, { recursive: true, force: true });
    }
  }

  /** Waits for the container's exit in a `podman wait` child, then collects the outcome. */
  private watch(e: Entry): void {
    const lease = e.rec.leaseId;
    if (this.waiters.has(lease) || this.closed) return;
    const child = spawn(this.opts.podman ?? "podman", ["wait", e.rec.container], {
      env: this.env,
      stdio: ["ignore", "ignore", "ignore"],
    });
    this.waiters.set(lease, child);
    child.once("exit", () => {
      if (this.waiters.get(lease) === child) this.waiters.delete(lease);
      if (this.closed || e.rec.ended) return;
      void this.collect(e);
    });
    child.once("error", () => {
      if (this.waiters.get(lease) === child) this.waiters.delete(lease);
    });
  }

  /** Reads the exit of an ended container, records it, and removes the container (its log file stays). */
  private collect(e: Entry): Promise<void> {
    const lease = e.rec.leaseId;
    const running = this.collecting.get(lease);
    if (running) return running;
    const p = this.collectOnce(e).finally(() => this.collecting.delete(lease));
    this.collecting.set(lease, p);
    return p;
  }

  private async collectOnce(e: Entry): Promise<void> {
    if (e.rec.ended) return;
    const r = await this.podman(["inspect", "--format", "json", e.rec.container]);
    const info = parseJson<
      { State?: { Status?: string; ExitCode?: number; OOMKilled?: boolean; FinishedAt?: string } }[]
    >(r.stdout)?.[0];
    const st = info?.State;
    if (r.code !== 0 || !st) {
      this.end(
        e,
        e.rec.stopRequested ? "cancelled" : "failed",
        null,
        null,
        `the container disappeared; exit code unknown (podman inspect: ${r.stderr.trim().slice(0, 300) || `exit ${r.code}`})`,
      );
      return;
    }
    if (st.Status === "running" || st.Status === "paused" || st.Status === "stopping") return; // not ended yet
    const code = st.ExitCode ?? null;
    const finished = st.FinishedAt ? Date.parse(st.FinishedAt) : NaN;
    const stopped = e.rec.stopRequested === true;
    const { reason, signal } = containerEndReason(
      code,
      {
        oomKilled: st.OOMKilled === true,
        killedByUs: e.rec.agentKilled === true || stopped || e.rec.deadlineHit === true,
        execFailed: () => execFailedIn(join(e.dir, "container.log")),
        image: e.rec.image,
      },
      signalName,
    );
    this.end(
      e,
      endPhase(stopped, code),
      code,
      signal,
      stopped ? `stopped by the agent; ${reason}` : reason,
      Number.isFinite(finished) && finished > 0 ? Math.max(finished, e.rec.startedAt ?? 0) : undefined,
    );
    // Exit code recorded and the log is in the lease folder: nothing of the lease may outlive it.
    await this.podman(["rm", "-f", e.rec.container]);
  }

  private writeNotice(e: Entry, kind: "checkpoint" | "stop", graceS: number): void {
    writeNoticeFile(e.dir, kind, graceS, this.now());
  }

  private armDeadline(e: Entry): void {
    const max = e.rec.maxRuntimeS;
    if (max === undefined || e.rec.startedAt === undefined) return;
    const left = Math.max(0, e.rec.startedAt + max * 1000 - this.now());
    const t = setTimeout(() => {
      e.rec.deadlineHit = true;
      void this.stop(e.rec.leaseId, e.rec.graceS);
    }, left);
    t.unref();
    e.timers.push(t);
  }

  private podman(
    args: string[],
    timeoutMs?: number,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const cmd = this.opts.podman ?? "podman";
    return new Promise((resolve) => {
      execFile(
        cmd,
        args,
        {
          env: this.env,
          // conmon inherits the working folder and writes an "oom" marker there after an OOM kill.
          cwd: this.leasesDir,
          timeout: timeoutMs ?? this.opts.commandTimeoutMs ?? 60_000,
          maxBuffer: 16 * MIB,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
          const why =
            err && typeof err.code === "string"
              ? `${cmd}: ${err.code === "ENOENT" ? "not installed (not on PATH)" : err.code}`
              : "";
          resolve({
            code,
            stdout,
            stderr: stderr || why || (err?.killed ? `${cmd} ${args[0]} timed out` : ""),
          });
        },
      );
    });
  }
}

function parseJson<T>(s: string): T | undefined {
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}

function lastLine(s: string): string {
  const lines = s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.at(-1) ?? "").replace(/^Error: /, "").slice(0, 500);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
