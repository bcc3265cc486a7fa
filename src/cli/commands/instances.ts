import type { Command } from "commander";
import type { InstanceDefaultsView, InstanceSpecView } from "../../contract/index.js";
import { formatDuration, parseDuration } from "../../domain/index.js";
import { action, clientFor, output, UsageError } from "../context.js";

/** A guardrail flag's value in seconds ("8h", "30m", "0" for none; a bare number is in `bare` units). */
function duration(flag: string, bare: "s" | "m" | "h"): (v: string) => number {
  return (v) => {
    const s = parseDuration(v, bare);
    if (s === undefined)
      throw new UsageError(
        `${flag} "${v}" is not a duration: write e.g. 8h, 30m, 1h30m or 0 for none (a bare number is ${bare === "m" ? "minutes" : bare === "h" ? "hours" : "seconds"})`,
      );
    return s;
  };
}

/** A port flag's value, 1..65535. */
function port(v: string, prev: number[] = []): number[] {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535)
    throw new UsageError(`--port "${v}" is not a TCP port: use a whole number from 1 to 65535, e.g. 8888`);
  return [...prev, n];
}

/** Adds the instance flags to `jobs submit`. */
export function addInstanceOptions(cmd: Command): Command {
  return cmd
    .option("--instance", "an interactive instance: no natural end, billed per second until stopped")
    .option("--port <port>", "instances: a TCP port to reach in the container (repeatable), e.g. 8888", port)
    .option(
      "--max-duration <d>",
      "instances: stop after running this long, e.g. 8h (0: none; default: your account's)",
      duration("--max-duration", "h"),
    )
    .option(
      "--idle-stop <minutes>",
      "instances: stop after this long with no GPU utilisation and no relay traffic, e.g. 30 or 2h (0: none; default: your account's)",
      duration("--idle-stop", "m"),
    );
}

/** The POST /v1/jobs fields of the instance flags (none for a batch job; refuses instance flags without --instance). */
export function instanceBody(o: Record<string, unknown>, command: string[]): Record<string, unknown> {
  const ports = o.port as number[] | undefined;
  if (!o.instance) {
    if (ports || o.maxDuration !== undefined || o.idleStop !== undefined)
      throw new UsageError("--port, --max-duration and --idle-stop are for instances: add --instance");
    if (command.length === 0)
      throw new UsageError(
        "give the command to run after --, e.g. zumbido jobs submit --gpus 1 -- python train.py",
      );
    return {};
  }
  return {
    kind: "instance",
    ...(ports ? { ports } : {}),
    ...(o.maxDuration !== undefined ? { maxDurationS: o.maxDuration } : {}),
    ...(o.idleStop !== undefined ? { idleStopS: o.idleStop } : {}),
  };
}

/** "ports 8888, 22; stops after 8h or 30m idle". */
export function describeInstance(i: InstanceSpecView): string {
  const guard = [
    ...(i.maxDurationS ? [`after ${formatDuration(i.maxDurationS)}`] : []),
    ...(i.idleStopS ? [`after ${formatDuration(i.idleStopS)} idle`] : []),
  ];
  return `ports ${i.ports.length ? i.ports.join(", ") : "none"}; ${guard.length ? `stops ${guard.join(" or ")}` : "no guardrail: runs until you cancel it"}`;
}

const show = (d: InstanceDefaultsView): string =>
  `new instances stop after: ${d.maxDurationS ? formatDuration(d.maxDurationS) : "no limit"} running, ${d.idleStopS ? `${formatDuration(d.idleStopS)} idle` : "never for idleness"}`;

/** `zumbido instances defaults`: your account's guardrails for new instances. */
export function registerInstanceCommands(program: Command): void {
  const inst = program
    .command("instances")
    .description("interactive instances: your account's defaults (tenant)");
  inst
    .command("defaults")
    .description("show or set the --max-duration and --idle-stop new instances get unless they say otherwise")
    .option("--max-duration <d>", "e.g. 8h (0: none)", duration("--max-duration", "h"))
    .option("--idle-stop <minutes>", "e.g. 30 or 2h (0: none)", duration("--idle-stop", "m"))
    .option("--tenant <id>", "admin: the tenant whose defaults to show or set")
    .action(
      action(async (o: { maxDuration?: number; idleStop?: number; tenant?: string }, cmd: Command) => {
        const c = clientFor(cmd);
        const url = `/v1/settings/instances${o.tenant ? `?tenantId=${encodeURIComponent(o.tenant)}` : ""}`;
        const body = {
          ...(o.maxDuration !== undefined ? { maxDurationS: o.maxDuration } : {}),
          ...(o.idleStop !== undefined ? { idleStopS: o.idleStop } : {}),
        };
        const d =
          Object.keys(body).length > 0
            ? await c.put<InstanceDefaultsView>(url, body)
            : await c.get<InstanceDefaultsView>(url);
        output(cmd, d, show);
      }),
    );
}
