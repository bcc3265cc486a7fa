import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { LogChunk } from "../executor.js";

const READ_BLOCK = 64 * 1024;

/** How far a LogTail has read; persisted so that a restarted agent does not ship logs twice. */
export interface LogTailState {
  stdout: number;
  stderr: number;
  shipped: number;
  truncated: boolean;
}

/** Reads what a workload appended to stdout.log / stderr.log since the last drain, within a per-lease byte cap. */
export class LogTail {
  private readonly offsets: { stdout: number; stderr: number };
  private readonly decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  private shipped: number;
  private truncated: boolean;

  constructor(
    private readonly dir: string,
    private readonly capBytes: number,
    private readonly leaseId: string,
    from?: LogTailState,
  ) {
    this.offsets = { stdout: from?.stdout ?? 0, stderr: from?.stderr ?? 0 };
    this.shipped = from?.shipped ?? 0;
    this.truncated = from?.truncated ?? false;
  }

  /** Where reading stands, to persist. */
  state(): LogTailState {
    return { ...this.offsets, shipped: this.shipped, truncated: this.truncated };
  }

  /** New output of both streams; after capBytes, one notice on stderr and nothing more. */
  drain(): LogChunk[] {
    const leaseId = this.leaseId;
    const chunks: LogChunk[] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.truncated) break;
      const file = join(this.dir, `${stream}.log`);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        continue;
      }
      if (size <= this.offsets[stream]) continue;
      const room = this.capBytes - this.shipped;
      const want = Math.min(size - this.offsets[stream], room);
      if (want > 0) {
        const buf = readRange(file, this.offsets[stream], want);
        this.offsets[stream] += buf.length;
        this.shipped += buf.length;
        const text = this.decoders[stream].write(buf);
        if (text) chunks.push({ leaseId, stream, text });
      }
      if (size > this.offsets[stream] && this.shipped >= this.capBytes) {
        this.truncated = true;
        chunks.push({
          leaseId,
          stream: "stderr",
          text: `\n[zumbido] log output truncated: the cap of ${this.capBytes} bytes per lease was reached; further output is dropped\n`,
        });
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
      const n = readSync(fd, buf, got, Math.min(READ_BLOCK, length - got), offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
