/**
 * The server `zumbido bench ingest` measures: `zumbido serve` plus one bench-only route that ingests
 * usage as the control plane did before usage bounds (issue 12), so that the bench can compare the
 * bounded ingest with that baseline in one process, on one store, interleaved, in the same run.
 * Never part of `zumbido serve`: the baseline trusts a node's records unbounded. Run it as
 * `node --import tsx bench-ingest-server.ts serve ...` (startBenchServer's `entry`).
 */
import { Command } from "commander";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { who } from "../../api/auth.js";
import { UsageRecord } from "../../api/schemas.js";
import type { RoutePlugin } from "../../api/server.js";
import { ownerOf, requireRole, type Principal } from "../../control/index.js";
import { forbidden, invalid, type UsageRecord as Usage } from "../../domain/index.js";
import type { Store } from "../../store/index.js";
import { BASELINE_USAGE_PATH } from "./bench-ingest-run.js";
import { registerServeCommand } from "./serve.js";

/**
 * The usage ingest before bounds (commit 43f5e22^, AgentService.usage): the node must hold every
 * record's lease, then the batch is stored as sent, idempotent on (node, seq). No interval,
 * GPU-ms, energy or overlap checks; no conflict detection; no anomalies.
 */
async function unboundedUsage(
  store: Store,
  p: Principal,
  records: Usage[],
  now: number,
): Promise<{ accepted: number; duplicates: number }> {
  requireRole(p, "node");
  const nodeId = ownerOf(p);
  const leaseIds = [...new Set(records.map((r) => r.leaseId))];
  const leases = await store.jobs.leasesByIds(leaseIds);
  const held = new Set(leases.filter((l) => l.nodeId === nodeId).map((l) => l.id));
  for (const r of records) {
    if (r.nodeId !== nodeId)
      throw forbidden(`record seq ${r.seq} names node ${r.nodeId}, but this key belongs to node ${nodeId}`);
    if (!held.has(r.leaseId))
      throw forbidden(`record seq ${r.seq} is for lease ${r.leaseId}, which this node does not hold`);
    if (r.toMs < r.fromMs)
      throw invalid(`record seq ${r.seq}: toMs is before fromMs`, { field: "records.toMs" });
  }
  return store.usage.insertBatch(records, now);
}

/** The baseline route, validated by the zod schema the usage route had before bounds. */
const baselineUsageRoute: RoutePlugin = async (app, s) => {
  app.withTypeProvider<ZodTypeProvider>().post(
    BASELINE_USAGE_PATH,
    {
      config: { access: ["node"] },
      bodyLimit: 16 * 1_048_576,
      schema: { hide: true, body: z.object({ records: z.array(UsageRecord).max(100_000) }) },
    },
    async (req) => unboundedUsage(s.ctx.store, who(req), req.body.records, s.ctx.clock.now()),
  );
};

const program = new Command().name("zumbido-bench-ingest-server");
registerServeCommand(program, [baselineUsageRoute]);
await program.parseAsync(process.argv);
