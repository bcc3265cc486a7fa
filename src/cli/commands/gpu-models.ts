import type { Command } from "commander";
import type { GpuModelInfo, OperatorGpuModel } from "../../contract/index.js";
import { action, clientFor, output, table, time, UsageError } from "../context.js";

const VENDORS = ["nvidia", "amd", "intel"];

/** Parses a whole number option, naming it when it is not one. */
function whole(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${name} must be a whole number above 0, got "${v}"`);
  return n;
}

const rows = (l: OperatorGpuModel[]): string =>
  table(
    ["id", "name", "vendor", "GiB", "W", "match", "state", "by", "proposed", "reason"],
    l.map((m) => [
      m.id,
      m.name,
      m.vendor,
      m.memoryGb,
      m.tdpW,
      m.smiPatterns.join("|"),
      m.state,
      m.proposedBy ?? "admin",
      time(m.proposedAt),
      m.reason ?? "",
    ]),
  );

/** `zumbido gpu-models`: the catalogue, and operator-defined models proposed, listed and approved. */
export function registerGpuModelCommands(program: Command): void {
  const g = program
    .command("gpu-models")
    .description("the GPU catalogue; propose a model it lacks (operator), approve it (admin)");
  g.command("catalogue")
    .description("the models in force: built-in and approved operator-defined ones (no key needed)")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const l = await clientFor(cmd).get<GpuModelInfo[]>("/v1/gpu-models");
        output(cmd, l, (x: GpuModelInfo[]) =>
          table(
            ["id", "name", "GiB", "W", "vs A100"],
            x.map((m) => [m.id, m.name, m.memoryGb, m.tdpW, m.relThroughput]),
          ),
        );
      }),
    );
  g.command("propose")
    .description("propose a GPU model the catalogue lacks (operator); nodes with it are placed once approved")
    .requiredOption("--id <id>", "canonical id, e.g. RTX3080 or MI300X")
    .requiredOption("--name <name>", 'display name, e.g. "AMD Instinct MI300X 192GB"')
    .requiredOption("--memory-gb <n>", "GPU memory, GiB")
    .requiredOption("--power-w <n>", "board power, watts")
    .option("--vendor <vendor>", `one of ${VENDORS.join(", ")}`, "nvidia")
    .option("--rel-throughput <x>", "throughput relative to an A100 (default 0.5)")
    .option(
      "--match <pattern...>",
      'lower-case substrings of the driver\'s product name, e.g. "rtx 3080" (default: the id)',
    )
    .action(
      action(
        async (
          o: {
            id: string;
            name: string;
            memoryGb: string;
            powerW: string;
            vendor: string;
            relThroughput?: string;
            match?: string[];
          },
          cmd: Command,
        ) => {
          if (!VENDORS.includes(o.vendor))
            throw new UsageError(`--vendor must be one of ${VENDORS.join(", ")}, got "${o.vendor}"`);
          const rel = o.relThroughput === undefined ? undefined : Number(o.relThroughput);
          if (rel !== undefined && !(rel > 0))
            throw new UsageError(`--rel-throughput must be a number above 0, got "${o.relThroughput}"`);
          const m = await clientFor(cmd).post<OperatorGpuModel>("/v1/gpu-models", {
            id: o.id,
            vendor: o.vendor,
            name: o.name,
            memoryGb: whole("--memory-gb", o.memoryGb),
            powerW: whole("--power-w", o.powerW),
            ...(rel !== undefined ? { relThroughput: rel } : {}),
            ...(o.match ? { match: o.match } : {}),
          });
          output(
            cmd,
            m,
            (x: OperatorGpuModel) =>
              `proposed ${x.id} (${x.name}); an admin approves it with: zumbido gpu-models approve ${x.id}`,
          );
        },
      ),
    );
  g.command("list")
    .description("operator-defined models (admin: all; operator: its own and every approved one)")
    .option("--state <state>", "only proposed, approved or rejected ones")
    .action(
      action(async (o: { state?: string }, cmd: Command) => {
        const q = o.state ? `?state=${encodeURIComponent(o.state)}` : "";
        const l = await clientFor(cmd).get<OperatorGpuModel[]>(`/v1/gpu-models/proposals${q}`);
        output(cmd, l, rows);
      }),
    );
  g.command("approve <id>")
    .description("approve a proposed model (admin): it joins the catalogue, its nodes are placed and sold")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const m = await clientFor(cmd).post<OperatorGpuModel>(
          `/v1/gpu-models/${encodeURIComponent(id)}/approve`,
        );
        output(
          cmd,
          m,
          (x: OperatorGpuModel) => `approved ${x.id} (${x.name}, ${x.memoryGb} GiB, ${x.tdpW} W)`,
        );
      }),
    );
  g.command("reject <id>")
    .description("reject a proposed model (admin), saying why")
    .requiredOption("--reason <text>", "what the operator should fix")
    .action(
      action(async (id: string, o: { reason: string }, cmd: Command) => {
        const m = await clientFor(cmd).post<OperatorGpuModel>(
          `/v1/gpu-models/${encodeURIComponent(id)}/reject`,
          {
            reason: o.reason,
          },
        );
        output(cmd, m, (x: OperatorGpuModel) => `rejected ${x.id}: ${x.reason ?? ""}`);
      }),
    );
}
