import { reliabilityOf, type NodeReliability } from "../ledger/index.js";
import { monthRange } from "./billing-service.js";
import type { Ctx } from "./context.js";

/**
 * Each node's reliability in a month (one operator's, or all): usage records taken as sent against
 * anomalies (claims clipped, refused or clamped). Nodes with neither are left out.
 */
export async function nodeReliability(
  ctx: Ctx,
  month: string,
  operatorId?: string,
): Promise<NodeReliability[]> {
  const { from, to } = monthRange(month);
  const [taken, anomalies] = await Promise.all([
    ctx.store.usage.takenCounts(from, to, operatorId),
    ctx.store.usage.anomalyCounts(from, to, operatorId),
  ]);
  const ids = [...new Set([...taken.keys(), ...anomalies.keys()])].sort();
  return ids.map((nodeId) => {
    const t = taken.get(nodeId) ?? 0;
    const a = anomalies.get(nodeId) ?? 0;
    return { nodeId, recordsTaken: t, anomalies: a, reliability: reliabilityOf(t, a) };
  });
}
