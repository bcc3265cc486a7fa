/**
 * Batched liveness writes. A heartbeat that changes nothing but the node's liveness is not written
 * one UPDATE each: its time is kept here and written with the others as one batched UPDATE every
 * `intervalMs` (or as soon as `maxBatch` nodes wait). Reads on this replica see the buffered time;
 * failure detection flushes first and skips nodes whose fresh heartbeat is still buffered.
 *
 * Bound (several replicas): a heartbeat reaches the store at most `intervalMs` plus one flush after
 * it arrived, so a node is never marked offline while it heartbeats as long as
 * heartbeat interval + liveness batch interval + flush time < heartbeat timeout. The server keeps the
 * interval at most a third of the timeout and the batch interval at most a quarter of it.
 */
export class LivenessBatch {
  private pending = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  /** A flush is queued and has not started yet (no need to queue another). */
  private queued = false;

  constructor(
    private readonly write: (entries: [string, number][]) => Promise<void>,
    private readonly opts: { intervalMs: number; maxBatch?: number; onError?: (err: unknown) => void },
  ) {
    this.timer = setInterval(() => this.kick(), opts.intervalMs);
    this.timer.unref();
  }

  /** Records that node `id` was alive at `at` (the latest time wins). */
  touch(id: string, at: number): void {
    if ((this.pending.get(id) ?? Number.NEGATIVE_INFINITY) < at) this.pending.set(id, at);
    if (this.pending.size >= (this.opts.maxBatch ?? 1000)) this.kick();
  }

  /** The buffered (not yet written) liveness time of node `id`, if any. */
  buffered(id: string): number | undefined {
    return this.pending.get(id);
  }

  /** Forgets node `id` (its row was rewritten with a newer time, or removed). */
  forget(id: string, at?: number): void {
    if (at === undefined || (this.pending.get(id) ?? Number.POSITIVE_INFINITY) <= at) this.pending.delete(id);
  }

  /** How many nodes wait to be written. */
  get size(): number {
    return this.pending.size;
  }

  /** Writes everything buffered before this call (after any flush in flight). Rejects if the write fails. */
  flush(): Promise<void> {
    const run = this.chain.then(async () => {
      this.queued = false;
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.write([...batch]);
      } catch (err) {
        // Kept for the next flush (a newer time for the same node wins).
        for (const [id, at] of batch)
          if ((this.pending.get(id) ?? Number.NEGATIVE_INFINITY) < at) this.pending.set(id, at);
        throw err;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer and writes what is buffered (shutdown). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private kick(): void {
    if (this.queued || this.pending.size === 0) return;
    this.queued = true;
    this.flush().catch((err: unknown) => this.opts.onError?.(err));
  }
}
