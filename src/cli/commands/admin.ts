import type { Command } from "commander";
import { ApiClient } from "../../agent/client.js";
import { action, clientFor, output, table, time, UsageError, writeCliConfig } from "../context.js";

/** `zumbido login|me|admin ...`. */
export function registerAdminCommands(program: Command): void {
  program
    .command("login")
    .description("save the server URL and API key in the config file")
    .requiredOption("--url <url>", "server URL, e.g. http://127.0.0.1:8080")
    .requiredOption("--token <key>", "your API key")
    .action(
      action(async (o: { url: string; token: string }, cmd: Command) => {
        const me = await new ApiClient(o.url, o.token).get<{ role: string; name: string | null }>("/v1/me");
        const path = writeCliConfig({ url: o.url, token: o.token });
        output(
          cmd,
          { ...me, config: path },
          () => `signed in as ${me.role}${me.name ? ` (${me.name})` : ""}; saved to ${path}`,
        );
      }),
    );
  program
    .command("me")
    .description("who your key belongs to")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const me = await clientFor(cmd).get<{ role: string; ownerId: string | null; name: string | null }>(
          "/v1/me",
        );
        output(
          cmd,
          me,
          (x: typeof me) => `${x.role}${x.name ? ` ${x.name}` : ""}${x.ownerId ? ` (${x.ownerId})` : ""}`,
        );
      }),
    );

  const admin = program.command("admin").description("operators, tenants, keys and the platform fee (admin)");
  admin
    .command("operator-create")
    .argument("<name>")
    .option("--inventory-approver <who>", "operator or admin: who approves its nodes' GPU inventory changes")
    .action(
      action(async (name: string, o: { inventoryApprover?: string }, cmd: Command) => {
        const r = await clientFor(cmd).post<{ operator: { id: string }; key: string }>("/v1/operators", {
          name,
          ...(o.inventoryApprover ? { inventoryApprover: o.inventoryApprover } : {}),
        });
        output(cmd, r, (x: typeof r) => `operator ${x.operator.id}\nkey (shown once): ${x.key}`);
      }),
    );
  admin
    .command("tenant-create")
    .argument("<name>")
    .requiredOption("--country <code>")
    .option("--vat-id <id>")
    .option("--credit <minor>", "credit line in minor units (cents)", (v) => Number(v))
    .action(
      action(async (name: string, o: { country: string; vatId?: string; credit?: number }, cmd: Command) => {
        const r = await clientFor(cmd).post<{ tenant: { id: string }; key: string }>("/v1/tenants", {
          name,
          country: o.country,
          ...(o.vatId ? { vatId: o.vatId } : {}),
          ...(o.credit !== undefined ? { creditLimitMinor: o.credit } : {}),
        });
        output(cmd, r, (x: typeof r) => `tenant ${x.tenant.id}\nkey (shown once): ${x.key}`);
      }),
    );
  for (const what of ["operators", "tenants"] as const) {
    admin
      .command(what)
      .description(`list ${what}`)
      .action(
        action(async (_o: unknown, cmd: Command) => {
          const l = await clientFor(cmd).get<{ id: string; name: string; createdAt: number }[]>(
            `/v1/${what}`,
          );
          output(cmd, l, (x: typeof l) =>
            table(
              ["ID", "NAME", "CREATED"],
              x.map((r) => [r.id, r.name, time(r.createdAt)]),
            ),
          );
        }),
      );
  }
  admin
    .command("keys")
    .description("list keys (prefixes only; secrets are never stored)")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const l = await clientFor(cmd).get<
          {
            id: string;
            prefix: string;
            role: string;
            ownerId: string | null;
            name: string;
            revokedAt: number | null;
          }[]
        >("/v1/keys");
        output(cmd, l, (x: typeof l) =>
          table(
            ["ID", "PREFIX", "ROLE", "OWNER", "NAME", "REVOKED"],
            x.map((k) => [k.id, `${k.prefix}…`, k.role, k.ownerId, k.name, time(k.revokedAt)]),
          ),
        );
      }),
    );
  admin
    .command("key-revoke")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        await clientFor(cmd).delete(`/v1/keys/${id}`);
        output(cmd, { revoked: id }, () => `revoked ${id}`);
      }),
    );
  admin
    .command("fee")
    .description("show or set the platform fee in basis points (1000 = 10%)")
    .argument("[bps]")
    .action(
      action(async (bps: string | undefined, _o: unknown, cmd: Command) => {
        const c = clientFor(cmd);
        if (bps !== undefined && !/^\d+$/.test(bps))
          throw new UsageError(`fee "${bps}" must be whole basis points, e.g. 1000 for 10%`);
        const r =
          bps === undefined
            ? await c.get<{ feeBps: number }>("/v1/settings/fee")
            : await c.put<{ feeBps: number }>("/v1/settings/fee", { feeBps: Number(bps) });
        output(cmd, r, (x: typeof r) => `platform fee: ${x.feeBps} bps (${x.feeBps / 100}%)`);
      }),
    );
  admin
    .command("inventory-approver")
    .description(
      "who approves node GPU inventory changes: with OPERATOR, for that operator; without, the default for new operators (operator or admin)",
    )
    .argument("<who>", "operator or admin")
    .option("--operator <id>", "set it for this operator only")
    .action(
      action(async (approver: string, o: { operator?: string }, cmd: Command) => {
        if (approver !== "operator" && approver !== "admin")
          throw new UsageError(`"${approver}" must be operator or admin`);
        const c = clientFor(cmd);
        const r = o.operator
          ? await c.put<Record<string, string>>(`/v1/operators/${o.operator}/inventory-approver`, {
              approver,
            })
          : await c.put<Record<string, string>>("/v1/settings/inventory-approver", { approver });
        output(
          cmd,
          r,
          () =>
            `${o.operator ? `operator ${o.operator}` : "new operators"}: inventory changes approved by ${approver === "admin" ? "an admin" : "the operator"}`,
        );
      }),
    );
}
