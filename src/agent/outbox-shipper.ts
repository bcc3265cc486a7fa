import { ApiError, type ApiClient } from "./client.js";
import type { AgentStore } from "./outbox.js";

/** Sends the agent's outbox to the control plane: usage in batches of `usageBatch`, then logs. */
export async function shipOutbox(
  client: ApiClient,
  store: AgentStore,
  usageBatch: number,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): Promise<{ usage: number }> {
  let sent = 0;
  for (;;) {
    const batch = store.pendingUsage(usageBatch);
    if (batch.length === 0) break;
    const res = await client.post<{
      accepted: number;
      duplicates: number;
      clipped?: number;
      conflicts?: { seq: number; message: string }[];
    }>("/v1/agent/usage", { records: batch });
    // The batch is acknowledged: what the server clipped or refused is its record, not a retry.
    if (res.clipped || res.conflicts?.length)
      log("the control plane clipped or refused usage records", {
        clipped: res.clipped ?? 0,
        conflicts: res.conflicts?.slice(0, 5),
      });
    store.ackUsage(batch.map((r) => r.seq));
    sent += batch.length;
    if (batch.length < usageBatch) break;
  }
  for (;;) {
    const logs = store.pendingLogs(200);
    if (logs.length === 0) break;
    try {
      await client.post("/v1/agent/logs", {
        chunks: logs.map(({ leaseId, stream, text }) => ({ leaseId, stream, text })),
      });
    } catch (err) {
      // Logs for a lease this node no longer holds are dropped; anything else is retried later.
      if (err instanceof ApiError && err.status === 403) {
        for (const l of logs) store.dropLogsFor(l.leaseId);
        continue;
      }
      throw err;
    }
    store.ackLogs(logs[logs.length - 1]!.id);
  }
  return { usage: sent };
}
