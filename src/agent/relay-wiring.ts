import type { AgentStore } from "./outbox.js";
import { RelayClient } from "./relay-client.js";
import { serveStream, type StreamTargets } from "./relay-streams.js";

/** The relay (tenants' exec and TCP streams into running workloads): where streams open, and the proxy environment. */
export interface AgentRelayOptions {
  targets: StreamTargets;
  env?: Record<string, string | undefined>;
  random?: () => number;
}

/**
 * Starts the agent's relay connection: each stream the control plane opens is served if it names a
 * lease this node runs now (started, not ended) for that job.
 */
export function startRelay(o: {
  server: string;
  ca: string | undefined;
  relay: AgentRelayOptions;
  key: () => string;
  store: AgentStore;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}): RelayClient {
  const r = o.relay;
  const relay = new RelayClient({
    server: o.server,
    ...(o.ca ? { ca: o.ca } : {}),
    key: o.key,
    env: r.env ?? {},
    ...(r.random ? { random: r.random } : {}),
    log: o.log,
    onStream: (st) =>
      serveStream(st, r.targets, (leaseId, jobId) =>
        o.store
          .leases()
          .some(
            (l) => l.leaseId === leaseId && l.jobId === jobId && l.startedAt != null && l.endedAt == null,
          ),
      ),
  });
  relay.start();
  return relay;
}
