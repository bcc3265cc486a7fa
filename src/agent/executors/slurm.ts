import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeRuntime } from "../../domain/index.js";
import type { WorkloadSpec, WorkloadStatus } from "../executor.js";
import { FileBackedExecutor, statusOf } from "./base.js";
import type { FileEntry, LeaseRecordBase } from "./base.js";
import { K8sFileLogTail } from "./k8s-file-log.js";
import type { LogReader } from "./k8s-file-log.js";
import { minimalEnv } from "./local.js";
import { splitOverNodes } from "./backend-gang.js";
import type { BackendSplit } from "./backend-gang.js";
import { multiNodeBatchScript } from "./slurm-gang.js";
import { batchScript, runSlurmCommand, slurmTime } from "./slurm-batch.js";
import type { SlurmCommandResult } from "./slurm-batch.js";
import { gangExitNote, gangStarted, rankDir, writeRankScripts } from "./slurm-gang-podman.js";
import { checkUser, containerName, prepareContainerDirs, writeNoticeFile } from "./podman-args.js";
import { containerOutcome, podmanBatchScript, readExitNote, readStartedNote } from "./slurm-podman.js";
import type { SlurmPodmanOptions } from "./slurm-podman.js";
import {
  parseIndexList,
  parseScontrolJob,
  phaseOfSlurmState,
  signalName,
  slurmTimeLimit,
} from "./slurm-parse.js";
import type { SlurmJobInfo } from "./slurm-parse.js";

/** Options of the Slurm executor. */
export interface SlurmExecutorOptions {
  /** Folder for each lease's batch script, output files and state; must be on a filesystem the compute nodes share. */
  logDir: string;
  /** Clock in epoch ms (injected). */
  now: () => number;
  /** Tag written into each job's comment; recover() adopts only jobs with this tag (default "zumbido"). */
  agentId?: string;
  /** Catalogue id -> Slurm GRES type (default: the id in lower case, "H100" -> "h100"). */
  gresTypes?: Record<string, string>;
  partition?: string;
  /** SLURM_CONF for sbatch/squeue/scontrol/scancel (default: none, Slurm's own default). */
  slurmConf?: string;
  /** Signal of the checkpoint notice (default "USR1"), sent with `scancel --signal=<sig> --full`. */
  noticeSignal?: string;
  /** Bytes of log output shipped per lease before one truncation notice (default 1 MiB). */
  logCapBytes?: number;
  /** Limit for each Slurm command, in ms (default 15 s). */
  commandTimeoutMs?: number;
  /** Poll interval while stop() waits for the job to end, in ms (default 250). */
  pollIntervalMs?: number;
  /** Environment of the Slurm commands, and so of the job (sbatch exports it); default: PATH, HOME, locale. */
  baseEnv?: Record<string, string>;
  /**
   * How tenant code runs in the allocation: "podman" (default: the tenant's image in a podman
   * container with the podman executor's isolation) or "host" (the batch script runs the command as
   * the agent's user: no isolation, refused unless unsafeHostProcesses, and never for an image).
   */
  container?: "podman" | "host";
  /** Container mode: image, user, limits, podman's environment on the compute nodes, CDI names. */
  podman?: SlurmPodmanOptions;
  /** Host mode only: let tenant jobs run as host processes of the agent's user (development only). */
  unsafeHostProcesses?: boolean;
  /**
   * GPUs of each Slurm node behind this agent (the agent fronts the partition as one Zumbido node):
   * a lease of more GPUs runs as ONE multi-node allocation (`multiNodeBatchScript`). Absent: every
   * lease is one node's.
   */
  gpusPerNode?: number;
}

interface SlurmLeaseRecord extends LeaseRecordBase {
  slurmJobId?: string;
  submittedAt: number;
  /** "podman": the job runs the image in a container (absent in records of host-mode jobs). */
  mode?: "podman";
  image?: string;
  /** Seconds between the checkpoint notice and the kill. */
  graceS?: number;
  /** Multi-node allocation: its nodes (container mode keeps each rank's notes in rank-<i>/). */
  nnodes?: number;
}

/** Why a Slurm node without container support refuses tenant jobs. */
export const SLURM_HOST_REFUSED =
  "this Slurm node runs jobs as host processes of the agent's user, which are not isolated; the operator must start the agent with --slurm-container podman (podman on the compute nodes), or with --unsafe-host-processes for development only";

type Entry = FileEntry<SlurmLeaseRecord>;

export { batchScript };

/**
 * Runs each lease as a Slurm batch job (sbatch --gres=gpu:<type>:<n>); Slurm chooses the GPU indices.
 * Checkpoint notice: SIGUSR1 (configurable) to the batch script and all steps; stop: notice, then
 * after the grace period scancel with SIGKILL. Jobs carry the lease id in their comment, so a
 * restarted agent finds them again with squeue.
 */
export class SlurmExecutor extends FileBackedExecutor<SlurmLeaseRecord> {
  readonly kind = "slurm" as const;
  readonly runtime: NodeRuntime;
  private readonly agentId: string;
  private readonly env: Record<string, string>;
  private readonly mode: "podman" | "host";

  constructor(private readonly opts: SlurmExecutorOptions) {
    super(opts.logDir, opts.logCapBytes ?? 1024 * 1024, opts.now);
    this.agentId = opts.agentId ?? "zumbido";
    if (!/^[A-Za-z0-9._-]+$/.test(this.agentId))
      throw new Error(`agentId "${this.agentId}": use letters, digits, ".", "_" or "-"`);
    this.env = {
      ...(opts.baseEnv ?? minimalEnv(process.env)),
      ...(opts.slurmConf ? { SLURM_CONF: opts.slurmConf } : {}),
    };
    this.mode = opts.container ?? "podman";
    checkUser(opts.podman?.user);
    const isolated = this.mode === "podman";
    this.runtime = { executor: "slurm", images: isolated, isolated };
  }

  /** The Slurm GRES type for a catalogue GPU model. */
  gresType(gpuModel: string): string {
    return this.opts.gresTypes?.[gpuModel] ?? gpuModel.toLowerCase();
  }

  /** Submits the batch job; resolves with phase "starting" once sbatch accepted it, or "failed" with sbatch's words. */
  async start(w: WorkloadSpec): Promise<WorkloadStatus> {
    const known = this.entries.get(w.leaseId);
    if (known) return this.toStatus(known);
    const dir = this.leaseDir(w.leaseId);
    mkdirSync(join(dir, "work"), { recursive: true });
    const rec: SlurmLeaseRecord = {
      leaseId: w.leaseId,
      jobId: w.jobId,
      submittedAt: this.now(),
      graceS: w.spec.gracePeriodS ?? 10,
    };
    const image = w.image ?? w.spec.image ?? this.opts.podman?.defaultImage;
    if (this.mode === "podman") {
      rec.mode = "podman";
      rec.image = image;
    }
    let split: BackendSplit | undefined;
    let unsplittable: string | undefined;
    try {
      // A gang rank (one agent per Slurm node) is one node's share; a big lease on a fronting agent spans nodes.
      split = w.gang ? undefined : splitOverNodes(w.gpuIndices.length, this.opts.gpusPerNode);
    } catch (err) {
      unsplittable = err instanceof Error ? err.message : String(err);
    }
    if (split) rec.nnodes = split.nnodes; // before the entry: its log is rank 0's
    const e = this.newEntry(rec, dir);
    this.entries.set(w.leaseId, e);
    const refused =
      w.spec.command.length === 0
        ? "command is empty: give spec.command as [program, ...args]"
        : unsplittable
          ? unsplittable
          : this.mode === "podman"
            ? image
              ? undefined
              : "no container image: the job names none and this node has no default image (--default-image)"
            : this.opts.unsafeHostProcesses !== true
              ? SLURM_HOST_REFUSED
              : (w.image ?? w.spec.image)
                ? `this Slurm node cannot run container images (it runs jobs as host processes); image ${w.image ?? w.spec.image} needs a node started with --slurm-container podman`
                : undefined;
    if (refused) {
      this.end(e, "failed", null, null, refused);
      return this.toStatus(e);
    }
    const script = join(dir, "job.sh");
    try {
      // 0700: the script holds the job's env values (secret ones included); Slurm runs it as its owner.
      writeFileSync(script, this.script(w, dir, image, split), { mode: 0o700 });
      chmodSync(script, 0o700);
    } catch (err) {
      this.end(e, "failed", null, null, err instanceof Error ? err.message : String(err));
      return this.toStatus(e);
    }
    const args = [
      "--parsable",
      `--job-name=zumbido-${w.leaseId}`,
      `--comment=zumbido-lease=${w.leaseId} zumbido-agent=${this.agentId}`,
      `--output=${join(dir, "stdout.log")}`,
      `--error=${join(dir, "stderr.log")}`,
      "--open-mode=append",
      `--chdir=${join(dir, "work")}`,
      "--export=ALL", // the commands run with this.env only, so ALL is that minimal set
    ];
    if (w.gpuIndices.length > 0 && !split)
      args.push(`--gres=gpu:${this.gresType(w.gpuModel)}:${w.gpuIndices.length}`);
    if (this.opts.partition) args.push(`--partition=${this.opts.partition}`);
    if (w.maxRuntimeS !== undefined) {
      args.push(`--time=${slurmTimeLimit(w.maxRuntimeS)}`);
      // The batch shell forwards the notice to a one-node container; srun's ranks get it directly.
      const to = split ? "" : "B:";
      args.push(`--signal=${to}${this.noticeSignal()}@${Math.max(1, Math.round(w.spec.gracePeriodS ?? 60))}`);
    }
    args.push(script);
    const r = await this.run("sbatch", args);
    const id = r.code === 0 ? /^(\d+)/.exec(r.stdout.trim())?.[1] : undefined;
    if (!id) {
      this.end(
        e,
        "failed",
        null,
        null,
        `sbatch refused the job: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`,
      );
      return this.toStatus(e);
    }
    rec.slurmJobId = id;
    e.phase = "starting";
    this.save(e);
    return this.toStatus(e);
  }

  /**
   * Checkpoint notice. Host mode: `scancel --signal=<notice> --full` (batch script and every step).
   * Container mode: the notice file, then SIGUSR1 to the batch script, which forwards it to the container.
   */
  async notify(leaseId: string): Promise<void> {
    const e = this.entries.get(leaseId);
    if (!e?.rec.slurmJobId || e.rec.ended) return;
    if (e.rec.mode === "podman") {
      this.noticeFiles(e, "checkpoint", this.graceOf(e));
      await this.run("scancel", [...this.scriptsOf(e), `--signal=${this.noticeSignal()}`, e.rec.slurmJobId]);
      return;
    }
    await this.run("scancel", [`--signal=${this.noticeSignal()}`, "--full", e.rec.slurmJobId]);
  }

  /** Notice, then after graceS `scancel --signal=KILL --full` and `scancel`; resolves once Slurm reports the end. */
  async stop(leaseId: string, graceS: number): Promise<WorkloadStatus | undefined> {
    const e = this.entries.get(leaseId);
    if (!e) return undefined;
    await this.refresh(e);
    const id = e.rec.slurmJobId;
    if (e.rec.ended || !id) return this.toStatus(e);
    e.rec.stopRequested = true;
    this.save(e);
    if (e.phase === "starting") {
      await this.run("scancel", [id]); // not running yet: nothing to notify
    } else {
      if (e.rec.mode === "podman") {
        // The notice file, then SIGTERM to the container (forwarded by the batch script); after the
        // grace, SIGKILL to the job: its watchdog then removes the container at once.
        this.noticeFiles(e, "stop", graceS);
        await this.run("scancel", [...this.scriptsOf(e), "--signal=TERM", id]);
      } else await this.run("scancel", [`--signal=${this.noticeSignal()}`, "--full", id]);
      if (!(await this.waitEnd(e, graceS * 1000))) {
        await this.run("scancel", ["--signal=KILL", "--full", id]);
        await this.run("scancel", [id]);
      }
    }
    await this.waitEnd(e, 120_000);
    return this.toStatus(e);
  }

  /** Finds this agent's jobs with `squeue -t all` (by the comment tag) plus the lease folders, and reads their state. */
  async recover(): Promise<WorkloadStatus[]> {
    const r = await this.run("squeue", ["-h", "-t", "all", "-o", "%i|%k"]);
    if (r.code !== 0)
      throw new Error(`squeue failed (${r.code}): ${r.stderr.trim()}; is Slurm up and SLURM_CONF right?`);
    const seen = new Set<string>();
    for (const line of r.stdout.split("\n")) {
      const [jobId, comment = ""] = line.split("|");
      const lease = /zumbido-lease=(\S+)/.exec(comment)?.[1];
      if (!jobId || !lease || !comment.includes(`zumbido-agent=${this.agentId}`)) continue;
      seen.add(lease);
      this.adopt(lease, jobId.trim());
    }
    for (const name of readdirSync(this.opts.logDir)) {
      const lease = decodeURIComponent(name);
      if (!seen.has(lease) && existsSync(join(this.opts.logDir, name, "state.json")))
        this.adopt(lease, undefined);
    }
    const out: WorkloadStatus[] = [];
    for (const e of this.entries.values()) {
      if (!e.rec.ended) await this.refresh(e);
      out.push(this.toStatus(e));
    }
    return out;
  }

  /** The batch script of a lease: the container mode's, or the host mode's. */
  private script(w: WorkloadSpec, dir: string, image: string | undefined, split?: BackendSplit): string {
    if (split) {
      const hostfile = join(dir, "hostfile");
      const o = this.opts.podman ?? { podmanEnv: {} };
      const rankArgv =
        this.mode === "podman" && image
          ? writeRankScripts(w, dir, split, image, this.agentId, o, hostfile)
          : undefined;
      const gres = this.gresType(w.gpuModel);
      const gpuNote = join(dir, "gpus");
      return multiNodeBatchScript(w, {
        ...split,
        gresType: gres,
        hostfile,
        gpuNote,
        ...(rankArgv ? { rankArgv } : {}),
      });
    }
    if (this.mode !== "podman" || !image) return batchScript(w, dir);
    const o = this.opts.podman ?? { podmanEnv: {} };
    prepareContainerDirs(dir, o, w.checkpointDir, w.volumes, w.spec.sshAuthorizedKeys);
    let authFile: string | undefined;
    if (w.registryAuth) {
      // Read by `podman pull` in the job, then deleted by it (and never shown back).
      authFile = "auth.json";
      const { server, username, password } = w.registryAuth;
      const auth = Buffer.from(`${username}:${password}`).toString("base64");
      writeFileSync(join(dir, authFile), JSON.stringify({ auths: { [server]: { auth } } }), { mode: 0o600 });
    }
    return podmanBatchScript(w, dir, image, containerName(w.leaseId), this.agentId, o, authFile);
  }

  /** Container mode: the container's log (k8s-file, both streams); host mode: the job's stdout/stderr files. */
  protected override makeLogTail(dir: string, rec: SlurmLeaseRecord): LogReader {
    return rec.mode === "podman"
      ? new K8sFileLogTail(
          join(rec.nnodes ? rankDir(dir, 0) : dir, "container.log"),
          this.logCapBytes,
          rec.leaseId,
          rec.logs,
        )
      : super.makeLogTail(dir, rec);
  }

  /** The notice file in the container's folder (every rank's, for a multi-node allocation). */
  private noticeFiles(e: Entry, kind: "checkpoint" | "stop", graceS: number): void {
    const dirs = e.rec.nnodes ? [...Array(e.rec.nnodes).keys()].map((r) => rankDir(e.dir, r)) : [e.dir];
    for (const d of dirs) writeNoticeFile(d, kind, graceS, this.now());
  }

  /** Which scripts forward a signal to the containers: the batch script, or every rank's (job steps: scancel's default). */
  private scriptsOf(e: Entry): string[] {
    return e.rec.nnodes ? [] : ["--batch"];
  }

  private graceOf(e: Entry): number {
    return e.rec.graceS ?? 10;
  }

  private noticeSignal(): string {
    return (this.opts.noticeSignal ?? "USR1").replace(/^SIG/, "");
  }

  private adopt(leaseId: string, slurmJobId: string | undefined): void {
    if (this.entries.has(leaseId)) return;
    const dir = join(this.opts.logDir, encodeURIComponent(leaseId));
    let rec: SlurmLeaseRecord | undefined;
    try {
      rec = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as SlurmLeaseRecord;
    } catch {
      rec = undefined;
    }
    rec ??= { leaseId, jobId: "", submittedAt: this.now() };
    if (slurmJobId) rec.slurmJobId = slurmJobId;
    mkdirSync(dir, { recursive: true });
    this.entries.set(leaseId, this.newEntry(rec, dir));
  }

  /** Reads the job's state, exit code and GPU indices with `scontrol -d show job`. */
  protected override async refresh(e: Entry): Promise<void> {
    const id = e.rec.slurmJobId;
    if (e.rec.ended || !id) return;
    const r = await this.run("scontrol", ["-d", "show", "job", id]);
    const info = r.code === 0 ? parseScontrolJob(r.stdout) : undefined;
    if (!info) {
      if (/invalid job id/i.test(r.stderr))
        this.end(
          e,
          "failed",
          null,
          null,
          `Slurm no longer knows job ${id} (purged after MinJobAge); exit code unknown`,
        );
      return; // a transient failure of scontrol: keep the last view
    }
    this.apply(e, info);
  }

  private apply(e: Entry, info: SlurmJobInfo): void {
    let dirty = false;
    if (
      info.gpuIndices &&
      info.gpuIndices.length > 0 &&
      e.rec.gpuIndices?.join() !== info.gpuIndices.join()
    ) {
      e.rec.gpuIndices = info.gpuIndices;
      dirty = true;
    }
    let phase = phaseOfSlurmState(info.state);
    const inContainer = e.rec.mode === "podman";
    if (inContainer) {
      // The container runs (and is billed) from the batch script's "started" note: not while it pulls.
      const started = e.rec.nnodes ? gangStarted(e.dir, e.rec.nnodes) : readStartedNote(e.dir);
      if (started !== undefined && e.rec.startedAt === undefined) {
        e.rec.startedAt = started;
        dirty = true;
      }
      if (phase === "running" && started === undefined) phase = "starting";
    } else if (phase !== "starting" && e.rec.startedAt === undefined) {
      e.rec.startedAt = slurmTime(info.startTime) ?? this.now();
      dirty = true;
    }
    if (phase === "starting" || phase === "running") {
      e.phase = phase;
      if (dirty) this.save(e);
      return;
    }
    if (!e.rec.gpuIndices) e.rec.gpuIndices = this.noteOfGpus(e);
    const stopped = e.rec.stopRequested === true;
    const gangNote = inContainer && e.rec.nnodes ? gangExitNote(e.dir, e.rec.nnodes) : undefined;
    const note = gangNote?.note ?? (inContainer ? readExitNote(e.dir) : undefined);
    if (note) {
      const out = containerOutcome(
        note,
        gangNote?.dir ?? e.dir,
        e.rec.image,
        stopped || info.state === "TIMEOUT",
      );
      if (gangNote && out.exitCode !== 0)
        out.reason = `rank ${gangNote.rank} of ${e.rec.nnodes}: ${out.reason}`;
      const endedAt = note.stage === "exit" ? note.endedAt : undefined;
      this.end(
        e,
        stopped ? "cancelled" : out.exitCode === 0 ? "succeeded" : "failed",
        out.exitCode,
        out.signal,
        stopped
          ? `stopped by the agent; ${out.reason}`
          : info.state === "TIMEOUT"
            ? `Slurm state TIMEOUT (time limit); ${out.reason}`
            : out.reason,
        Math.max(endedAt ?? slurmTime(info.endTime) ?? this.now(), e.rec.startedAt ?? 0),
      );
      return;
    }
    const signal = info.signalNo > 0 ? signalName(info.signalNo) : null;
    const how = signal
      ? `killed by ${signal}`
      : info.exitCode === 127
        ? "exited with code 127 (command not found)"
        : `exited with code ${info.exitCode ?? "unknown"}`;
    const reason = stopped
      ? `stopped by the agent; Slurm state ${info.state}`
      : phase === "succeeded"
        ? how
        : `Slurm state ${info.state}${info.reason && info.reason !== "None" ? ` (${info.reason})` : ""}; ${how}`;
    const end = slurmTime(info.endTime);
    this.end(
      e,
      stopped ? "cancelled" : phase,
      info.exitCode,
      signal,
      reason,
      end === undefined ? undefined : Math.max(end, e.rec.startedAt ?? 0),
    );
  }

  private noteOfGpus(e: Entry): number[] | undefined {
    try {
      const s = readFileSync(join(e.dir, "gpus"), "utf8").trim();
      return s ? parseIndexList(s) : undefined;
    } catch {
      return undefined;
    }
  }

  private async waitEnd(e: Entry, ms: number): Promise<boolean> {
    const step = this.opts.pollIntervalMs ?? 250;
    for (let waited = 0; ; waited += step) {
      await this.refresh(e);
      if (e.rec.ended) return true;
      if (waited >= ms) return false;
      await new Promise((r) => setTimeout(r, step));
    }
  }

  protected externalIdOf(rec: SlurmLeaseRecord): string | undefined {
    return rec.slurmJobId;
  }

  /** Host mode: until Slurm starts the job, its start time is the submission time. Container mode: none until the container runs (pulls are not billed). */
  protected override toStatus(e: Entry): WorkloadStatus {
    const startedAt = e.rec.mode === "podman" ? e.rec.startedAt : (e.rec.startedAt ?? e.rec.submittedAt);
    return statusOf(e.rec, e.phase, e.rec.slurmJobId, startedAt);
  }

  private run(cmd: string, args: string[]): Promise<SlurmCommandResult> {
    return runSlurmCommand(cmd, args, this.env, this.opts.commandTimeoutMs ?? 15_000);
  }
}
