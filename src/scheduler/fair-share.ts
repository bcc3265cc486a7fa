import type { PendingJob } from "./types.js";

/** Nominal seconds a placed GPU is charged within one cycle when interleaving tenants. */
export const FAIR_SHARE_HORIZON_S = 3600;

/**
 * Weighted fair-share order (attained service): repeatedly takes the oldest job of the tenant with
 * the least (GPU-seconds used + GPUs already ordered this cycle × 1 h) / weight. Ties: the tenant
 * whose next job is oldest (submit time, then job id), so that with equal keys the order is FIFO.
 * Within a tenant: submit time, then job id. The obvious form of the order that the shared pass
 * (src/scheduler/pass.ts) computes incrementally; the reference scheduler uses this one.
 */
export function fairShareOrder(
  pending: readonly PendingJob[],
  usageGpuS: Record<string, number> | undefined,
  weights: Record<string, number> | undefined,
): PendingJob[] {
  const byTenant = new Map<string, PendingJob[]>();
  for (const j of pending) {
    const list = byTenant.get(j.tenantId);
    if (list) list.push(j);
    else byTenant.set(j.tenantId, [j]);
  }
  const tenants = [...byTenant.keys()].sort();
  if (tenants.length === 1) return [...pending].sort(bySubmit);
  const queues = tenants.map((t) => byTenant.get(t)!.sort(bySubmit));
  const load = tenants.map((t) => usageGpuS?.[t] ?? 0);
  const w = tenants.map((t) => {
    const x = weights?.[t] ?? 1;
    return x > 0 ? x : 1;
  });
  const pos = new Array<number>(tenants.length).fill(0);
  const out: PendingJob[] = [];
  while (out.length < pending.length) {
    let best = -1;
    let bestKey = Infinity;
    for (let t = 0; t < tenants.length; t++) {
      if (pos[t]! >= queues[t]!.length) continue;
      const key = load[t]! / w[t]!;
      if (
        key < bestKey ||
        (key === bestKey && bySubmit(queues[t]![pos[t]!]!, queues[best]![pos[best]!]!) < 0)
      ) {
        bestKey = key;
        best = t;
      }
    }
    const job = queues[best]![pos[best]!++]!;
    load[best]! += job.request.gpus * FAIR_SHARE_HORIZON_S;
    out.push(job);
  }
  return out;
}

function bySubmit(a: PendingJob, b: PendingJob): number {
  return a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
