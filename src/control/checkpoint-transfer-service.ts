import {
  CHECKPOINT_CHUNK_BYTES,
  manifestDigest,
  manifestPathProblem,
  MAX_MANIFEST_FILES,
  type ManifestFile,
} from "../domain/checkpoint-manifest.js";
import { DomainError, forbidden, invalid, notFound } from "../domain/index.js";
import type { CheckpointTransfer } from "../store/index.js";
import { describeManifest, failTransfer, OPEN_TRANSFER, transfersChanged } from "./checkpoint-copy.js";
import { formatBytes } from "./checkpoint-events.js";
import { CheckpointRelay, type Chunk, type ChunkRequest } from "./checkpoint-relay.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";

/** How long one long poll (source) or chunk request (destination) waits for the other end, ms. */
export const RELAY_WAIT_MS = 5000;
/** Largest checkpoint a copy carries: 10 TB. */
const MAX_COPY_BYTES = 10 * 1000 ** 4;

/** The node side of checkpoint copies: manifests, the chunk pipe, start, done and failure reports. */
export class CheckpointTransferService {
  readonly relay = new CheckpointRelay();

  constructor(private readonly ctx: Ctx) {}

  /** The transfer, if this node is its `role` end (another node gets 403, an unknown id 404). */
  private async own(p: Principal, id: string, role: "from" | "to"): Promise<CheckpointTransfer> {
    requireRole(p, "node");
    const nodeId = ownerOf(p);
    const t = await this.ctx.store.checkpoints.getTransfer(id);
    if (!t) throw notFound("checkpoint transfer", id);
    if ((role === "from" ? t.fromNodeId : t.toNodeId) !== nodeId)
      throw forbidden(`checkpoint transfer ${id} is not ${role === "from" ? "from" : "to"} this node`);
    return t;
  }

  private static closed(t: CheckpointTransfer): DomainError {
    return new DomainError(
      "conflict",
      `checkpoint transfer ${t.id} is ${t.state}${t.reason ? `: ${t.reason}` : ""}`,
    );
  }

  /** The source lists the checkpoint (every file's path, size, sha256); the copy starts. */
  async putManifest(p: Principal, id: string, files: ManifestFile[]): Promise<{ sha256: string }> {
    const t = await this.own(p, id, "from");
    if (!OPEN_TRANSFER.includes(t.state)) throw CheckpointTransferService.closed(t);
    if (files.length === 0 || files.length > MAX_MANIFEST_FILES)
      throw invalid(`a manifest lists 1 to ${MAX_MANIFEST_FILES} files`, { field: "files" });
    const seen = new Set<string>();
    let total = 0;
    for (const f of files) {
      const problem = manifestPathProblem(f.path);
      if (problem) throw invalid(`manifest: ${problem}`, { field: "files.path" });
      if (seen.has(f.path)) throw invalid(`manifest: "${f.path}" is listed twice`, { field: "files.path" });
      seen.add(f.path);
      total += f.size;
    }
    if (total > MAX_COPY_BYTES)
      throw invalid(`a checkpoint copy carries at most ${formatBytes(MAX_COPY_BYTES)}`, {
        field: "files.size",
      });
    const sha256 = manifestDigest(files);
    if (t.manifest) {
      // The source restarted: the same manifest goes on; another one would mix two checkpoints.
      if (t.sha256 === sha256) return { sha256 };
      throw new DomainError(
        "conflict",
        `checkpoint transfer ${id} already has another manifest (${t.sha256})`,
      );
    }
    const now = this.ctx.clock.now();
    const set = { state: "uploading" as const, manifest: { files }, sizeBytes: total, sha256 };
    if (!(await this.ctx.store.checkpoints.updateTransfer(id, ["requested"], set, now)))
      throw new DomainError(
        "conflict",
        `checkpoint transfer ${id} changed meanwhile; send the manifest again`,
      );
    await this.ctx.store.jobs.addEvent(
      t.jobId,
      now,
      "scheduled",
      `checkpoint copy ${id} started: ${describeManifest({ sizeBytes: total, manifest: { files } })} from node ${t.fromNodeId} to node ${t.toNodeId} through the control plane (manifest sha256 ${sha256.slice(0, 16)}…)`,
    );
    return { sha256 };
  }

  /** The destination reads the manifest (409 until the source sent it). */
  async getManifest(p: Principal, id: string): Promise<{ files: ManifestFile[]; sha256: string }> {
    const t = await this.own(p, id, "to");
    if (!OPEN_TRANSFER.includes(t.state) && t.state !== "delivered")
      throw CheckpointTransferService.closed(t);
    if (!t.manifest || !t.sha256)
      throw new DomainError("conflict", `node ${t.fromNodeId} has not listed the checkpoint yet; ask again`);
    return { files: t.manifest.files, sha256: t.sha256 };
  }

  /** The destination (re)starts fetching with `haveBytes` already verified on its disk. */
  async start(p: Principal, id: string, haveBytes: number): Promise<void> {
    const t = await this.own(p, id, "to");
    if (!OPEN_TRANSFER.includes(t.state)) throw CheckpointTransferService.closed(t);
    const total = t.sizeBytes ?? 0;
    const have = Math.max(0, Math.min(haveBytes, total));
    const now = this.ctx.clock.now();
    await this.ctx.store.checkpoints.updateTransfer(id, OPEN_TRANSFER, { receivedBytes: have }, now);
    if (have > 0)
      await this.ctx.store.jobs.addEvent(
        t.jobId,
        now,
        "scheduled",
        `checkpoint copy ${id} resumed at byte ${have} of ${total} (node ${t.toNodeId} kept the verified part)`,
      );
  }

  /** The source's long poll: the chunk to send next, null (ask again), or closed (stop serving). */
  async next(p: Principal, id: string): Promise<{ request: ChunkRequest | null; closed: boolean }> {
    const t = await this.own(p, id, "from");
    if (!OPEN_TRANSFER.includes(t.state)) return { request: null, closed: true };
    return { request: await this.relay.next(id, RELAY_WAIT_MS), closed: false };
  }

  /** The source's answer to request `reqId`: handed straight to the waiting destination. */
  async supply(
    p: Principal,
    id: string,
    reqId: string,
    bytes: Buffer,
    sha256: string,
  ): Promise<{ taken: boolean }> {
    await this.own(p, id, "from");
    const want = this.relay.open(id, reqId);
    if (!want) return { taken: false };
    if (bytes.length !== want.length)
      throw invalid(`chunk ${reqId} has ${bytes.length} bytes; ${want.length} were asked for`, {
        field: "body",
      });
    if (!/^[0-9a-f]{64}$/.test(sha256))
      throw invalid("the x-zumbido-sha256 header must be the chunk's sha256 in lower-case hex", {
        field: "x-zumbido-sha256",
      });
    return { taken: this.relay.supply(id, reqId, { bytes, sha256 }) };
  }

  /** The destination asks for a chunk; null when the source did not answer in time (ask again). */
  async fetch(p: Principal, id: string, file: number, offset: number, length: number): Promise<Chunk | null> {
    const t = await this.own(p, id, "to");
    if (!OPEN_TRANSFER.includes(t.state)) throw CheckpointTransferService.closed(t);
    const f = t.manifest?.files[file];
    if (!f) throw invalid(`file ${file} is not in the manifest`, { field: "file" });
    if (offset < 0 || length < 1 || length > CHECKPOINT_CHUNK_BYTES || offset + length > f.size)
      throw invalid(`a chunk of file ${file} is 1 to ${CHECKPOINT_CHUNK_BYTES} bytes inside its ${f.size}`, {
        field: "length",
      });
    const chunk = await this.relay.fetch(id, file, offset, length, RELAY_WAIT_MS);
    if (chunk) await this.progress(t, file, offset + length);
    return chunk;
  }

  /** Records bytes relayed (the whole files before `file`, then `upTo` of it); an event per quarter. */
  private async progress(t: CheckpointTransfer, file: number, upTo: number): Promise<void> {
    const files = t.manifest!.files;
    let done = upTo;
    for (let i = 0; i < file; i++) done += files[i]!.size;
    const total = t.sizeBytes ?? 0;
    const now = this.ctx.clock.now();
    const before = await this.ctx.store.checkpoints.getTransfer(t.id);
    await this.ctx.store.checkpoints.updateTransfer(t.id, OPEN_TRANSFER, { receivedBytes: done }, now);
    const quarter = (n: number): number => (total > 0 ? Math.floor((4 * n) / total) : 0);
    const q = quarter(done);
    if (before && q > quarter(before.receivedBytes) && q < 4)
      await this.ctx.store.jobs.addEvent(
        t.jobId,
        now,
        "scheduled",
        `checkpoint copy ${t.id}: ${q * 25}% (${formatBytes(done)} of ${formatBytes(total)})`,
      );
  }

  /** The destination verified every file against the manifest: the copy is delivered, the lease may start. */
  async done(p: Principal, id: string, sha256: string, bytes: number): Promise<void> {
    const t = await this.own(p, id, "to");
    if (t.state === "delivered") return;
    if (!OPEN_TRANSFER.includes(t.state)) throw CheckpointTransferService.closed(t);
    if (sha256 !== t.sha256 || bytes !== t.sizeBytes)
      throw invalid(
        `the copy does not match the manifest (sha256 ${t.sha256}, ${t.sizeBytes} bytes); fetch it again`,
        { field: "sha256" },
      );
    const now = this.ctx.clock.now();
    if (
      !(await this.ctx.store.checkpoints.updateTransfer(
        id,
        OPEN_TRANSFER,
        { state: "delivered", receivedBytes: bytes },
        now,
      ))
    )
      return;
    this.relay.close(id);
    transfersChanged(this.ctx);
    await this.ctx.store.jobs.addEvent(
      t.jobId,
      now,
      "scheduled",
      `checkpoint copy ${id} done: ${describeManifest(t)} on node ${t.toNodeId}, every file's sha256 verified there; lease ${t.leaseId} starts`,
    );
    this.ctx.nudge();
  }

  /** Either end reports that the copy cannot be made (e.g. the source's folder is gone). */
  async fail(p: Principal, id: string, reason: string): Promise<void> {
    requireRole(p, "node");
    const nodeId = ownerOf(p);
    const t = await this.ctx.store.checkpoints.getTransfer(id);
    if (!t) throw notFound("checkpoint transfer", id);
    if (t.fromNodeId !== nodeId && t.toNodeId !== nodeId)
      throw forbidden(`checkpoint transfer ${id} does not involve this node`);
    this.relay.close(id);
    await failTransfer(this.ctx, t, `node ${nodeId}: ${reason.slice(0, 500)}`, this.ctx.clock.now());
  }
}
