import { Option, type Command } from "commander";
import type { Job, JobView } from "../../contract/index.js";
import { parseMajor } from "../../domain/index.js";
import { action, clientFor, money, output, table, time, UsageError } from "../context.js";
import { repeat, secretEnvFrom } from "./secrets.js";
import { readSshKeys } from "./relay.js";
import { volumeMounts } from "./volumes.js";
import { addInstanceOptions, describeInstance, instanceBody } from "./instances.js";

/** A job as the list answers it, with the view's leases, usage and placements when shown one by one. */
type JobOut = Job & Partial<Pick<JobView, "leases" | "usage" | "placements" | "checkpoint">>;

const collect = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

/** Parses "2.50" (major units) into minor units with a clear error. */
function price(v: string): number {
  try {
    return parseMajor(v);
  } catch {
    throw new UsageError(`--max-price "${v}" is not an amount like 2.50 (currency units per GPU-hour)`);
  }
}

/** `zumbido jobs ...`: submit, list, show, logs, events, cancel. */
export function registerJobsCommand(program: Command): void {
  const jobs = program.command("jobs").description("submit and follow jobs (tenant)");

  const submit = jobs
    .command("submit")
    .description("submit a job: zumbido jobs submit --gpus 2 --model H100 -- python train.py")
    .requiredOption("--gpus <n>", "number of GPUs (the whole gang)", (v) => Number(v))
    .option(
      "--model <ids>",
      "acceptable GPU model(s), in order of preference (repeat or comma-separate)",
      collect,
    )
    .option("--gpus-per-node <n>", "GPUs per node for multi-node gangs", (v) => Number(v))
    .option("--fabric <label>", "interconnect every node must be on, e.g. ib-ndr, roce, eth-100g")
    .option("--min-gpu-memory <gb>", "minimum GPU memory in GB", (v) => Number(v))
    .option("--max-price <amount>", "highest price per GPU-hour, e.g. 2.50")
    .addOption(new Option("--jurisdiction <j>", "keep the job inside EU or EEA").choices(["EU", "EEA"]))
    .option("--country <codes>", "allowed countries (ISO codes, repeat or comma-separate)", collect)
    .option("--max-carbon <g>", "highest grid carbon intensity, gCO2e/kWh", (v) => Number(v))
    .option("--interruptible", "cheaper capacity that may be preempted with a checkpoint notice")
    .option("--runtime <s>", "your runtime estimate in seconds", (v) => Number(v))
    .option("--grace <s>", "seconds between the checkpoint notice (SIGTERM) and the kill", (v) => Number(v))
    .option("--shell", "run the command through /bin/sh -c")
    .option(
      "--image <image>",
      "container image to run in, e.g. nvcr.io/nvidia/pytorch:24.08-py3 (default: the site's default image)",
    )
    .option("--network", "ask for network access (granted only where the site allows it)")
    .option(
      "--env <KEY=VALUE>",
      "environment variable for the workload (repeatable)",
      (v: string, p: string[] = []) => [...p, v],
    )
    .option(
      "--secret-env <NAME=VALUE>",
      "secret environment variable (repeatable): stored encrypted, given only to the node running the job, never shown back; NAME=@FILE reads the value from FILE",
      repeat,
    )
    .option(
      "--secret-env-from-env <NAME>",
      "secret environment variable whose value is this shell's $NAME (or NAME=VAR: $VAR), so it stays out of shell history (repeatable)",
      repeat,
    )
    .option(
      "--registry-secret <name>",
      "your registry secret to pull --image with (zumbido secrets create-registry)",
    )
    .option(
      "--volume <NAME:/path[:ro]>",
      "mount your volume NAME at /path (read-only with :ro; repeatable); the job then runs only at the volume's site",
      repeat,
    )
    .option(
      "--fresh-if-checkpoint-lost",
      "interruptible jobs: start from an empty checkpoint folder if the checkpoint cannot be copied to the new node (default: wait for it)",
    )
    .option("--name <name>", "a name for the job")
    .option(
      "--ssh-key <file>",
      "OpenSSH public key file (e.g. ~/.ssh/id_ed25519.pub) the container gets as authorized_keys, for zumbido ssh (repeatable)",
      repeat,
    )
    .option("--follow", "wait for the job to end, printing its logs");
  addInstanceOptions(submit)
    .argument("[command...]", "the program and its arguments (after --); an instance without one waits idle")
    .action(
      action(async (command: string[], o: Record<string, unknown>, cmd: Command) => {
        const env: Record<string, string> = {};
        for (const kv of (o.env as string[] | undefined) ?? []) {
          const i = kv.indexOf("=");
          if (i < 1) throw new UsageError(`--env "${kv}" is not KEY=VALUE`);
          env[kv.slice(0, i)] = kv.slice(i + 1);
        }
        const secretEnv = secretEnvFrom(
          (o.secretEnv as string[] | undefined) ?? [],
          (o.secretEnvFromEnv as string[] | undefined) ?? [],
        );
        const body = {
          gpus: o.gpus,
          gpuModels: (o.model as string[] | undefined) ?? ["H100"],
          class: o.interruptible ? "interruptible" : "on-demand",
          ...(command.length ? { command: o.shell ? [command.join(" ")] : command } : {}),
          ...instanceBody(o, command),
          ...(o.name ? { name: o.name } : {}),
          ...(o.gpusPerNode ? { gpusPerNode: o.gpusPerNode } : {}),
          ...(o.fabric ? { fabric: o.fabric } : {}),
          ...(o.minGpuMemory ? { minGpuMemoryGb: o.minGpuMemory } : {}),
          ...(o.maxPrice ? { maxPriceMinorPerGpuHour: price(o.maxPrice as string) } : {}),
          ...(o.jurisdiction ? { jurisdiction: o.jurisdiction } : {}),
          ...(o.country ? { countries: o.country } : {}),
          ...(o.maxCarbon ? { maxCarbonGPerKwh: o.maxCarbon } : {}),
          ...(o.runtime ? { runtimeEstimateS: o.runtime } : {}),
          ...(o.grace !== undefined ? { gracePeriodS: o.grace } : {}),
          ...(o.freshIfCheckpointLost ? { freshIfCheckpointLost: true } : {}),
          ...(o.shell ? { shell: true } : {}),
          ...(o.image ? { image: o.image } : {}),
          ...(o.network ? { network: true } : {}),
          ...(Object.keys(env).length ? { env } : {}),
          ...(Object.keys(secretEnv).length ? { secretEnv } : {}),
          ...(o.registrySecret ? { registrySecret: o.registrySecret } : {}),
          ...(o.sshKey ? { sshKeys: readSshKeys(o.sshKey as string[]) } : {}),
          ...(o.volume ? { volumes: volumeMounts(o.volume as string[]) } : {}),
        };
        const c = clientFor(cmd);
        const job = await c.post<JobOut>("/v1/jobs", body);
        if (!o.follow) {
          output(cmd, job, (j: JobOut) =>
            j.spec.instance
              ? `submitted instance ${j.id} (${j.request.gpus}x ${j.request.gpuModels.join("|")}, ${j.request.class}); ${describeInstance(j.spec.instance)}; see it with: zumbido jobs show ${j.id}`
              : `submitted ${j.id} (${j.request.gpus}x ${j.request.gpuModels.join("|")}, ${j.request.class}); follow it with: zumbido jobs logs -f ${j.id}`,
          );
          return;
        }
        const end = await follow(c, job.id, !cmd.optsWithGlobals<{ json?: boolean }>().json);
        output(cmd, end, summary);
        if (end.state !== "succeeded") process.exitCode = 1;
      }),
    );

  jobs
    .command("list")
    .description("your jobs, newest first")
    .option("--limit <n>", "at most this many", (v) => Number(v), 50)
    .action(
      action(async (o: { limit: number }, cmd: Command) => {
        const list = await clientFor(cmd).get<JobOut[]>(`/v1/jobs?limit=${o.limit}`);
        output(cmd, list, (l: JobOut[]) =>
          table(
            ["ID", "STATE", "GPUS", "CLASS", "SUBMITTED", "REASON"],
            l.map((j) => [
              j.id,
              j.state,
              `${j.request.gpus}x${j.request.gpuModels.join("|")}`,
              j.request.class,
              time(j.submittedAt),
              j.state === "pending" ? j.reasons.join("; ") || j.stateReason : j.stateReason,
            ]),
          ),
        );
      }),
    );

  jobs
    .command("show")
    .description("a job: state, why it waits, where it runs, usage and cost")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        output(cmd, await clientFor(cmd).get<JobOut>(`/v1/jobs/${id}`), summary);
      }),
    );

  jobs
    .command("events")
    .description("a job's state history")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const ev = await clientFor(cmd).get<{ at: number; state: string; message: string }[]>(
          `/v1/jobs/${id}/events`,
        );
        output(cmd, ev, (e: typeof ev) =>
          table(
            ["TIME", "STATE", "MESSAGE"],
            e.map((x) => [time(x.at), x.state, x.message]),
          ),
        );
      }),
    );

  jobs
    .command("logs")
    .description("a job's logs; -f follows until it ends")
    .argument("<id>")
    .option("-f, --follow", "keep printing new lines until the job ends")
    .action(
      action(async (id: string, o: { follow?: boolean }, cmd: Command) => {
        const c = clientFor(cmd);
        if (o.follow) {
          const end = await follow(c, id, true);
          if (end.state !== "succeeded")
            console.error(`zumbido: job ${id} ${end.state}: ${end.stateReason ?? ""}`);
          return;
        }
        const lines = await c.get<{ id: number; stream: string; text: string }[]>(`/v1/jobs/${id}/logs`);
        if (cmd.optsWithGlobals<{ json?: boolean }>().json) console.log(JSON.stringify(lines, null, 2));
        else for (const l of lines) (l.stream === "stderr" ? process.stderr : process.stdout).write(l.text);
      }),
    );

  jobs
    .command("cancel")
    .description("cancel a job (billing stops now; the workload gets its checkpoint notice)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const j = await clientFor(cmd).post<JobOut>(`/v1/jobs/${id}/cancel`);
        output(cmd, j, (x: JobOut) => `${x.id}: ${x.state} (${x.stateReason ?? ""})`);
      }),
    );
}

/** Prints new log lines until the job ends; returns the final job. */
async function follow(c: ReturnType<typeof clientFor>, id: string, print: boolean): Promise<JobOut> {
  let after = 0;
  for (;;) {
    const lines = await c.get<{ id: number; stream: string; text: string }[]>(
      `/v1/jobs/${id}/logs?after=${after}`,
    );
    for (const l of lines) {
      if (print) (l.stream === "stderr" ? process.stderr : process.stdout).write(l.text);
      after = l.id;
    }
    const job = await c.get<JobOut>(`/v1/jobs/${id}`);
    if (["succeeded", "failed", "cancelled"].includes(job.state)) {
      const rest = await c.get<{ id: number; stream: string; text: string }[]>(
        `/v1/jobs/${id}/logs?after=${after}`,
      );
      for (const l of rest)
        if (print) (l.stream === "stderr" ? process.stderr : process.stdout).write(l.text);
      return job;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function summary(j: JobOut): string {
  const lines = [
    `${j.id}  ${j.name}`,
    `  state      ${j.state}${j.stateReason ? ` (${j.stateReason})` : ""}`,
  ];
  lines.push(
    `  asks       ${j.request.gpus}x ${j.request.gpuModels.join(" or ")}, ${j.request.class}${j.request.jurisdiction ? `, ${j.request.jurisdiction} only` : ""}${j.request.countries ? `, in ${j.request.countries.join(",")}` : ""}${j.request.maxPriceMinorPerGpuHour ? `, at most ${money(j.request.maxPriceMinorPerGpuHour)}/GPU-h` : ""}`,
  );
  lines.push(
    `  image      ${j.spec?.image ?? "the site's default image"}${j.spec?.network ? ", network requested" : ""}`,
  );
  const secrets = [
    ...(j.spec?.secretEnvNames ?? []),
    ...(j.spec?.registrySecret ? [`registry login ${j.spec.registrySecret}`] : []),
  ];
  if (j.spec?.instance) lines.push(`  instance   ${describeInstance(j.spec.instance)}`);
  if (secrets.length) lines.push(`  secrets    ${secrets.join(", ")} (values never shown)`);
  if (j.reasons.length) lines.push(`  waits for  ${j.reasons.join("\n             ")}`);
  for (const l of j.leases ?? [])
    lines.push(
      `  runs on    node ${l.nodeId} at ${j.placements?.find((p) => p.siteId === l.siteId)?.siteName ?? l.siteId} (${l.country}), GPUs ${l.gpuIndices.join(",")}, ${money(l.priceMinorPerGpuHour)}/GPU-h, lease ${l.state}`,
    );
  if (j.checkpoint)
    lines.push(
      `  checkpoint on node ${j.checkpoint.nodeId} at ${j.checkpoint.siteId} (${j.checkpoint.country}), ${j.checkpoint.sizeBytes} bytes in ${j.checkpoint.files} file(s), saved ${time(j.checkpoint.savedAt)}`,
    );
  lines.push(
    `  times      submitted ${time(j.submittedAt)}, started ${time(j.startedAt)}, ended ${time(j.endedAt)}`,
  );
  if (j.usage)
    lines.push(
      `  usage      ${j.usage.gpuSeconds} GPU-s, ${money(j.usage.costMinor, j.usage.currency)}, ${j.usage.energyWh} Wh`,
    );
  return lines.join("\n");
}
