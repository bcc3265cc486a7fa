import { createHash } from "node:crypto";
import type { AgentVolumeTransfer, VolumeTransferView } from "../contract/index.js";
import {
  conflict,
  formatBytes,
  invalid,
  notFound,
  VOLUME_CHUNK_BYTES,
  VOLUME_RELAY_CHUNKS,
  volumeFilePathProblem,
} from "../domain/index.js";
import type { VolumeChunk, VolumeTransfer } from "../store/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";
import { pickStorageNode, VolumesService } from "./volumes-service.js";

/** A chunk taken from the relay (its offset, SHA-256 and bytes). */
export type TakenChunk = VolumeChunk;

/** What a sender's chunk put did: stored, or the relay is full (retry shortly). */
export type PutResult = { stored: true; transfer: VolumeTransferView } | { stored: false; full: true };

const SHA256 = /^[0-9a-f]{64}$/;

/** Open transfers with no progress for this long fail (their chunks are dropped). */
export const TRANSFER_IDLE_MS = 60 * 60 * 1000;

/**
 * Copies files into and out of volumes through the control plane: the sender puts numbered chunks
 * (each with its SHA-256), the receiver takes them in order; the relay holds at most
 * VOLUME_RELAY_CHUNKS chunks per transfer and drops each once the receiver asks for a later offset.
 * Uploads: the tenant sends, the node of the volume's site receives, checks the whole file's SHA-256
 * and renames it into place. Downloads: the node sends, the tenant receives. Both resume from the
 * transfer's counts.
 */
export class VolumeRelay {
  private readonly volumes: VolumesService;

  constructor(private readonly ctx: Ctx) {
    this.volumes = new VolumesService(ctx);
  }

  private now(): number {
    return this.ctx.clock.now();
  }

  /** Starts (or resumes: same path, size and SHA-256) an upload; refused, writing nothing, when it does not fit the volume. */
  async startUpload(
    p: Principal,
    volume: string,
    f: { path: string; sizeBytes: number; sha256: string },
  ): Promise<VolumeTransferView> {
    requireRole(p, "tenant");
    const v = await this.volumes.visible(p, volume);
    const bad = volumeFilePathProblem(f.path);
    if (bad) throw invalid(bad, { field: "path" });
    if (!SHA256.test(f.sha256))
      throw invalid("sha256: give the file's SHA-256 as 64 lowercase hex digits", { field: "sha256" });
    if (!Number.isSafeInteger(f.sizeBytes) || f.sizeBytes < 0)
      throw invalid("sizeBytes: whole bytes", { field: "sizeBytes" });
    const open = await this.ctx.store.volumes.openTransfers({ volumeId: v.id });
    const same = open.find(
      (t) =>
        t.direction === "upload" && t.path === f.path && t.sha256 === f.sha256 && t.sizeBytes === f.sizeBytes,
    );
    if (same) return view(same);
    const pending = open.filter((t) => t.direction === "upload").reduce((a, t) => a + (t.sizeBytes ?? 0), 0);
    if (v.usedBytes + pending + f.sizeBytes > v.sizeBytes)
      throw conflict(
        `volume ${v.name} is full: it holds ${formatBytes(v.usedBytes)}${pending ? ` (+${formatBytes(pending)} uploading)` : ""} of its ${formatBytes(v.sizeBytes)}; ${formatBytes(f.sizeBytes)} more does not fit. Nothing was written; delete files or create a larger volume`,
        { field: "sizeBytes" },
      );
    return view(await this.create(v.id, v.tenantId, v.siteId, "upload", f.path, f.sizeBytes, f.sha256));
  }

  /** Asks the volume's site for a file; its node sends it into the relay. */
  async startDownload(p: Principal, volume: string, path: string): Promise<VolumeTransferView> {
    requireRole(p, "tenant");
    const v = await this.volumes.visible(p, volume);
    const bad = volumeFilePathProblem(path);
    if (bad) throw invalid(bad, { field: "path" });
    return view(await this.create(v.id, v.tenantId, v.siteId, "download", path, null, null));
  }

  private async create(
    volumeId: string,
    tenantId: string,
    siteId: string,
    direction: "upload" | "download",
    path: string,
    sizeBytes: number | null,
    sha256: string | null,
  ): Promise<VolumeTransfer> {
    const node = await pickStorageNode(this.ctx, siteId);
    if (!node)
      throw conflict(`no node of site ${siteId} is online to serve its storage; try again when one is`);
    const now = this.now();
    const t: VolumeTransfer = {
      id: this.ctx.ids("vxf"),
      volumeId,
      tenantId,
      nodeId: node,
      direction,
      path,
      sizeBytes,
      sha256,
      state: "open",
      receivedBytes: 0,
      deliveredBytes: 0,
      reason: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.ctx.store.volumes.createTransfer(t);
    return t;
  }

  /** A transfer of one of the tenant's volumes (others: 404). */
  async transfer(p: Principal, volume: string, id: string): Promise<VolumeTransferView> {
    return view(await this.tenantTransfer(p, volume, id));
  }

  private async tenantTransfer(p: Principal, volume: string, id: string): Promise<VolumeTransfer> {
    const v = await this.volumes.visible(p, volume, { withDeleted: true });
    const t = await this.ctx.store.volumes.getTransfer(id);
    if (!t || t.volumeId !== v.id) throw notFound("transfer", id);
    return this.expire(t);
  }

  /** Fails a transfer idle past TRANSFER_IDLE_MS. */
  private async expire(t: VolumeTransfer): Promise<VolumeTransfer> {
    const now = this.now();
    if (t.state !== "open" || now - t.updatedAt < TRANSFER_IDLE_MS) return t;
    const reason = `no progress for ${TRANSFER_IDLE_MS / 60000} minutes; start it again`;
    await this.ctx.store.volumes.updateTransfer(t.id, { state: "failed", reason }, now);
    return { ...t, state: "failed", reason };
  }

  /** The tenant puts an upload's next chunk. */
  async tenantPut(
    p: Principal,
    volume: string,
    id: string,
    offset: number,
    sha256: string,
    data: Buffer,
  ): Promise<PutResult> {
    const t = await this.tenantTransfer(p, volume, id);
    if (t.direction !== "upload")
      throw invalid(`transfer ${id} is a ${t.direction}; chunks are put into uploads`);
    return this.put(t, offset, sha256, data);
  }

  /** The tenant takes a download's chunk at `offset` (it has every byte before it). */
  async tenantTake(
    p: Principal,
    volume: string,
    id: string,
    offset: number,
  ): Promise<VolumeChunk | VolumeTransferView> {
    const t = await this.tenantTransfer(p, volume, id);
    if (t.direction !== "download")
      throw invalid(`transfer ${id} is a ${t.direction}; chunks are taken from downloads`);
    return this.take(t, offset);
  }

  private async put(t: VolumeTransfer, offset: number, sha256: string, data: Buffer): Promise<PutResult> {
    if (t.state !== "open")
      throw conflict(`transfer ${t.id} is ${t.state}${t.reason ? `: ${t.reason}` : ""}`);
    if (data.length === 0 || data.length > VOLUME_CHUNK_BYTES)
      throw invalid(`a chunk has 1 to ${VOLUME_CHUNK_BYTES} bytes; this one has ${data.length}`);
    if (!SHA256.test(sha256) || createHash("sha256").update(data).digest("hex") !== sha256)
      throw invalid(
        `chunk at ${offset}: its SHA-256 does not match the x-zumbido-sha256 header; send it again`,
        {
          field: "sha256",
        },
      );
    if (offset !== t.receivedBytes)
      throw conflict(
        `transfer ${t.id} expects the chunk at offset ${t.receivedBytes}, not ${offset}; resume from there`,
        {
          field: "offset",
        },
      );
    if (t.sizeBytes !== null && offset + data.length > t.sizeBytes)
      throw invalid(`chunk at ${offset} runs past the file's ${t.sizeBytes} bytes`);
    if ((await this.ctx.store.volumes.chunksInFlight(t.id)) >= VOLUME_RELAY_CHUNKS)
      return { stored: false, full: true };
    const now = this.now();
    if (!(await this.ctx.store.volumes.putChunk(t.id, { offset, sha256, data }, now)))
      throw conflict(
        `transfer ${t.id} moved on (another sender?); ask for it again and resume from its receivedBytes`,
      );
    return { stored: true, transfer: view((await this.ctx.store.volumes.getTransfer(t.id))!) };
  }

  private async take(t: VolumeTransfer, offset: number): Promise<VolumeChunk | VolumeTransferView> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid("offset: whole bytes");
    if (t.state === "failed") throw conflict(`transfer ${t.id} failed: ${t.reason ?? "unknown"}`);
    const now = this.now();
    const chunk = await this.ctx.store.volumes.takeChunk(t.id, Math.max(offset, t.deliveredBytes), now);
    if (t.direction === "download" && t.sizeBytes !== null && offset >= t.sizeBytes && t.state === "open") {
      await this.ctx.store.volumes.updateTransfer(t.id, { state: "done" }, now);
      return view({ ...t, state: "done", deliveredBytes: offset });
    }
    return chunk ?? view((await this.ctx.store.volumes.getTransfer(t.id))!);
  }

  // ---- The node's side. ----

  /** Open transfers this node serves. */
  async work(p: Principal): Promise<AgentVolumeTransfer[]> {
    requireRole(p, "node");
    const nodeId = ownerOf(p);
    const out: AgentVolumeTransfer[] = [];
    for (const t of await this.ctx.store.volumes.openTransfers({ nodeId })) {
      const e = await this.expire(t);
      if (e.state === "open") out.push({ ...view(e), nodeId });
    }
    return out;
  }

  private async nodeTransfer(p: Principal, id: string): Promise<VolumeTransfer> {
    requireRole(p, "node");
    const t = await this.ctx.store.volumes.getTransfer(id);
    if (!t || t.nodeId !== ownerOf(p)) throw notFound("transfer", id);
    return t;
  }

  /** The node takes an upload's chunk at `offset`. */
  async nodeTake(p: Principal, id: string, offset: number): Promise<VolumeChunk | VolumeTransferView> {
    const t = await this.nodeTransfer(p, id);
    if (t.direction !== "upload") throw invalid(`transfer ${id} is not an upload`);
    return this.take(t, offset);
  }

  /** The node states a download's size and SHA-256 before sending it. */
  async nodeMeta(
    p: Principal,
    id: string,
    m: { sizeBytes: number; sha256: string },
  ): Promise<VolumeTransferView> {
    const t = await this.nodeTransfer(p, id);
    if (t.direction !== "download" || t.state !== "open") throw conflict(`transfer ${id} takes no size now`);
    if (!SHA256.test(m.sha256) || !Number.isSafeInteger(m.sizeBytes) || m.sizeBytes < 0)
      throw invalid("give sizeBytes (whole bytes) and sha256 (64 hex digits)");
    const v = await this.ctx.store.volumes.getVolume(t.volumeId);
    if (v && m.sizeBytes > v.sizeBytes)
      throw invalid(`a file of ${m.sizeBytes} bytes cannot be in a ${v.sizeBytes}-byte volume`);
    if (t.sizeBytes === null)
      await this.ctx.store.volumes.updateTransfer(
        id,
        { sizeBytes: m.sizeBytes, sha256: m.sha256 },
        this.now(),
      );
    return view((await this.ctx.store.volumes.getTransfer(id))!);
  }

  /** The node puts a download's next chunk. */
  async nodePut(p: Principal, id: string, offset: number, sha256: string, data: Buffer): Promise<PutResult> {
    const t = await this.nodeTransfer(p, id);
    if (t.direction !== "download") throw invalid(`transfer ${id} is not a download`);
    if (t.sizeBytes === null) throw conflict(`transfer ${id}: state the file's size and SHA-256 first`);
    return this.put(t, offset, sha256, data);
  }

  /** The node ends a transfer: done (with the volume's measured bytes) or failed (with why). */
  async nodeEnd(
    p: Principal,
    id: string,
    end: { ok: boolean; reason?: string; usedBytes?: number },
  ): Promise<VolumeTransferView> {
    const t = await this.nodeTransfer(p, id);
    const now = this.now();
    if (t.state === "open") {
      if (end.ok && t.direction === "upload" && t.deliveredBytes < (t.sizeBytes ?? 0))
        throw conflict(`upload ${id} is not complete: ${t.deliveredBytes} of ${t.sizeBytes} bytes taken`);
      await this.ctx.store.volumes.updateTransfer(
        id,
        end.ok
          ? { state: "done" }
          : { state: "failed", reason: (end.reason ?? "failed on the node").slice(0, 500) },
        now,
      );
    }
    if (end.usedBytes !== undefined && Number.isSafeInteger(end.usedBytes) && end.usedBytes >= 0)
      await this.ctx.store.volumes.setUsed(t.volumeId, end.usedBytes);
    return view((await this.ctx.store.volumes.getTransfer(id))!);
  }
}

/** The wire view of a transfer. */
function view(t: VolumeTransfer): VolumeTransferView {
  return {
    id: t.id,
    volumeId: t.volumeId,
    direction: t.direction,
    path: t.path,
    sizeBytes: t.sizeBytes,
    sha256: t.sha256,
    state: t.state,
    receivedBytes: t.receivedBytes,
    deliveredBytes: t.deliveredBytes,
    reason: t.reason,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}
