// The relay's wire format between the control plane (hub) and a node agent: one WebSocket carries
// many streams; each binary message is one frame: [type u8][stream id u32 BE][payload].

/** Frame types. */
export const F = {
  /** hub -> agent: open a stream; payload JSON {@link OpenRequest}. */
  OPEN: 1,
  /** agent -> hub: the stream is open (the process started, the port answered). */
  OPENED: 2,
  /** Bytes of the stream (exec: stdin towards the agent, stdout towards the hub). */
  DATA: 3,
  /** The sender will send no more bytes on this stream (half-close). */
  END: 4,
  /** The stream is over with an error; payload: the reason in words (UTF-8). */
  RESET: 5,
  /** The receiver consumed bytes: payload u32, the sender may send that many more. */
  CREDIT: 6,
  /** agent -> hub, exec only: bytes of the process's stderr. */
  STDERR: 7,
  /** agent -> hub, exec only: payload JSON {code: number | null, signal?: string}. */
  EXIT: 8,
} as const;

export type FrameType = (typeof F)[keyof typeof F];

/** What a stream opens into: a TCP port inside the workload, or a process started in it. */
export type RelayTarget =
  { kind: "tcp"; port: number } | { kind: "exec"; argv: string[]; tty?: boolean; stdin?: boolean };

/** The OPEN frame's payload. */
export interface OpenRequest {
  jobId: string;
  leaseId: string;
  target: RelayTarget;
}

/** Bytes in flight per stream and direction before the receiver grants more (flow control). */
export const WINDOW_BYTES = 256 * 1024;
/** Largest DATA payload in one frame. */
export const MAX_DATA_BYTES = 64 * 1024;
/** Largest frame either side accepts (WebSocket maxPayload). */
export const MAX_FRAME_BYTES = MAX_DATA_BYTES + 5;
/** Streams one agent connection may carry at once. */
export const MAX_STREAMS = 256;

export function encode(type: FrameType, id: number, payload?: Buffer | string): Buffer {
  const body =
    payload === undefined ? Buffer.alloc(0) : typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.allocUnsafe(5);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(id, 1);
  return body.length ? Buffer.concat([head, body]) : head;
}

export function credit(id: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b.writeUInt8(F.CREDIT, 0);
  b.writeUInt32BE(id, 1);
  b.writeUInt32BE(n, 5);
  return b;
}

/** Splits a frame; undefined when it is too short to be one. */
export function decode(buf: Buffer): { type: number; id: number; payload: Buffer } | undefined {
  if (buf.length < 5) return undefined;
  return { type: buf.readUInt8(0), id: buf.readUInt32BE(1), payload: buf.subarray(5) };
}

const MAX_ARGS = 256;
const MAX_ARGV_BYTES = 64 * 1024;

/** Checks a target from an untrusted side; the problem in words, or undefined when it is fine. */
export function targetProblem(t: unknown): string | undefined {
  const o = t as Partial<Record<string, unknown>> | null;
  if (!o || typeof o !== "object") return "the target must be an object";
  if (o.kind === "tcp") {
    const p = o.port;
    return typeof p === "number" && Number.isInteger(p) && p >= 1 && p <= 65535
      ? undefined
      : "the port must be a whole number from 1 to 65535";
  }
  if (o.kind === "exec") {
    const a = o.argv;
    if (!Array.isArray(a) || a.length === 0 || a.length > MAX_ARGS)
      return `the command must have 1 to ${MAX_ARGS} arguments`;
    if (!a.every((x) => typeof x === "string" && !x.includes("\0")))
      return "each argument of the command must be a string without NUL bytes";
    if (Buffer.byteLength((a as string[]).join("")) > MAX_ARGV_BYTES)
      return `the command is longer than ${MAX_ARGV_BYTES} bytes`;
    if (o.tty !== undefined && typeof o.tty !== "boolean") return "tty must be true or false";
    if (o.stdin !== undefined && typeof o.stdin !== "boolean") return "stdin must be true or false";
    return undefined;
  }
  return 'the target kind must be "tcp" or "exec"';
}
