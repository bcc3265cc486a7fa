// Moves bytes between a WebSocket and Node streams with backpressure both ways: a full writable
// pauses the WebSocket's reads; a WebSocket whose send buffer is full pauses the readable.
import type { Readable, Writable } from "node:stream";
import type { WebSocket } from "ws";

/** Bytes one source may have queued on a WebSocket before it is paused. */
const SEND_HIGH_WATER = 1024 * 1024;

/** The exec protocol's channel bytes (first byte of each binary message). */
export const CH = { STDIN: 0, STDOUT: 1, STDERR: 2, EXIT: 3, STDIN_EOF: 4 } as const;

/** Sends a readable's chunks as binary messages (each prefixed with `channel` if given); resolves at its end. */
export function sendReadable(ws: WebSocket, src: Readable, channel?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // This source's own bytes not yet written out: counted per source, so that its own send
    // callbacks always see it fall and resume it, even while another source (stdout and stderr
    // share one WebSocket) keeps the WebSocket's buffer full.
    let queued = 0;
    const onData = (chunk: Buffer): void => {
      if (ws.readyState !== ws.OPEN) return;
      const msg = channel === undefined ? chunk : Buffer.concat([Buffer.of(channel), chunk]);
      queued += msg.length;
      ws.send(msg, () => {
        queued -= msg.length;
        if (src.isPaused() && queued < SEND_HIGH_WATER / 2) src.resume();
      });
      if (queued >= SEND_HIGH_WATER) src.pause();
    };
    src.on("data", onData);
    src.once("end", () => resolve());
    src.once("error", reject);
    src.once("close", () => resolve());
  });
}

/** Writes a message's bytes to a writable, pausing the WebSocket while the writable is full. */
export function writeFromWs(ws: WebSocket, dst: Writable, bytes: Buffer): void {
  if (dst.destroyed || dst.writableEnded) return;
  if (!dst.write(bytes) && !ws.isPaused) {
    ws.pause();
    const resume = (): void => {
      dst.off("drain", resume);
      dst.off("close", resume);
      ws.resume();
    };
    dst.on("drain", resume);
    dst.on("close", resume);
  }
}

/** The first 123 bytes of a reason (the most a WebSocket close frame carries). */
export function closeReason(s: string): string {
  let r = s;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

/**
 * Joins a WebSocket and a raw byte stream (TCP port forwarding): binary messages are the bytes.
 * The stream's end closes the WebSocket normally; the WebSocket's close ends the stream.
 */
export function bridgeRaw(ws: WebSocket, stream: Readable & Writable): void {
  ws.on("message", (data: Buffer) => writeFromWs(ws, stream, data));
  ws.on("close", () => {
    if (!stream.writableEnded) stream.end();
    // Whatever the far side still sends has nowhere to go.
    setTimeout(() => stream.destroy(), 1000).unref();
  });
  ws.on("error", () => stream.destroy());
  sendReadable(ws, stream).then(
    () => ws.readyState === ws.OPEN && ws.close(1000),
    (err: Error) => ws.readyState === ws.OPEN && ws.close(1011, closeReason(err.message)),
  );
}
