import type { Command } from "commander";
import { action, clientFor, output, table, time } from "../context.js";

interface AnomalyOut {
  id: number;
  at: number;
  nodeId: string;
  leaseId: string | null;
  seq: number | null;
  kind: string;
  message: string;
}

/** `zumbido anomalies`: what nodes claimed and the control plane did not take (operator: own nodes; admin: all). */
export function registerTrustCommands(program: Command): void {
  program
    .command("anomalies")
    .description(
      "usage records clipped or refused, replayed seqs with other content, clamped times (operator, admin)",
    )
    .option("--node <id>", "only this node")
    .option("--operator <id>", "only this operator's nodes (admin)")
    .option("--limit <n>", "at most this many, newest first", "50")
    .action(
      action(async (o: { node?: string; operator?: string; limit: string }, cmd: Command) => {
        const q = new URLSearchParams({ limit: o.limit });
        if (o.node) q.set("nodeId", o.node);
        if (o.operator) q.set("operatorId", o.operator);
        const l = await clientFor(cmd).get<AnomalyOut[]>(`/v1/anomalies?${q.toString()}`);
        output(cmd, l, (x: AnomalyOut[]) =>
          table(
            ["at", "node", "lease", "seq", "kind", "what"],
            x.map((a) => [time(a.at), a.nodeId, a.leaseId ?? "-", a.seq ?? "-", a.kind, a.message]),
          ),
        );
      }),
    );
}
