import type { AgentStore } from "./outbox.js";

/**
 * Server time minus this agent's clock (ms), from the heartbeat's serverTime at the round trip's
 * midpoint; kept in the agent's state so a restart converts recovered workloads' times.
 */
export class ClockOffset {
  private offsetMs: number;

  constructor(
    private readonly store: AgentStore,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.offsetMs = Number(this.store.getMeta("clockOffsetMs") ?? 0);
  }

  /** The current estimate of (server time - agent clock), in ms. */
  get ms(): number {
    return this.offsetMs;
  }

  /** Updates the offset from one heartbeat: sent at t0, answered at t1 (agent clock), stamped serverTime. */
  measure(t0: number, t1: number, serverTime: number | undefined): void {
    if (typeof serverTime !== "number" || !Number.isFinite(serverTime) || t1 < t0) return;
    const offset = Math.round(serverTime - (t0 + t1) / 2);
    const moved = Math.abs(offset - this.offsetMs);
    this.offsetMs = offset;
    // Persisted (so a restart converts recovered workloads' times) when it moved noticeably.
    if (moved > 50 || this.store.getMeta("clockOffsetMs") === undefined)
      this.store.setMeta("clockOffsetMs", String(offset));
    if (moved > 1000) this.log("clock offset from the control plane", { offsetMs: offset, rttMs: t1 - t0 });
  }
}
