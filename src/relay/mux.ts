// Many byte streams over one WebSocket, with per-stream credit flow control: a sender has
// WINDOW_BYTES of credit per stream and gets more only as the receiver's reader consumes bytes, so a
// slow reader makes the far side wait instead of making anyone buffer without bound.
import { Duplex, Readable } from "node:stream";
import type { WebSocket } from "ws";
import {
  credit,
  decode,
  encode,
  F,
  MAX_DATA_BYTES,
  MAX_STREAMS,
  targetProblem,
  WINDOW_BYTES,
  type OpenRequest,
} from "./frames.js";

/** How an exec stream's process ended: its exit code (128 + signal number when a signal ended it), null if unknown. */
export type ExitCode = number | null;

/** One stream of a {@link Mux}: a Duplex of the stream's bytes; exec streams also carry stderr and an exit code. */
export class MuxStream extends Duplex {
  /** Exec streams: the process's stderr (ends with the stream). */
  readonly stderr: Readable;
  /** Exec streams: the exit code, once the agent reports it; null when the stream ended without one. */
  readonly exit: Promise<ExitCode>;
  private resolveExit!: (c: ExitCode) => void;
  private sendCredit = WINDOW_BYTES;
  /** Writers waiting for credit: stdout (_write) and stderr (writeStderr) may both wait at once. */
  private readonly waiters = new Set<() => void>();
  private ungranted = 0;
  /** Whether a reader's buffer is full: its last push returned false and it has not asked for more since. */
  private outFull = false;
  private errFull = false;
  private remoteEnded = false;
  private peerReset = false;
  private readonly opened: Promise<void>;
  private settleOpen!: (err?: Error) => void;

  constructor(
    private readonly mux: Mux,
    readonly id: number,
    readonly request: OpenRequest,
  ) {
    super({ allowHalfOpen: true });
    this.stderr = new Readable({
      read: () => {
        this.errFull = false;
        this.grant();
      },
    });
    this.exit = new Promise((r) => (this.resolveExit = r));
    this.opened = new Promise<void>((res, rej) => {
      this.settleOpen = (err) => (err ? rej(err) : res());
    });
    this.opened.catch(() => undefined);
    // A stream ends with an error whenever the far side or the connection goes away; whoever reads it
    // sees that through their own listeners or pipeline(); it must never crash the process.
    this.on("error", () => undefined);
    this.stderr.on("error", () => undefined);
  }

  /** Resolves once the far side accepted the stream; rejects with its reason otherwise. */
  whenOpen(): Promise<void> {
    return this.opened;
  }

  /** Agent side: tells the hub the stream is open. */
  accept(): void {
    this.mux.send(encode(F.OPENED, this.id));
  }

  /** Agent side, exec: stderr bytes (respecting the same credit as stdout). */
  async writeStderr(chunk: Buffer): Promise<void> {
    await this.sendData(F.STDERR, chunk);
  }

  /** Agent side, exec: reports the exit code (before ending the stream). */
  sendExit(code: ExitCode): void {
    this.mux.send(encode(F.EXIT, this.id, JSON.stringify({ code })));
  }

  override _read(): void {
    // Node calls _read once this read leaves the buffer below its high-water mark (the chunk being
    // read still counts in readableLength here), and not again until the next push: so this is
    // the signal to grant, whatever readableLength says now.
    this.outFull = false;
    this.grant();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendData(F.DATA, chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.mux.send(encode(F.END, this.id));
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const clean = this.remoteEnded && this.writableFinished;
    if (!clean && !this.peerReset) this.mux.send(encode(F.RESET, this.id, err?.message ?? "stream closed"));
    this.mux.forget(this.id);
    this.settleOpen(err ?? new Error("stream closed"));
    this.resolveExit(null);
    this.wake();
    if (!this.stderr.destroyed) {
      if (clean) this.stderr.push(null);
      else this.stderr.destroy();
    }
    cb(err);
  }

  private async sendData(type: typeof F.DATA | typeof F.STDERR, chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      while (this.sendCredit <= 0) {
        if (this.destroyed) throw new Error("stream closed");
        await new Promise<void>((r) => this.waiters.add(r));
      }
      if (this.destroyed) throw new Error("stream closed");
      const n = Math.min(chunk.length - off, this.sendCredit, MAX_DATA_BYTES);
      this.sendCredit -= n;
      this.mux.send(encode(type, this.id, chunk.subarray(off, off + n)));
      this.mux.activity(this);
      off += n;
    }
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Grants the far side credit for what the readers took, once neither reader is full. */
  private grant(): void {
    if (this.ungranted === 0 || this.destroyed || this.outFull || this.errFull) return;
    this.mux.send(credit(this.id, this.ungranted));
    this.ungranted = 0;
  }

  /** A frame for this stream from the far side. */
  onFrame(type: number, payload: Buffer): void {
    switch (type) {
      case F.OPENED:
        this.settleOpen();
        return;
      case F.DATA:
      case F.STDERR:
        if (this.remoteEnded) return this.protocolError("data after the end of the stream");
        this.ungranted += payload.length;
        if (this.ungranted > WINDOW_BYTES)
          return this.protocolError("the sender overran its flow-control window");
        this.mux.activity(this);
        if (type === F.DATA) this.outFull = !this.push(Buffer.from(payload));
        else if (!this.stderr.destroyed) this.errFull = !this.stderr.push(Buffer.from(payload));
        this.grant();
        return;
      case F.END:
        if (this.remoteEnded) return;
        this.remoteEnded = true;
        this.push(null);
        if (!this.stderr.destroyed) this.stderr.push(null);
        return;
      case F.CREDIT: {
        const n = payload.length === 4 ? payload.readUInt32BE(0) : -1;
        if (n <= 0 || this.sendCredit + n > WINDOW_BYTES) return this.protocolError("a bad credit grant");
        this.sendCredit += n;
        this.wake();
        return;
      }
      case F.EXIT: {
        let code: ExitCode = null;
        try {
          const c = (JSON.parse(payload.toString("utf8")) as { code?: unknown }).code;
          if (typeof c === "number" && Number.isInteger(c) && c >= 0 && c <= 255) code = c;
        } catch {
          // a malformed exit report counts as unknown
        }
        this.resolveExit(code);
        return;
      }
      case F.RESET:
        this.peerReset = true;
        this.destroy(
          new Error(payload.subarray(0, 1024).toString("utf8") || "the far side closed the stream"),
        );
        return;
      default:
        this.protocolError(`unknown frame type ${type}`);
    }
  }

  private protocolError(what: string): void {
    this.destroy(new Error(`relay protocol error: ${what}`));
  }
}

export interface MuxOptions {
  /** Called on every DATA frame sent or received (for idle tracking). */
  onActivity?: (s: MuxStream) => void;
  /** Agent side: a stream the hub asked to open; call s.accept() once it is, or destroy it with the reason. */
  onOpen?: (s: MuxStream) => void;
}

/** The streams of one relay WebSocket (either side). */
export class Mux {
  private readonly streams = new Map<number, MuxStream>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: MuxOptions = {},
  ) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.onMessage(data);
    });
    ws.on("close", () => this.close("the relay connection closed"));
    ws.on("error", () => this.close("the relay connection failed"));
  }

  get size(): number {
    return this.streams.size;
  }

  /** Hub side: opens a stream on the agent; resolves once the agent accepted it. */
  async open(req: OpenRequest, timeoutMs = 15_000): Promise<MuxStream> {
    if (this.closed) throw new Error("the relay connection is closed");
    if (this.streams.size >= MAX_STREAMS)
      throw new Error(`the node's relay carries ${MAX_STREAMS} streams already`);
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const s = new MuxStream(this, id, req);
    this.streams.set(id, s);
    this.send(encode(F.OPEN, id, JSON.stringify(req)));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        s.whenOpen(),
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new Error("the node did not open the stream in time")), timeoutMs);
        }),
      ]);
    } catch (err) {
      s.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return s;
  }

  send(frame: Buffer): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(frame);
  }

  activity(s: MuxStream): void {
    this.opts.onActivity?.(s);
  }

  forget(id: number): void {
    this.streams.delete(id);
  }

  /** Ends every stream with the reason and closes the WebSocket. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.destroy(new Error(reason));
    this.streams.clear();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
  }

  private onMessage(buf: Buffer): void {
    const f = decode(buf);
    if (!f) return;
    if (f.type === F.OPEN) return this.onOpenFrame(f.id, f.payload);
    this.streams.get(f.id)?.onFrame(f.type, f.payload);
  }

  private onOpenFrame(id: number, payload: Buffer): void {
    const reset = (why: string): void => this.send(encode(F.RESET, id, why));
    if (!this.opts.onOpen) return reset("this side opens no streams");
    if (this.streams.has(id)) return reset("stream id in use");
    if (this.streams.size >= MAX_STREAMS) return reset(`this node carries ${MAX_STREAMS} streams already`);
    let req: OpenRequest;
    try {
      req = JSON.parse(payload.toString("utf8")) as OpenRequest;
    } catch {
      return reset("the open request is not JSON");
    }
    const bad =
      typeof req?.jobId !== "string" || typeof req.leaseId !== "string"
        ? "the open request names no job and lease"
        : targetProblem(req.target);
    if (bad) return reset(bad);
    const s = new MuxStream(this, id, req);
    this.streams.set(id, s);
    this.opts.onOpen(s);
  }
}
