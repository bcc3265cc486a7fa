// How a node paces its heartbeats. The server names the interval (src/control/heartbeat-policy.ts):
// longer as the fleet grows, 1 s while work starts or stops on the node. A node that kept its phase
// through a change would keep the fleet beating in waves: nodes hear a new interval within one old
// one, so a fleet that grew from 1 s to 20 s beats in the few clusters its old phases formed. Measured
// at 10,000 simulated nodes on 20 s: 85 to 1,213 beats a second instead of 500, and the peaks queued
// the control plane (heartbeat p99 0.36 s at the peaks, 10 ms between them). So the first wait after
// a change is a random part of the new interval (Nomad staggers its heartbeat TTLs the same way):
// never longer than the interval, so a node is never later than it would have been.

/** The wait before the next heartbeat, ms: the interval, or a random part of it right after it changed. */
export function nextHeartbeatWaitMs(
  previousIntervalMs: number,
  intervalMs: number,
  random: () => number,
): number {
  return previousIntervalMs === intervalMs ? intervalMs : Math.floor(random() * intervalMs);
}
