import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import {
  CHECKPOINT_CHUNK_BYTES,
  CHUNK_CONTENT_TYPE,
  CHUNK_SHA_HEADER,
  manifestDigest,
  manifestPathProblem,
  MAX_MANIFEST_FILES,
  type ManifestFile,
} from "../domain/checkpoint-manifest.js";
import { checkpointDirFor, NOTICE_FILE } from "./checkpoints.js";
import { ApiError, type ApiClient } from "./client.js";

/** A copy order from the heartbeat answer. */
export interface CopyOrder {
  id: string;
  jobId: string;
  role: "send" | "receive";
}

export interface CopierOptions {
  client: ApiClient;
  stateDir: string;
  /** Bytes asked for per chunk (at most CHECKPOINT_CHUNK_BYTES). */
  chunkBytes?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Times a chunk whose sha256 does not match is fetched again before this run of the copy gives up. */
const CHUNK_RETRIES = 5;

/** Where a transfer's files arrive before they are verified and moved into the job's checkpoint folder. */
export function incomingDirFor(stateDir: string, transferId: string): string {
  return join(stateDir, "checkpoints-incoming", encodeURIComponent(transferId));
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** The sha256 of a file, read in chunks. */
export function hashFile(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(CHECKPOINT_CHUNK_BYTES);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** Lists a checkpoint folder's regular files (notice files left out), sorted, each with size and sha256. */
export function buildManifest(dir: string): ManifestFile[] {
  const out: ManifestFile[] = [];
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (out.length >= MAX_MANIFEST_FILES) return;
      if (rel === "" && (name === NOTICE_FILE || name === `${NOTICE_FILE}.tmp`)) continue;
      const p = join(d, name);
      const st = lstatSync(p);
      const r = rel === "" ? name : `${rel}/${name}`;
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile()) out.push({ path: r, size: st.size, sha256: hashFile(p) });
    }
  };
  if (existsSync(dir)) walk(dir, "");
  return out;
}

/**
 * The node's side of checkpoint copies, one worker per transfer: a sender lists the job's checkpoint
 * and answers the chunks the control plane asks for; a receiver fetches every file into a staging
 * folder (resuming each file at the length already on disk), checks each chunk's sha256 and each
 * file's against the manifest, then moves the folder into place and reports the copy done.
 */
export class CheckpointCopier {
  private readonly running = new Map<string, { jobId: string; done: Promise<void> }>();
  private closed = false;

  constructor(private readonly o: CopierOptions) {}

  /** Starts a worker for every order not already worked on. */
  order(orders: CopyOrder[]): void {
    if (this.closed) return;
    for (const t of orders) {
      if (this.running.has(t.id)) continue;
      const work = t.role === "send" ? this.send(t) : this.receive(t);
      const done = work
        .catch((err: unknown) =>
          this.o.log?.("checkpoint copy interrupted; it resumes at the next order", {
            transferId: t.id,
            role: t.role,
            err: (err as Error).message,
          }),
        )
        .finally(() => this.running.delete(t.id));
      this.running.set(t.id, { jobId: t.jobId, done });
    }
  }

  /** Job ids with a copy in progress (their folders are never cleaned up meanwhile). */
  busyJobs(): Set<string> {
    return new Set([...this.running.values()].map((r) => r.jobId));
  }

  /** Transfer ids with a worker now. */
  busyTransfers(): Set<string> {
    return new Set(this.running.keys());
  }

  /** Stops taking orders and waits for the workers to notice. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private base(id: string): string {
    return `/v1/agent/checkpoint-transfers/${encodeURIComponent(id)}`;
  }

  private async send(t: CopyOrder): Promise<void> {
    const dir = checkpointDirFor(this.o.stateDir, t.jobId);
    const files = buildManifest(dir);
    if (files.length === 0) {
      await this.o.client.post(`${this.base(t.id)}/fail`, {
        reason: `no checkpoint of job ${t.jobId} on this node (its folder is empty or gone)`,
      });
      return;
    }
    await this.o.client.put(`${this.base(t.id)}/manifest`, { files });
    this.o.log?.("checkpoint copy: sending", { transferId: t.id, files: files.length });
    while (!this.closed) {
      const r = await this.o.client.post<{
        request: { reqId: string; file: number; offset: number; length: number } | null;
        closed: boolean;
      }>(`${this.base(t.id)}/next`);
      if (r.closed) return;
      if (!r.request) continue;
      const { reqId, file, offset, length } = r.request;
      const f = files[file];
      if (!f || offset + length > f.size) continue; // not a chunk of this manifest: never read beyond it
      const bytes = Buffer.alloc(length);
      const fd = openSync(join(dir, f.path), "r");
      try {
        let got = 0;
        while (got < length) {
          const n = readSync(fd, bytes, got, length - got, offset + got);
          if (n === 0) break;
          got += n;
        }
      } finally {
        closeSync(fd);
      }
      await this.o.client.requestBytes("POST", `${this.base(t.id)}/chunks/${encodeURIComponent(reqId)}`, {
        body: bytes,
        contentType: CHUNK_CONTENT_TYPE,
        headers: { [CHUNK_SHA_HEADER]: sha256(bytes) },
      });
    }
  }

  private async receive(t: CopyOrder): Promise<void> {
    let m: { files: ManifestFile[]; sha256: string };
    try {
      m = await this.o.client.get(`${this.base(t.id)}/manifest`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return; // not listed yet: the next order asks again
      throw err;
    }
    for (const f of m.files) {
      const problem = manifestPathProblem(f.path);
      if (problem) throw new Error(`the manifest is unsafe: ${problem}`);
    }
    if (manifestDigest(m.files) !== m.sha256) throw new Error("the manifest does not match its own sha256");
    const total = m.files.reduce((a, f) => a + f.size, 0);
    const staging = incomingDirFor(this.o.stateDir, t.id);
    const final = checkpointDirFor(this.o.stateDir, t.jobId);
    if (!existsSync(staging) && this.verified(final, m.files)) {
      // Moved into place before the control plane heard it was done: say so again.
      await this.o.client.post(`${this.base(t.id)}/done`, { sha256: m.sha256, bytes: total });
      return;
    }
    mkdirSync(staging, { recursive: true });
    let have = 0;
    for (const f of m.files) {
      const p = join(staging, f.path);
      const size = existsSync(p) ? statSync(p).size : 0;
      if (size > f.size) truncateSync(p, 0);
      else have += size;
    }
    await this.o.client.post(`${this.base(t.id)}/start`, { haveBytes: have });
    this.o.log?.("checkpoint copy: receiving", { transferId: t.id, files: m.files.length, total, have });
    for (let i = 0; i < m.files.length; i++) {
      const f = m.files[i]!;
      const p = join(staging, f.path);
      mkdirSync(dirname(p), { recursive: true });
      if (!existsSync(p)) writeFileSync(p, "");
      for (let attempt = 0; ; attempt++) {
        await this.fetchFile(t.id, i, f, p);
        if (hashFile(p) === f.sha256) break;
        truncateSync(p, 0);
        if (attempt >= 1) {
          await this.o.client.post(`${this.base(t.id)}/fail`, {
            reason: `file ${f.path} did not match its sha256 twice`,
          });
          return;
        }
        this.o.log?.("checkpoint copy: a file did not match its sha256; fetching it again", {
          transferId: t.id,
          path: f.path,
        });
      }
    }
    // Every file verified: the staging folder becomes the job's checkpoint folder.
    if (existsSync(final)) {
      const old = join(this.o.stateDir, "checkpoints-old", `${encodeURIComponent(t.jobId)}-${t.id}`);
      mkdirSync(dirname(old), { recursive: true });
      rmSync(old, { recursive: true, force: true });
      renameSync(final, old);
      rmSync(old, { recursive: true, force: true });
    }
    mkdirSync(dirname(final), { recursive: true });
    renameSync(staging, final);
    await this.o.client.post(`${this.base(t.id)}/done`, { sha256: m.sha256, bytes: total });
    this.o.log?.("checkpoint copy: done and verified", { transferId: t.id, bytes: total });
  }

  /** Fetches the rest of one file (from the length on disk), verifying every chunk's sha256. */
  private async fetchFile(id: string, index: number, f: ManifestFile, path: string): Promise<void> {
    const step = Math.min(this.o.chunkBytes ?? CHECKPOINT_CHUNK_BYTES, CHECKPOINT_CHUNK_BYTES);
    let at = statSync(path).size;
    let bad = 0;
    while (at < f.size) {
      if (this.closed) throw new Error("the agent is stopping");
      const length = Math.min(step, f.size - at);
      const r = await this.o.client.requestBytes(
        "GET",
        `${this.base(id)}/chunk?file=${index}&offset=${at}&length=${length}`,
        { timeoutMs: 30_000 },
      );
      if (r.status === 204) continue; // the source has not answered yet
      const expected = r.headers.get(CHUNK_SHA_HEADER);
      if (r.bytes.length !== length || sha256(r.bytes) !== expected) {
        bad++;
        this.o.log?.("checkpoint copy: a chunk did not match its sha256; fetching it again", {
          transferId: id,
          path: f.path,
          offset: at,
          bad,
        });
        if (bad > CHUNK_RETRIES) throw new Error(`chunk at ${f.path}:${at} failed its sha256 ${bad} times`);
        continue;
      }
      const fd = openSync(path, "r+");
      try {
        writeSync(fd, r.bytes, 0, r.bytes.length, at);
      } finally {
        closeSync(fd);
      }
      at += length;
    }
  }

  /** True when `dir` holds exactly the manifest's files with their sha256. */
  private verified(dir: string, files: ManifestFile[]): boolean {
    if (!existsSync(dir)) return false;
    const have = buildManifest(dir);
    return have.length === files.length && manifestDigest(have) === manifestDigest(files);
  }
}
