/** The longest a node's orders long-poll is held, ms (the agent asks for less than its own timeout). */
export const MAX_ORDERS_WAIT_MS = 30_000;

/**
 * Parks nodes' long-polls (`GET /v1/agent/orders?wait=25s`) until something changes for them:
 * the cluster view applied a change to one of the node's leases (a placement, a stop), or the wait
 * ran out. At most a few waiters per node; a node that opens more has its oldest answered at once.
 */
export class OrderWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Resolves when `nodeId` is woken or after `ms`, whichever comes first. */
  wait(nodeId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiting.get(nodeId);
      if (!set) this.waiting.set(nodeId, (set = new Set()));
      if (set.size >= 4) for (const w of [...set].slice(0, 1)) w();
      const done = (): void => {
        clearTimeout(timer);
        const s = this.waiting.get(nodeId);
        s?.delete(done);
        if (s?.size === 0) this.waiting.delete(nodeId);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, MAX_ORDERS_WAIT_MS)));
      set.add(done);
    });
  }

  /** Answers the long-polls of these nodes now. */
  wake(nodeIds: Iterable<string>): void {
    for (const id of nodeIds) for (const w of [...(this.waiting.get(id) ?? [])]) w();
  }

  /** How many long-polls are parked (metrics, tests). */
  get size(): number {
    let n = 0;
    for (const s of this.waiting.values()) n += s.size;
    return n;
  }
}
