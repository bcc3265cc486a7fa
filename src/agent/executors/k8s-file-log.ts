import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { LogChunk } from "../executor.js";
import type { LogTailState } from "./log-tail.js";

/** Reads what the log driver wrote since the last drain and a per-lease byte cap. */
export interface LogReader {
  drain(): LogChunk[];
  state(): LogTailState;
}

const MAX_READ = 1024 * 1024;

/**
 * Tails a podman/CRI "k8s-file" log (`<time> <stdout|stderr> <P|F> <text>` per line; P = partial line
 * continued on the next). Only whole lines are consumed, so a line being written is read next time.
 * State: `stdout` holds the byte offset in the file; `shipped` counts the workload's bytes.
 */
export class K8sFileLogTail implements LogReader {
  private offset: number;
  private shipped: number;
  private truncated: boolean;

  constructor(
    private readonly file: string,
    private readonly capBytes: number,
    private readonly leaseId: string,
    from?: LogTailState,
  ) {
    this.offset = from?.stdout ?? 0;
    this.shipped = from?.shipped ?? 0;
    this.truncated = from?.truncated ?? false;
  }

  /** Where reading stands, to persist. */
  state(): LogTailState {
    return { stdout: this.offset, stderr: 0, shipped: this.shipped, truncated: this.truncated };
  }

  /** The workload's output since the last call, grouped by stream in order; one notice past the cap. */
  drain(): LogChunk[] {
    if (this.truncated) return [];
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return [];
    }
    if (size <= this.offset) return [];
    const buf = readRange(this.file, this.offset, Math.min(size - this.offset, MAX_READ));
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return [];
    const text = buf.subarray(0, end + 1).toString("utf8");
    this.offset += end + 1;
    const chunks: LogChunk[] = [];
    for (const line of text.split("\n")) {
      const m = /^\S+ (stdout|stderr) ([PF]) ?(.*)$/s.exec(line);
      if (!m) continue;
      const stream = m[1] as "stdout" | "stderr";
      let piece = m[2] === "F" ? `${m[3]}\n` : m[3]!;
      const room = this.capBytes - this.shipped;
      if (Buffer.byteLength(piece) > room) {
        piece = Buffer.from(piece).subarray(0, Math.max(0, room)).toString("utf8");
        this.truncated = true;
      }
      this.shipped += Buffer.byteLength(piece);
      const last = chunks.at(-1);
      if (piece) {
        if (last && last.stream === stream) last.text += piece;
        else chunks.push({ leaseId: this.leaseId, stream, text: piece });
      }
      if (this.truncated) {
        chunks.push({
          leaseId: this.leaseId,
          stream: "stderr",
          text: `\n[zumbido] log output truncated: the cap of ${this.capBytes} bytes per lease was reached; further output is dropped\n`,
        });
        break;
      }
    }
    return chunks;
  }
}

function readRange(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
