import type { Command } from "commander";
import { installNodeKey } from "../../agent/outbox.js";
import { action, clientFor, output, table, time, UsageError } from "../context.js";

interface GpuOut {
  model: string;
  memoryMb: number;
}
interface InventoryOut {
  nodeId: string;
  pending: boolean;
  changedAt: number | null;
  approved: GpuOut[];
  reported: GpuOut[];
  approver: string;
  held: string | null;
}
interface KeyOut {
  id: string;
  prefix: string;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}
interface NodeOut {
  id: string;
  name: string;
  siteId: string;
  held?: string | null;
  inventoryChangedAt?: number | null;
}

/** "4 x L40S (46068 MiB)". */
function describe(gpus: GpuOut[]): string {
  if (gpus.length === 0) return "no GPUs";
  const m = new Map<string, number>();
  for (const g of gpus)
    m.set(`${g.model} (${g.memoryMb} MiB)`, (m.get(`${g.model} (${g.memoryMb} MiB)`) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} x ${k}`).join(", ");
}

const keyRows = (keys: KeyOut[]): string =>
  table(
    ["ID", "PREFIX", "NAME", "CREATED", "EXPIRES", "REVOKED"],
    keys.map((k) => [k.id, k.prefix, k.name, time(k.createdAt), time(k.expiresAt), time(k.revokedAt)]),
  );

/** `zumbido nodes inventory|approve-inventory|keys|rotate-key|revoke-key|install-key|remove`. */
export function registerNodeTrustCommands(program: Command): void {
  const nodes = program.commands.find((c) => c.name() === "nodes");
  if (!nodes) throw new Error("register the nodes command first");
  nodes
    .command("inventory")
    .description(
      "a node's approved and reported GPUs; without NODE, the nodes held for an inventory approval",
    )
    .argument("[node]")
    .action(
      action(async (id: string | undefined, _o: unknown, cmd: Command) => {
        const c = clientFor(cmd);
        if (!id) {
          const held = (await c.get<NodeOut[]>("/v1/nodes")).filter((n) => n.held);
          output(cmd, held, (x: NodeOut[]) =>
            x.length === 0
              ? "no node waits for an inventory approval"
              : table(
                  ["ID", "NAME", "SITE", "SINCE", "WHY"],
                  x.map((n) => [n.id, n.name, n.siteId, time(n.inventoryChangedAt), n.held]),
                ),
          );
          return;
        }
        const inv = await c.get<InventoryOut>(`/v1/nodes/${id}/inventory`);
        output(cmd, inv, (x: InventoryOut) =>
          [
            `approved: ${describe(x.approved)}`,
            `reported: ${describe(x.reported)}`,
            x.pending
              ? `pending since ${time(x.changedAt)}: held out of placement (running leases continue); approve with: zumbido nodes approve-inventory ${x.nodeId}${x.approver === "admin" ? " (by an admin)" : ""}`
              : "no change pending",
          ].join("\n"),
        );
      }),
    );
  nodes
    .command("approve-inventory")
    .description("approve the GPUs a node reports now: placement and capacity use them from then on")
    .argument("<node>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const c = clientFor(cmd);
        const seen = await c.get<InventoryOut>(`/v1/nodes/${id}/inventory`);
        const inv = await c.post<InventoryOut>(
          `/v1/nodes/${id}/inventory/approve`,
          seen.changedAt === null ? {} : { changedAt: seen.changedAt },
        );
        output(cmd, inv, (x: InventoryOut) => `${x.nodeId}: approved ${describe(x.approved)}`);
      }),
    );
  nodes
    .command("keys")
    .description("a node's keys (never their secrets)")
    .argument("<node>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const l = await clientFor(cmd).get<KeyOut[]>(`/v1/nodes/${id}/keys`);
        output(cmd, l, keyRows);
      }),
    );
  nodes
    .command("rotate-key")
    .description("a new key for a node (shown once); its old keys keep working for the overlap")
    .argument("<node>")
    .option("--overlap <seconds>", "how long the old keys keep working (0: revoked now)", "300")
    .action(
      action(async (id: string, o: { overlap: string }, cmd: Command) => {
        const overlapS = Number(o.overlap);
        if (!Number.isInteger(overlapS) || overlapS < 0)
          throw new UsageError(`--overlap must be a whole number of seconds, not "${o.overlap}"`);
        const r = await clientFor(cmd).post<{ key: string; previous: KeyOut[] }>(
          `/v1/nodes/${id}/keys/rotate`,
          {
            overlapS,
          },
        );
        output(
          cmd,
          r,
          (x: typeof r) =>
            `${x.key}\n(shown once) on the node run: zumbido nodes install-key ${x.key} --state-dir <the agent's --state-dir>\n` +
            (overlapS === 0
              ? "the old keys are revoked"
              : `the old keys stop working at ${time(x.previous[0]?.expiresAt ?? null)}`),
        );
      }),
    );
  nodes
    .command("revoke-key")
    .description("revoke one of a node's keys now (calls with it get 401)")
    .argument("<node>")
    .argument("<key-id>")
    .action(
      action(async (id: string, keyId: string, _o: unknown, cmd: Command) => {
        const k = await clientFor(cmd).delete<KeyOut>(`/v1/nodes/${id}/keys/${keyId}`);
        output(cmd, k, (x: KeyOut) => `revoked ${x.id} (${x.prefix}...)`);
      }),
    );
  nodes
    .command("install-key")
    .description(
      "on the node: install a rotated key in the agent's state folder (a running agent switches to it)",
    )
    .argument("<key>")
    .option("--state-dir <dir>", "the agent's --state-dir", "./.zumbido/agent")
    .action(
      action((key: string, o: { stateDir: string }, cmd: Command) => {
        let nodeId: string;
        try {
          nodeId = installNodeKey(o.stateDir, key);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        output(cmd, { nodeId }, () => `installed the new key for node ${nodeId} in ${o.stateDir}`);
        return Promise.resolve();
      }),
    );
  nodes
    .command("remove")
    .description(
      "remove a node: its keys are revoked, its leases end as lost (billed to their last accepted usage, jobs requeued)",
    )
    .argument("<node>")
    .option("--yes", "really remove it")
    .action(
      action(async (id: string, o: { yes?: boolean }, cmd: Command) => {
        if (!o.yes)
          throw new UsageError(`removing a node ends its leases; run again with --yes to remove ${id}`);
        const r = await clientFor(cmd).delete<{ nodeId: string; keysRevoked: number; leasesLost: string[] }>(
          `/v1/nodes/${id}`,
        );
        output(
          cmd,
          r,
          (x: typeof r) =>
            `removed ${x.nodeId}: ${x.keysRevoked} key(s) revoked, ${x.leasesLost.length} lease(s) lost${x.leasesLost.length ? ` (${x.leasesLost.join(", ")})` : ""}`,
        );
      }),
    );
}
