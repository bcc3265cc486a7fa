// How often nodes heartbeat and when a silent node counts as offline, from the size of the fleet.
// A heartbeat is a lease renewal: a large fleet renews less often, so the control plane's load stays
// near a fixed rate of renewals however many nodes there are (Nomad's servers do the same: each
// client's heartbeat TTL is the fleet's size over `max_heartbeats_per_second`, within bounds). The
// offline timeout grows with the interval (at least three intervals, as before: the configured
// timeout holds while the interval is at most a third of it, 15 s up to 2,500 nodes at the
// defaults; 60 s at 10,000).

/** The renewals a second the interval aims at (the whole fleet's), while it is within its bounds. */
export const HEARTBEATS_PER_S = 500;
/** The longest interval the server names (and the agent accepts): reached at 15,000 nodes. */
export const MAX_HEARTBEAT_INTERVAL_MS = 30_000;
/** A node is offline after this many intervals of silence (at least the configured timeout). */
export const INTERVALS_BEFORE_OFFLINE = 3;
/** How long an interval named once still counts for the offline timeout (nodes that heard it keep it until their next beat). */
const REMEMBER_MS = 60_000;

/**
 * The interval to name: 1 s while work starts or stops on the node (its orders and reports matter
 * now), else the enrolled nodes over 500 renewals a second in whole seconds (1 s up to 500 nodes,
 * 4 s at 2,000, 20 s at 10,000), at most 30 s.
 */
export function heartbeatIntervalMs(nodes: number, changing: boolean): number {
  if (changing) return 1000;
  const s = Math.ceil(nodes / HEARTBEATS_PER_S);
  return Math.min(MAX_HEARTBEAT_INTERVAL_MS, Math.max(1000, s * 1000));
}

/** Fleets larger than this answer steady heartbeats from a view that may lag (steadyLagMs). */
export const STEADY_LAG_FROM_NODES = 1000;
/** How far a steady heartbeat's view may lag this replica's own writes in a large fleet, ms. */
export const STEADY_LAG_MS = 500;

/**
 * How far behind this replica's latest writes the cluster view that answers a steady heartbeat (one
 * that reports no change) may be: 0 up to 1,000 nodes, 500 ms beyond. A large fleet's nodes beat
 * every few seconds and get their orders by long-poll, so an answer that misses the last half second
 * of writes delays nothing a node waits for (the next sync, at most 250 ms away, wakes its long-poll);
 * waiting instead queued every beat behind a sync of the change feed, and at 10,000 nodes on
 * PostgreSQL that wait was the heartbeat's p99 (0.5 s). A small fleet keeps read-your-writes: its
 * syncs are cheap and its heartbeats still carry orders within the second.
 */
export function steadyLagMs(nodes: number): number {
  return nodes > STEADY_LAG_FROM_NODES ? STEADY_LAG_MS : 0;
}

/**
 * How often failure detection (a scan of every node) runs: every tenth of the configured timeout, at
 * most once a second, or every fifteenth of the timeout in force when that is longer (4 s at 10,000
 * nodes, where the timeout is 60 s). Its cost grows with the fleet, and a large fleet's timeout is
 * longer in proportion, so its lateness stays the same share of the timeout.
 */
export function detectionEveryMs(configuredTimeoutMs: number, timeoutInForceMs: number): number {
  return Math.max(Math.min(1000, configuredTimeoutMs / 10), timeoutInForceMs / 15);
}

/**
 * The offline timeout in force: the configured one, or three intervals of a fleet this size when that
 * is longer. The largest interval of the last minute counts (a fleet that shrank named a longer
 * interval to nodes that have not beaten since), so the timeout never drops below what a node may
 * still keep.
 */
export class OfflineTimeout {
  private recent = { intervalMs: 0, at: Number.NEGATIVE_INFINITY };

  /** The timeout at `now` for a fleet of `nodes`, with `configuredMs` the operator's setting. */
  at(now: number, nodes: number, configuredMs: number): number {
    const interval = heartbeatIntervalMs(nodes, false);
    if (interval >= this.recent.intervalMs || now - this.recent.at > REMEMBER_MS)
      this.recent = { intervalMs: interval, at: now };
    return Math.max(configuredMs, INTERVALS_BEFORE_OFFLINE * this.recent.intervalMs);
  }
}
