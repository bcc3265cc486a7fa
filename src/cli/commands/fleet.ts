import type { Command } from "commander";
import { parseMajor } from "../../domain/index.js";
import { action, clientFor, money, output, table, time, UsageError } from "../context.js";

interface SiteOut {
  id: string;
  name: string;
  country: string;
  powerKw: number;
  pue: number;
  cooling: string;
  carbonGPerKwh?: number | null;
  defaultImage?: string | null;
  allowImages?: string[];
  denyImages?: string[];
  allowNetwork?: boolean;
}
interface NodeOut {
  id: string;
  siteId: string;
  name: string;
  state: string;
  stateReason?: string | null;
  gpus: { index: number; model: string; healthy: boolean }[];
  lastHeartbeatAt?: number | null;
  runtime?: { executor: string; images: boolean; isolated: boolean } | null;
  held?: string | null;
}

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`"${v}" is not a number`);
  return n;
};

/** `zumbido sites|prices|nodes|capacity`: the operator's fleet and the marketplace view. */
export function registerFleetCommands(program: Command): void {
  const sites = program.command("sites").description("register and list sites (operator)");
  sites
    .command("create")
    .description("register a site")
    .requiredOption("--name <name>")
    .requiredOption("--country <code>", "ISO 3166-1 alpha-2, e.g. ES")
    .requiredOption("--lat <deg>", "latitude", num)
    .requiredOption("--lon <deg>", "longitude", num)
    .requiredOption("--power-kw <kw>", "contracted power in kW", num)
    .requiredOption("--pue <pue>", "power usage effectiveness (>= 1)", num)
    .option("--cooling <kind>", "air, immersion, direct-liquid or hybrid", "air")
    .option("--node-overhead-w <w>", "per-node overhead in W", num)
    .option("--carbon <g>", "grid carbon intensity, gCO2e/kWh", num)
    .action(
      action(async (o: Record<string, unknown>, cmd: Command) => {
        const s = await clientFor(cmd).post<SiteOut>("/v1/sites", {
          name: o.name,
          country: o.country,
          lat: o.lat,
          lon: o.lon,
          powerKw: o.powerKw,
          pue: o.pue,
          cooling: o.cooling,
          ...(o.nodeOverheadW !== undefined ? { nodeOverheadW: o.nodeOverheadW } : {}),
          ...(o.carbon !== undefined ? { carbonGPerKwh: o.carbon } : {}),
        });
        output(
          cmd,
          s,
          (x: SiteOut) =>
            `registered site ${x.id} (${x.name}, ${x.country}); next: zumbido prices set --site ${x.id} --model H100 --on-demand 2.40 --interruptible 1.20`,
        );
      }),
    );
  sites
    .command("list")
    .description("sites (operators see their own)")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const l = await clientFor(cmd).get<SiteOut[]>("/v1/sites");
        output(cmd, l, (x: SiteOut[]) =>
          table(
            ["ID", "NAME", "COUNTRY", "POWER kW", "PUE", "COOLING", "gCO2e/kWh"],
            x.map((s) => [s.id, s.name, s.country, s.powerKw, s.pue, s.cooling, s.carbonGPerKwh]),
          ),
        );
      }),
    );

  sites
    .command("update")
    .description(
      "change a site's image policy: zumbido sites update SITE --default-image ubuntu:22.04 --allow-image 'nvcr.io/nvidia/*' --allow-network",
    )
    .argument("<id>", "the site")
    .option("--default-image <image>", "image for jobs that name none")
    .option("--no-default-image", "no default image (jobs without an image run as host processes)")
    .option(
      "--allow-image <pattern>",
      "only images matching a pattern run here (repeatable; replaces the list; * and ? are globs)",
      (v: string, p: string[] = []) => [...p, v],
    )
    .option("--clear-allow-images", "any image not denied runs here")
    .option(
      "--deny-image <pattern>",
      "images matching a pattern never run here (repeatable; replaces the list)",
      (v: string, p: string[] = []) => [...p, v],
    )
    .option("--clear-deny-images", "deny no image")
    .option("--allow-network", "jobs that ask for network get it")
    .option("--no-allow-network", "no job gets network (the default)")
    .action(
      action(async (id: string, o: Record<string, unknown>, cmd: Command) => {
        const body = {
          ...(o.defaultImage !== undefined
            ? { defaultImage: o.defaultImage === false ? null : o.defaultImage }
            : {}),
          ...(o.allowImage ? { allowImages: o.allowImage } : o.clearAllowImages ? { allowImages: [] } : {}),
          ...(o.denyImage ? { denyImages: o.denyImage } : o.clearDenyImages ? { denyImages: [] } : {}),
          ...(o.allowNetwork !== undefined ? { allowNetwork: o.allowNetwork } : {}),
        };
        if (Object.keys(body).length === 0)
          throw new UsageError(
            "nothing to change: give --default-image, --allow-image, --deny-image or --allow-network (see --help)",
          );
        output(cmd, await clientFor(cmd).patch<SiteOut>(`/v1/sites/${id}`, body), siteSummary);
      }),
    );
  sites
    .command("show")
    .description("a site, with its image policy")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        output(cmd, await clientFor(cmd).get<SiteOut>(`/v1/sites/${id}`), siteSummary);
      }),
    );

  const prices = program
    .command("prices")
    .description("set and list prices per GPU model per site (operator)");
  prices
    .command("set")
    .requiredOption("--site <id>")
    .requiredOption("--model <id>", "GPU model, e.g. H100")
    .requiredOption("--on-demand <amount>", "price per GPU-hour, e.g. 2.40")
    .requiredOption("--interruptible <amount>", "interruptible floor per GPU-hour, e.g. 1.20")
    .action(
      action(
        async (o: { site: string; model: string; onDemand: string; interruptible: string }, cmd: Command) => {
          const conv = (v: string, flag: string): number => {
            try {
              return parseMajor(v);
            } catch {
              throw new UsageError(`${flag} "${v}" is not an amount like 2.40`);
            }
          };
          const p = await clientFor(cmd).put<{
            gpuModel: string;
            onDemandMinorPerGpuHour: number;
            interruptibleMinorPerGpuHour: number;
          }>(`/v1/sites/${o.site}/prices/${o.model}`, {
            onDemandMinorPerGpuHour: conv(o.onDemand, "--on-demand"),
            interruptibleMinorPerGpuHour: conv(o.interruptible, "--interruptible"),
          });
          output(
            cmd,
            p,
            (x: typeof p) =>
              `${x.gpuModel} at ${o.site}: ${money(x.onDemandMinorPerGpuHour)}/GPU-h on demand, ${money(x.interruptibleMinorPerGpuHour)}/GPU-h interruptible`,
          );
        },
      ),
    );
  prices
    .command("list")
    .option("--site <id>")
    .action(
      action(async (o: { site?: string }, cmd: Command) => {
        const l = await clientFor(cmd).get<
          {
            siteId: string;
            gpuModel: string;
            onDemandMinorPerGpuHour: number;
            interruptibleMinorPerGpuHour: number;
          }[]
        >(o.site ? `/v1/sites/${o.site}/prices` : "/v1/prices");
        output(cmd, l, (x: typeof l) =>
          table(
            ["SITE", "MODEL", "ON-DEMAND/GPU-h", "INTERRUPTIBLE/GPU-h"],
            x.map((p) => [
              p.siteId,
              p.gpuModel,
              money(p.onDemandMinorPerGpuHour),
              money(p.interruptibleMinorPerGpuHour),
            ]),
          ),
        );
      }),
    );

  const nodes = program
    .command("nodes")
    .description("enrol, list, drain and remove nodes; approve inventory changes; rotate keys (operator)");
  nodes
    .command("token")
    .description("a one-time enrolment token for a new node at a site")
    .requiredOption("--site <id>")
    .action(
      action(async (o: { site: string }, cmd: Command) => {
        const c = clientFor(cmd);
        const t = await c.post<{ token: string; expiresAt: number }>(`/v1/sites/${o.site}/enrolment-tokens`);
        output(
          cmd,
          t,
          (x: typeof t) =>
            `${x.token}\n(valid until ${time(x.expiresAt)}, once) on the node run: zumbido agent --server ${c.baseUrl} --token ${x.token}`,
        );
      }),
    );
  nodes
    .command("list")
    .option("--site <id>")
    .action(
      action(async (o: { site?: string }, cmd: Command) => {
        const l = await clientFor(cmd).get<NodeOut[]>(`/v1/nodes${o.site ? `?siteId=${o.site}` : ""}`);
        output(cmd, l, (x: NodeOut[]) =>
          table(
            ["ID", "NAME", "SITE", "STATE", "GPUS", "RUNTIME", "LAST HEARTBEAT", "WHY"],
            x.map((n) => [
              n.id,
              n.name,
              n.siteId,
              n.state,
              `${n.gpus.filter((g) => g.healthy).length}/${n.gpus.length} ${n.gpus[0]?.model ?? ""}`,
              n.runtime
                ? `${n.runtime.executor}${n.runtime.images ? ", images" : ""}${n.runtime.isolated ? ", isolated" : ", host processes"}`
                : "",
              time(n.lastHeartbeatAt),
              n.held ? `held: ${n.held}` : n.stateReason,
            ]),
          ),
        );
      }),
    );
  for (const [name, drain] of [
    ["drain", true],
    ["undrain", false],
  ] as const) {
    nodes
      .command(name)
      .description(drain ? "stop placing new work on a node" : "return a node to service")
      .argument("<id>")
      .option("--reason <text>")
      .action(
        action(async (id: string, o: { reason?: string }, cmd: Command) => {
          const n = await clientFor(cmd).post<NodeOut>(`/v1/nodes/${id}/drain`, {
            drain,
            ...(o.reason ? { reason: o.reason } : {}),
          });
          output(cmd, n, (x: NodeOut) => `${x.id}: ${x.state}`);
        }),
      );
  }

  program
    .command("capacity")
    .description("what the marketplace offers now: free GPUs and prices per site and model")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const l = await clientFor(cmd).get<Record<string, string | number | null>[]>("/v1/capacity");
        output(cmd, l, (x: typeof l) =>
          table(
            ["SITE", "COUNTRY", "MODEL", "FREE/TOTAL", "ON-DEMAND/GPU-h", "INTERRUPTIBLE/GPU-h", "gCO2e/kWh"],
            x.map((r) => [
              r.siteName,
              r.country,
              r.gpuModel,
              `${r.freeGpus}/${r.totalGpus}`,
              money(Number(r.onDemandMinorPerGpuHour)),
              money(Number(r.interruptibleMinorPerGpuHour)),
              r.carbonGPerKwh,
            ]),
          ),
        );
      }),
    );
}

/** A site in words, with its image policy. */
function siteSummary(s: SiteOut): string {
  const list = (l: string[] | undefined, none: string): string => (l?.length ? l.join(" ") : none);
  return [
    `${s.id}  ${s.name} (${s.country})`,
    `  power          ${s.powerKw} kW, PUE ${s.pue}, ${s.cooling} cooling`,
    `  default image  ${s.defaultImage ?? "none (jobs without an image run as host processes)"}`,
    `  allowed images ${list(s.allowImages, "any not denied")}`,
    `  denied images  ${list(s.denyImages, "none")}`,
    `  network        ${s.allowNetwork ? "allowed to jobs that ask" : "none"}`,
  ].join("\n");
}
