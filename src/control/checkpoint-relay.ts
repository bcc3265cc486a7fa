/**
 * The control plane's pipe for checkpoint copies: it pairs the destination node's request for a chunk
 * (file, offset, length) with the source node's answer and hands the bytes straight through. Both
 * nodes connect out to the control plane (they may be behind NAT); nothing is stored: at most one
 * chunk per transfer is in memory, for as long as the destination's request is open.
 */

/** A chunk the destination asked for. */
export interface ChunkRequest {
  reqId: string;
  file: number;
  offset: number;
  length: number;
}

/** A chunk as the source sent it: the bytes and the sha256 it computed of them. */
export interface Chunk {
  bytes: Buffer;
  sha256: string;
}

interface Want extends ChunkRequest {
  resolve: (c: Chunk | null) => void;
  timer: NodeJS.Timeout;
}

interface Poll {
  resolve: (r: ChunkRequest | null) => void;
  timer: NodeJS.Timeout;
}

/** One process's pairing of chunk requests with chunk answers (both ends must reach the same replica). */
export class CheckpointRelay {
  private readonly wants = new Map<string, Want>();
  private readonly polls = new Map<string, Poll>();
  private seq = 0;

  /** The destination asks for a chunk; resolves with it, or null when the source did not answer in `waitMs`. */
  fetch(
    transferId: string,
    file: number,
    offset: number,
    length: number,
    waitMs: number,
  ): Promise<Chunk | null> {
    // One request per transfer: a newer one (the destination retried) replaces the older.
    this.dropWant(transferId);
    return new Promise((resolve) => {
      const want: Want = {
        reqId: `${transferId}.${++this.seq}`,
        file,
        offset,
        length,
        resolve,
        timer: setTimeout(() => {
          if (this.wants.get(transferId) === want) this.wants.delete(transferId);
          resolve(null);
        }, waitMs),
      };
      this.wants.set(transferId, want);
      const poll = this.polls.get(transferId);
      if (poll) {
        this.polls.delete(transferId);
        clearTimeout(poll.timer);
        poll.resolve(requestOf(want));
      }
    });
  }

  /** The source asks what to send; resolves with the open request, or null after `waitMs`. */
  next(transferId: string, waitMs: number): Promise<ChunkRequest | null> {
    const want = this.wants.get(transferId);
    if (want) return Promise.resolve(requestOf(want));
    const old = this.polls.get(transferId);
    if (old) {
      clearTimeout(old.timer);
      old.resolve(null);
    }
    return new Promise((resolve) => {
      const poll: Poll = {
        resolve,
        timer: setTimeout(() => {
          if (this.polls.get(transferId) === poll) this.polls.delete(transferId);
          resolve(null);
        }, waitMs),
      };
      this.polls.set(transferId, poll);
    });
  }

  /** The source answers request `reqId`; false when nobody waits for it any more. */
  supply(transferId: string, reqId: string, chunk: Chunk): boolean {
    const want = this.wants.get(transferId);
    if (!want || want.reqId !== reqId) return false;
    this.wants.delete(transferId);
    clearTimeout(want.timer);
    want.resolve(chunk);
    return true;
  }

  /** The request open for a transfer, if any (to check an answer's length before reading it). */
  open(transferId: string, reqId: string): ChunkRequest | undefined {
    const want = this.wants.get(transferId);
    return want && want.reqId === reqId ? requestOf(want) : undefined;
  }

  /** Forgets a transfer: waiting requests are answered null. */
  close(transferId: string): void {
    this.dropWant(transferId);
    const poll = this.polls.get(transferId);
    if (poll) {
      this.polls.delete(transferId);
      clearTimeout(poll.timer);
      poll.resolve(null);
    }
  }

  /** Chunks in memory now (for tests and metrics): at most one per transfer. */
  inFlight(): number {
    return this.wants.size;
  }

  private dropWant(transferId: string): void {
    const want = this.wants.get(transferId);
    if (!want) return;
    this.wants.delete(transferId);
    clearTimeout(want.timer);
    want.resolve(null);
  }
}

function requestOf(w: Want): ChunkRequest {
  return { reqId: w.reqId, file: w.file, offset: w.offset, length: w.length };
}
