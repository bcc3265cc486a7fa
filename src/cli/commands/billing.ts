import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { action, clientFor, money, output, table } from "../context.js";

interface InvoiceOut {
  number: string;
  period: string;
  currency: string;
  lines: {
    jobId: string;
    siteId: string;
    country: string;
    gpuModel: string;
    gpuSeconds: number;
    rateMinorPerGpuHour: number;
    amountMinor: number;
    vatMinor: number;
    vatKind: string;
  }[];
  vat: { kind?: string; rateBps?: number; country?: string | null; vatMinor?: number }[];
  totals: { gpuSeconds: number; netMinor: number; vatMinor: number; totalMinor: number };
  notes: string[];
}

/** `zumbido balance|invoice|payout|topup`: money as tenants, operators and admins see it. */
export function registerBillingCommands(program: Command): void {
  program
    .command("balance")
    .description("your prepaid balance, credit line, burn rate and what is left (tenant)")
    .option("--tenant <id>", "(admin) whose balance")
    .action(
      action(async (o: { tenant?: string }, cmd: Command) => {
        const b = await clientFor(cmd).get<{
          balanceMinor: number;
          spentMinor: number;
          paidInMinor: number;
          creditLimitMinor: number;
          availableMinor: number;
          currency: string;
          runningLeases: number;
          burnMinorPerHour: number;
          minutesLeft: number | null;
          reason: string;
        }>(`/v1/balance${o.tenant ? `?tenantId=${o.tenant}` : ""}`);
        output(cmd, b, (x: typeof b) =>
          [
            `balance ${money(x.balanceMinor, x.currency)} (paid in ${money(x.paidInMinor, x.currency)}, spent ${money(x.spentMinor, x.currency)}), credit line ${money(x.creditLimitMinor, x.currency)}`,
            `available ${money(x.availableMinor, x.currency)}; ${x.runningLeases} lease(s) burning ${money(x.burnMinorPerHour, x.currency)}/h${x.minutesLeft !== null ? `, ${x.minutesLeft} min left` : ""}`,
            x.reason,
          ].join("\n"),
        );
      }),
    );
  for (const name of ["invoice", "statement"]) {
    program
      .command(name)
      .description(
        name === "invoice"
          ? "a month's invoice: one line per job lease, VAT, totals (tenant)"
          : "alias of invoice",
      )
      .argument("[month]", "YYYY-MM (default: this month)")
      .option("--tenant <id>", "(admin) whose invoice")
      .option("--format <f>", "json, csv or html (with --out)", "json")
      .option("--out <file>", "write the invoice (csv or html) to a file")
      .action(
        action(
          async (
            month: string | undefined,
            o: { tenant?: string; format: string; out?: string },
            cmd: Command,
          ) => {
            const m = month ?? new Date().toISOString().slice(0, 7);
            const c = clientFor(cmd);
            const q = `${o.tenant ? `tenantId=${o.tenant}&` : ""}`;
            if (o.out) {
              writeFileSync(o.out, await c.getText(`/v1/invoices/${m}?${q}format=${o.format}`));
              console.log(`wrote ${o.out}`);
              return;
            }
            const inv = await c.get<InvoiceOut>(`/v1/invoices/${m}?${q}format=json`);
            output(cmd, inv, (x: InvoiceOut) =>
              [
                `Invoice ${x.number} (${m})`,
                table(
                  ["JOB", "SITE", "COUNTRY", "MODEL", "GPU-s", "RATE/GPU-h", "NET", "VAT"],
                  x.lines.map((l) => [
                    l.jobId,
                    l.siteId,
                    l.country,
                    l.gpuModel,
                    l.gpuSeconds,
                    money(l.rateMinorPerGpuHour, x.currency),
                    money(l.amountMinor, x.currency),
                    money(l.vatMinor, x.currency),
                  ]),
                ),
                `total ${x.totals.gpuSeconds} GPU-s: net ${money(x.totals.netMinor, x.currency)} + VAT ${money(x.totals.vatMinor, x.currency)} = ${money(x.totals.totalMinor, x.currency)}`,
                ...x.notes,
              ].join("\n"),
            );
          },
        ),
      );
  }
  program
    .command("payout")
    .description(
      "a month's payout statement: GPU-seconds sold per site and model, gross, fee, net (operator)",
    )
    .argument("[month]", "YYYY-MM (default: this month)")
    .action(
      action(async (month: string | undefined, _o: unknown, cmd: Command) => {
        const m = month ?? new Date().toISOString().slice(0, 7);
        const p = await clientFor(cmd).get<Record<string, unknown>>(`/v1/payouts/${m}`);
        output(cmd, p, (x: Record<string, unknown>) => JSON.stringify(x, null, 2));
      }),
    );
  program
    .command("topup")
    .description("credit a tenant's prepaid balance (admin)")
    .requiredOption("--tenant <id>")
    .requiredOption("--amount <minor>", "minor units (cents)", (v) => Number(v))
    .action(
      action(async (o: { tenant: string; amount: number }, cmd: Command) => {
        const r = await clientFor(cmd).post<Record<string, unknown>>(`/v1/tenants/${o.tenant}/topups`, {
          amountMinor: o.amount,
        });
        output(cmd, r, () => `credited ${money(o.amount)} to ${o.tenant}`);
      }),
    );
}
