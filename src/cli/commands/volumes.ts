import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { Command } from "commander";
import type { StorageOfferView, VolumeTransferView, VolumeView } from "../../contract/index.js";
import { fileSha256, realSleep, receiveChunks, sendChunks } from "../../agent/volume-io.js";
import type { ApiClient } from "../../agent/client.js";
import { formatBytes, parseBytes, parseMajor, parseVolumeMount } from "../../domain/index.js";
import { action, clientFor, money, output, table, time, UsageError } from "../context.js";

/** The `--volume NAME:/path[:ro]` options of `jobs submit` as the API takes them. */
export function volumeMounts(specs: string[]): { name: string; mountPath: string; readOnly: boolean }[] {
  return specs.map((s) => {
    try {
      return parseVolumeMount(s);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  });
}

const bytesOpt =
  (what: string) =>
  (v: string): number => {
    try {
      return parseBytes(v);
    } catch (err) {
      throw new UsageError(`${what}: ${(err as Error).message}`);
    }
  };

/** `vol:NAME/path` split into the volume and the path in it; undefined for a local path. */
export function volumeRef(s: string): { volume: string; path: string } | undefined {
  if (!s.startsWith("vol:")) return undefined;
  const rest = s.slice(4);
  const i = rest.indexOf("/");
  if (i < 1 || i === rest.length - 1)
    throw new UsageError(`${s}: write vol:NAME/path/in/volume, e.g. vol:data/train.csv`);
  return { volume: rest.slice(0, i), path: rest.slice(i + 1) };
}

async function waitEnd(c: ApiClient, vol: string, id: string): Promise<VolumeTransferView> {
  for (;;) {
    const t = await c.get<VolumeTransferView>(`/v1/volumes/${encodeURIComponent(vol)}/transfers/${id}`);
    if (t.state !== "open") return t;
    await realSleep(300);
  }
}

async function upload(c: ApiClient, local: string, vol: string, path: string): Promise<VolumeTransferView> {
  const st = statSync(local, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new UsageError(`${local} is not a file`);
  const v = encodeURIComponent(vol);
  const t = await c.post<VolumeTransferView>(`/v1/volumes/${v}/uploads`, {
    path,
    sizeBytes: st.size,
    sha256: await fileSha256(local),
  });
  await sendChunks(
    c,
    (o) => `/v1/volumes/${v}/uploads/${t.id}/chunks/${o}`,
    local,
    t.receivedBytes,
    realSleep,
  );
  const end = await waitEnd(c, vol, t.id);
  if (end.state === "failed") throw new Error(`the copy into ${vol} failed: ${end.reason ?? "unknown"}`);
  return end;
}

async function download(c: ApiClient, vol: string, path: string, local: string): Promise<VolumeTransferView> {
  const dest = existsSync(local) && statSync(local).isDirectory() ? join(local, basename(path)) : local;
  const v = encodeURIComponent(vol);
  const t = await c.post<VolumeTransferView>(`/v1/volumes/${v}/downloads`, { path });
  const partial = `${dest}.zumbido-partial`;
  rmSync(partial, { force: true });
  await receiveChunks(
    c,
    (o) => `/v1/volumes/${v}/downloads/${t.id}/chunks/${o}`,
    partial,
    () => null,
    realSleep,
  );
  const end = await c.get<VolumeTransferView>(`/v1/volumes/${v}/transfers/${t.id}`);
  const sum = await fileSha256(partial);
  if (end.sha256 !== sum) {
    rmSync(partial, { force: true });
    throw new Error(
      `${path} arrived with SHA-256 ${sum}, not ${end.sha256 ?? "?"}; nothing was written, run the copy again`,
    );
  }
  renameSync(partial, dest);
  return end;
}

/** `zumbido volumes ...` (tenants) and `zumbido sites storage` (operators). */
export function registerVolumeCommands(program: Command): void {
  const sites = program.commands.find((c) => c.name() === "sites");
  (sites ?? program)
    .command("storage")
    .description(
      "offer storage at a site (operator): the folder on its nodes, capacity and price per GB-month",
    )
    .argument("<site>", "site id")
    .requiredOption(
      "--path <dir>",
      "where the storage is mounted on the site's nodes (their agents' --volume-root)",
    )
    .requiredOption("--capacity <size>", "storage offered, e.g. 10TB", bytesOpt("--capacity"))
    .requiredOption("--price <amount>", "price per GB-month in major units, e.g. 0.02")
    .action(
      action(async (site: string, o: { path: string; capacity: number; price: string }, cmd: Command) => {
        let priceMinor: number;
        try {
          priceMinor = parseMajor(o.price);
        } catch (err) {
          throw new UsageError(`--price ${o.price}: ${(err as Error).message}`);
        }
        const r = await clientFor(cmd).put<StorageOfferView>(
          `/v1/sites/${encodeURIComponent(site)}/storage`,
          {
            path: o.path,
            capacityBytes: o.capacity,
            priceMinorPerGbMonth: priceMinor,
          },
        );
        output(
          cmd,
          r,
          (x: StorageOfferView) =>
            `site ${x.siteId} offers ${formatBytes(x.capacityBytes)} at ${x.path ?? "?"} for ${money(x.priceMinorPerGbMonth, x.currency)} per GB-month (${formatBytes(x.freeBytes)} free)`,
        );
      }),
    );

  const vols = program.command("volumes").description("storage at a site that jobs mount (tenant)");
  vols
    .command("sites")
    .description("sites that offer storage, with free capacity and price")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const list = await clientFor(cmd).get<StorageOfferView[]>("/v1/storage");
        output(cmd, list, (l: StorageOfferView[]) =>
          table(
            ["SITE", "NAME", "COUNTRY", "FREE", "PRICE/GB-MONTH"],
            l.map((x) => [
              x.siteId,
              x.siteName,
              x.country,
              formatBytes(x.freeBytes),
              money(x.priceMinorPerGbMonth, x.currency),
            ]),
          ),
        );
      }),
    );
  vols
    .command("create")
    .description("create a volume at a site; its bytes never leave the site")
    .argument("<name>", "a name: lowercase letters, digits, '.', '_' and '-'")
    .requiredOption("--site <id>", "the site (zumbido volumes sites)")
    .requiredOption(
      "--size <size>",
      "its size, the most it holds and what is billed, e.g. 10GB",
      bytesOpt("--size"),
    )
    .action(
      action(async (name: string, o: { site: string; size: number }, cmd: Command) => {
        const v = await clientFor(cmd).post<VolumeView>("/v1/volumes", {
          name,
          siteId: o.site,
          sizeBytes: o.size,
        });
        output(
          cmd,
          v,
          (x: VolumeView) =>
            `created volume ${x.name} (${x.id}): ${formatBytes(x.sizeBytes)} at site ${x.siteId} (${x.country}), ${money(x.priceMinorPerGbMonth, x.currency)} per GB-month`,
        );
      }),
    );
  vols
    .command("list")
    .description("your volumes")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const list = await clientFor(cmd).get<VolumeView[]>("/v1/volumes");
        output(cmd, list, (l: VolumeView[]) =>
          table(
            ["NAME", "ID", "SITE", "COUNTRY", "USED", "SIZE", "CREATED"],
            l.map((v) => [
              v.name,
              v.id,
              v.siteId,
              v.country,
              formatBytes(v.usedBytes),
              formatBytes(v.sizeBytes),
              time(v.createdAt),
            ]),
          ),
        );
      }),
    );
  vols
    .command("show")
    .description("a volume and every site that has held its bytes")
    .argument("<volume>", "name or id")
    .action(
      action(async (vol: string, _o: unknown, cmd: Command) => {
        const v = await clientFor(cmd).get<VolumeView>(`/v1/volumes/${encodeURIComponent(vol)}`);
        output(cmd, v, (x: VolumeView) =>
          [
            `${x.name} (${x.id}) ${x.state}: ${formatBytes(x.usedBytes)} of ${formatBytes(x.sizeBytes)}`,
            ...x.locations.map(
              (l) =>
                `held at site ${l.siteId} (${l.siteName}, ${l.country}) since ${time(l.from)}${l.to ? ` until ${time(l.to)}` : ""}`,
            ),
          ].join("\n"),
        );
      }),
    );
  vols
    .command("delete")
    .description("delete a volume and its bytes (refused while a job that mounts it has not ended)")
    .argument("<volume>", "name or id")
    .action(
      action(async (vol: string, _o: unknown, cmd: Command) => {
        const v = await clientFor(cmd).delete<VolumeView>(`/v1/volumes/${encodeURIComponent(vol)}`);
        output(cmd, v, (x: VolumeView) => `deleted volume ${x.name} (${x.id})`);
      }),
    );
  vols
    .command("cp")
    .description("copy a file into or out of a volume: cp LOCAL vol:NAME/path, or cp vol:NAME/path LOCAL")
    .argument("<from>")
    .argument("<to>")
    .action(
      action(async (from: string, to: string, _o: unknown, cmd: Command) => {
        const src = volumeRef(from);
        const dst = volumeRef(to);
        if ((src && dst) || (!src && !dst))
          throw new UsageError(
            "give one local path and one vol:NAME/path, e.g. zumbido volumes cp data.csv vol:ds/data.csv",
          );
        const c = clientFor(cmd);
        const t = dst
          ? await upload(c, from, dst.volume, dst.path)
          : await download(c, src!.volume, src!.path, to);
        output(
          cmd,
          t,
          (x: VolumeTransferView) =>
            `copied ${formatBytes(x.sizeBytes ?? 0)} ${dst ? `into ${to}` : `to ${to}`} (sha256 ${x.sha256 ?? "?"})`,
        );
      }),
    );
}
