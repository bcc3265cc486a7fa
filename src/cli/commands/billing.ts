import type { Command } from "commander";
import { action, clientFor, money, output, table } from "../context.js";

interface StatementOut {
  month: string;
  currency: string;
  totalMinor: number;
  totalGpuSeconds: number;
  energyWh: number;
  lines: {
    jobId: string;
    siteId: string;
    country: string;
    gpuModel: string;
    gpuSeconds: number;
    priceMinorPerGpuHour: number;
    costMinor: number;
    energyWh: number;
  }[];
}

/** `zumbido balance|statement`: what a tenant spent. */
export function registerBillingCommands(program: Command): void {
  program
    .command("balance")
    .description("spend to date and credit left (tenant)")
    .option("--tenant <id>", "(admin) whose balance")
    .action(
      action(async (o: { tenant?: string }, cmd: Command) => {
        const b = await clientFor(cmd).get<{
          spentMinor: number;
          creditLimitMinor: number;
          availableMinor: number;
          currency: string;
          runningLeases: number;
        }>(`/v1/balance${o.tenant ? `?tenantId=${o.tenant}` : ""}`);
        output(
          cmd,
          b,
          (x: typeof b) =>
            `spent ${money(x.spentMinor, x.currency)} of a ${money(x.creditLimitMinor, x.currency)} credit line; ${money(x.availableMinor, x.currency)} left; ${x.runningLeases} lease(s) running`,
        );
      }),
    );
  program
    .command("statement")
    .description("a month's statement: one line per job lease (tenant)")
    .argument("[month]", "YYYY-MM (default: this month)")
    .option("--tenant <id>", "(admin) whose statement")
    .action(
      action(async (month: string | undefined, o: { tenant?: string }, cmd: Command) => {
        const m = month ?? new Date().toISOString().slice(0, 7);
        const s = await clientFor(cmd).get<StatementOut>(
          `/v1/statements/${m}${o.tenant ? `?tenantId=${o.tenant}` : ""}`,
        );
        output(cmd, s, (x: StatementOut) =>
          [
            `Statement ${x.month}`,
            table(
              ["JOB", "SITE", "COUNTRY", "MODEL", "GPU-s", "RATE/GPU-h", "AMOUNT", "ENERGY Wh"],
              x.lines.map((l) => [
                l.jobId,
                l.siteId,
                l.country,
                l.gpuModel,
                l.gpuSeconds,
                money(l.priceMinorPerGpuHour, x.currency),
                money(l.costMinor, x.currency),
                l.energyWh,
              ]),
            ),
            `total ${x.totalGpuSeconds} GPU-s, ${money(x.totalMinor, x.currency)}, ${x.energyWh} Wh`,
          ].join("\n"),
        );
      }),
    );
}
