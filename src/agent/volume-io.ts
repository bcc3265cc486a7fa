// Moving one file through the control plane's volume relay, in SHA-256-checked chunks; shared by
// the agent (the volume's side) and the CLI (the tenant's side). Both ends resume from what they
// have: a sender from the relay's received count, a receiver from its partial file's size.
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readSync, statSync, writeSync } from "node:fs";
import { VOLUME_CHUNK_BYTES } from "../domain/index.js";
import { ApiError, type ApiClient } from "./client.js";

/** Waits `ms` (injected in tests). */
export type Sleep = (ms: number) => Promise<void>;
/** Real waiting. */
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** SHA-256 of a file, hex, read as a stream. */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

function problemOf(status: number, data: Buffer): ApiError {
  let json: unknown;
  try {
    json = JSON.parse(data.toString("utf8"));
  } catch {
    json = data.toString("utf8");
  }
  const detail = (json as { detail?: string } | undefined)?.detail ?? String(json);
  return new ApiError(status, detail, json);
}

/**
 * Sends `file` from byte `from` to its end as chunks PUT to `url(offset)`; a full relay (503) is
 * waited out. `until` stops early (returns the next offset) when it returns true.
 */
export async function sendChunks(
  client: ApiClient,
  url: (offset: number) => string,
  file: string,
  from: number,
  sleep: Sleep,
  until: () => boolean = () => false,
): Promise<number> {
  const size = statSync(file).size;
  const fd = openSync(file, "r");
  const buf = Buffer.alloc(VOLUME_CHUNK_BYTES);
  let offset = from;
  try {
    while (offset < size) {
      if (until()) return offset;
      const n = readSync(fd, buf, 0, Math.min(VOLUME_CHUNK_BYTES, size - offset), offset);
      const chunk = buf.subarray(0, n);
      const sha = createHash("sha256").update(chunk).digest("hex");
      const r = await client.bytes("PUT", url(offset), chunk, { "x-zumbido-sha256": sha });
      if (r.status === 503) {
        await sleep(250);
        continue;
      }
      if (r.status !== 200) throw problemOf(r.status, r.data);
      offset += n;
    }
    return offset;
  } finally {
    closeSync(fd);
  }
}

/**
 * Takes chunks from `url(offset)` into `partial` (appending; resumes from its size) until it holds
 * `size()` bytes, checking each chunk's SHA-256. Waits while the relay has nothing yet; stops when
 * the transfer says it failed, or `until` says so. Returns the bytes held.
 */
export async function receiveChunks(
  client: ApiClient,
  url: (offset: number) => string,
  partial: string,
  size: () => number | null,
  sleep: Sleep,
  until: () => boolean = () => false,
): Promise<number> {
  const fd = openSync(partial, "a");
  let offset = statSync(partial).size;
  try {
    for (;;) {
      const want = size();
      if ((want !== null && offset >= want) || until()) return offset;
      const r = await client.bytes("GET", url(offset));
      if (r.status === 202) {
        const t = JSON.parse(r.data.toString("utf8")) as {
          state: string;
          reason: string | null;
          sizeBytes: number | null;
        };
        if (t.state === "failed") throw new Error(`the copy failed: ${t.reason ?? "unknown"}`);
        if (t.sizeBytes !== null && offset >= t.sizeBytes) return offset;
        await sleep(200);
        continue;
      }
      if (r.status !== 200) throw problemOf(r.status, r.data);
      const at = Number(r.headers.get("x-zumbido-offset"));
      const sha = r.headers.get("x-zumbido-sha256");
      if (at !== offset || createHash("sha256").update(r.data).digest("hex") !== sha)
        throw new Error(
          `chunk at ${offset} arrived damaged (offset or SHA-256 differ); run the copy again to resume`,
        );
      writeSync(fd, r.data);
      offset += r.data.length;
    }
  } finally {
    closeSync(fd);
  }
}
