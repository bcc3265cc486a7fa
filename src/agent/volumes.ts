// The node's side of volumes: where a volume's bytes are on this node (under the agent's volume
// root), mounting them into workloads, and serving the control plane's relay (uploads land in a
// partial file, are checked against their SHA-256 and renamed into place; nothing half-written is
// ever visible in the volume).
import { chownSync, lstatSync, mkdirSync, renameSync, rmSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { AgentVolumeTransfer, JobSpecView } from "../contract/index.js";
import { volumeFilePathProblem, type NodeRuntime } from "../domain/index.js";
import { scanCheckpoint } from "./checkpoints.js";
import type { ApiClient } from "./client.js";
import type { WorkloadVolume } from "./executor.js";
import { fileSha256, realSleep, receiveChunks, sendChunks, type Sleep } from "./volume-io.js";

const PARTIAL_DIR = ".zumbido-partial";
/** Longest one transfer holds a pass before the others get a turn (it resumes on the next pass). */
const PASS_MS = 30_000;
const VOLUME_ID = /^vol_[A-Za-z0-9_-]{1,64}$/;

/** The host folder of a volume under the volume root; throws on an id that is not a volume id. */
export function volumeDir(root: string, volumeId: string): string {
  if (!VOLUME_ID.test(volumeId)) throw new Error(`"${volumeId}" is not a volume id`);
  return join(root, volumeId);
}

/**
 * The host folders to mount for a job's volumes. Throws (the lease fails with the reason) when the
 * agent has no volume root or an id is malformed. Missing folders are created (an empty volume).
 */
export function resolveMounts(root: string | undefined, volumes: JobSpecView["volumes"]): WorkloadVolume[] {
  if (!volumes || volumes.length === 0) return [];
  if (!root)
    throw new Error(
      "this node has no volume root, so it cannot mount the job's volumes: start the agent with --volume-root (the site's storage path)",
    );
  return volumes.map((v) => {
    const hostPath = volumeDir(root, v.volumeId);
    mkdirSync(hostPath, { recursive: true });
    return { hostPath, mountPath: v.mountPath, readOnly: v.readOnly };
  });
}

/**
 * The mounts of an assignment's volumes on this node, or why they cannot be mounted: only container
 * executors mount volumes (podman, or Slurm running podman), and the node needs a volume root.
 */
export function mountsFor(
  runtime: NodeRuntime,
  root: string | undefined,
  volumes: JobSpecView["volumes"],
): { volumes: WorkloadVolume[] } | { problem: string } {
  if (volumes?.length && (!runtime.images || runtime.executor === "kubernetes"))
    return {
      problem: `volumes are mounted by container executors (podman, or Slurm running podman); this node runs ${runtime.executor} workloads without them`,
    };
  try {
    return { volumes: resolveMounts(root, volumes) };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** Runs a VolumeWorker beside the heartbeat loop: at once while copies move, else every interval. */
export class VolumeLoop {
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;

  constructor(
    private readonly worker: VolumeWorker,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  /** One pass (the loop's step). */
  pass(): Promise<number> {
    return this.worker.pass();
  }

  /** Starts passes while `running()`, waiting `intervalMs()` when idle. */
  start(running: () => boolean, intervalMs: () => number): void {
    const run = (): void => {
      this.busy = this.pass()
        .catch((err: unknown) => {
          this.log("volume relay pass failed", { err: (err as Error).message });
          return 0;
        })
        .then((n) => {
          this.busy = undefined;
          if (running()) this.timer = setTimeout(run, n > 0 ? 50 : intervalMs());
        });
    };
    this.timer = setTimeout(run, 0);
  }

  /** Stops the loop after the pass in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.busy;
  }
}

/** Walks `rel` under `dir` refusing symlinks and non-folders on the way (a workload may have planted them); makes folders when `make`. */
function safePath(dir: string, rel: string, make: boolean, owner: Stats): string {
  const bad = volumeFilePathProblem(rel);
  if (bad) throw new Error(bad);
  const parts = rel.split("/");
  let cur = dir;
  for (const part of parts.slice(0, -1)) {
    cur = join(cur, part);
    let st: Stats | undefined;
    try {
      st = lstatSync(cur);
    } catch {
      st = undefined;
    }
    if (!st) {
      if (!make) throw new Error(`no file ${rel} in the volume`);
      mkdirSync(cur);
      chownSync(cur, owner.uid, owner.gid);
    } else if (!st.isDirectory() || st.isSymbolicLink())
      throw new Error(`${rel}: ${part} is not a folder in the volume (a link or a file); refused`);
  }
  return join(cur, parts[parts.length - 1]!);
}

/** Serves the control plane's volume relay for this node: uploads, downloads and deletions. */
export class VolumeWorker {
  constructor(
    private readonly client: ApiClient,
    private readonly root: string,
    private readonly sleep: Sleep,
    private readonly now: () => number,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void = () => undefined,
  ) {}

  /** One pass over the open transfers this node serves; returns how many moved (or ended). */
  async pass(): Promise<number> {
    const work = await this.client.get<AgentVolumeTransfer[]>("/v1/agent/volume-transfers");
    let moved = 0;
    for (const t of work) {
      try {
        if (await this.handle(t)) moved++;
      } catch (err) {
        const reason = (err as Error).message.slice(0, 500);
        this.log("volume transfer failed", { id: t.id, reason });
        await this.client
          .post(`/v1/agent/volume-transfers/${t.id}/end`, { ok: false, reason })
          .catch(() => undefined);
        moved++;
      }
    }
    return moved;
  }

  private used(dir: string): number {
    return scanCheckpoint(dir)?.bytes ?? 0;
  }

  private async end(t: AgentVolumeTransfer, dir: string): Promise<void> {
    await this.client.post(`/v1/agent/volume-transfers/${t.id}/end`, { ok: true, usedBytes: this.used(dir) });
  }

  /** Moves one transfer as far as it can now; true when it moved or ended. */
  private async handle(t: AgentVolumeTransfer): Promise<boolean> {
    const dir = volumeDir(this.root, t.volumeId);
    if (t.direction === "delete") {
      rmSync(dir, { recursive: true, force: true });
      await this.client.post(`/v1/agent/volume-transfers/${t.id}/end`, { ok: true, usedBytes: 0 });
      this.log("volume deleted", { volumeId: t.volumeId });
      return true;
    }
    mkdirSync(dir, { recursive: true });
    const owner = statSync(dir);
    const url = (o: number): string => `/v1/agent/volume-transfers/${t.id}/chunks/${o}`;
    if (t.direction === "upload") {
      const size = t.sizeBytes ?? 0;
      mkdirSync(join(dir, PARTIAL_DIR), { recursive: true, mode: 0o700 });
      const partial = join(dir, PARTIAL_DIR, t.id);
      const deadline = this.now() + PASS_MS;
      const have = await receiveChunks(
        this.client,
        url,
        partial,
        () => size,
        this.sleep,
        () => this.now() > deadline,
      );
      if (have < size) return have > 0; // the sender is slow or gone: the next pass resumes from the partial file
      await this.client.bytes("GET", url(size)); // tells the relay every byte arrived
      const sum = await fileSha256(partial);
      if (sum !== t.sha256) {
        rmSync(partial, { force: true });
        throw new Error(
          `the file's SHA-256 is ${sum}, not ${t.sha256 ?? "?"}: damaged on the way; nothing was written`,
        );
      }
      const final = safePath(dir, t.path, true, owner);
      chownSync(partial, owner.uid, owner.gid);
      renameSync(partial, final);
      await this.end(t, dir);
      this.log("volume upload done", { id: t.id, path: t.path, bytes: size });
      return true;
    }
    // Download: state size and SHA-256, then send from where the relay stands.
    const file = safePath(dir, t.path, false, owner);
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (!st || !st.isFile()) throw new Error(`no file ${t.path} in volume (or not a regular file)`);
    let size = t.sizeBytes;
    if (size === null) {
      size = st.size;
      await this.client.post(`/v1/agent/volume-transfers/${t.id}/meta`, {
        sizeBytes: size,
        sha256: await fileSha256(file),
      });
    }
    if (t.receivedBytes >= size) return false;
    // The tenant's last take ends the transfer; a slow taker is resumed on the next pass.
    const deadline = this.now() + PASS_MS;
    return (
      (await sendChunks(this.client, url, file, t.receivedBytes, this.sleep, () => this.now() > deadline)) >
      t.receivedBytes
    );
  }
}

/** The agent's volume loop: a worker serving the volumes under `root`, waiting in real time between retries. */
export function agentVolumeLoop(
  client: ApiClient,
  root: string,
  now: () => number,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): VolumeLoop {
  return new VolumeLoop(new VolumeWorker(client, root, realSleep, now, log), log);
}
