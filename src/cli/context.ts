import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { ApiClient, ApiError } from "../agent/client.js";

/** Where `zumbido login` keeps the server URL and key. */
export function configPath(): string {
  return (
    process.env.ZUMBIDO_CONFIG ??
    join(process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "zumbido", "config.json")
  );
}

/** Reads the CLI's config file, if any. */
export function readCliConfig(): { url?: string; token?: string } {
  const p = configPath();
  if (!existsSync(p)) return {};
  try {
    return JSON.parse(readFileSync(p, "utf8")) as { url?: string; token?: string };
  } catch {
    throw new Error(`the config file ${p} is not valid JSON; fix or delete it, or run zumbido login again`);
  }
}

/** Writes the CLI's config file (0600). */
export function writeCliConfig(c: { url: string; token: string }): string {
  const p = configPath();
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, JSON.stringify(c, null, 2), { mode: 0o600 });
  return p;
}

/** Global options every command inherits. */
export interface GlobalOpts {
  url?: string;
  token?: string;
  json?: boolean;
}

/** The server, key and private CA of a command: flags, then env, then the config file. */
export function connectionFor(cmd: Command): { url: string; token: string; ca?: string } {
  const o = cmd.optsWithGlobals<GlobalOpts>();
  const file = readCliConfig();
  const url = o.url ?? process.env.ZUMBIDO_URL ?? file.url ?? "http://127.0.0.1:8080";
  const token = o.token ?? process.env.ZUMBIDO_TOKEN ?? file.token ?? null;
  if (!token)
    throw new UsageError(
      "no API key: pass --token, set ZUMBIDO_TOKEN, or run `zumbido login --url URL --token KEY`",
    );
  const ca = readCaFile(process.env.ZUMBIDO_CA_FILE);
  return { url, token, ...(ca ? { ca } : {}) };
}

/** The API client for a command: flags, then env, then the config file. */
export function clientFor(cmd: Command): ApiClient {
  const { url, token, ca } = connectionFor(cmd);
  return new ApiClient(url, token, 30_000, ca ? { ca } : {});
}

/** The PEM text of a private CA file (--ca-file or ZUMBIDO_CA_FILE), or undefined when none is named. */
export function readCaFile(path: string | undefined): string | undefined {
  if (!path) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(
      `cannot read the CA file ${path} (--ca-file or ZUMBIDO_CA_FILE): ${(err as Error).message}`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new UsageError(`the CA file ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return pem;
}

/** A mistake of the user's; exits 2. */
export class UsageError extends Error {}

/** Prints data as JSON (--json) or with the human formatter. */
export function output(cmd: Command, data: unknown, human: (d: never) => string): void {
  if (cmd.optsWithGlobals<GlobalOpts>().json) console.log(JSON.stringify(data, null, 2));
  else console.log(human(data as never));
}

/** Wraps an action: API errors and usage errors become one clear line and an exit code. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ApiError) {
        const errors = (err.body as { errors?: { path: string; message: string }[] } | undefined)?.errors;
        console.error(
          `zumbido: ${err.detail}${errors && errors.length > 1 ? `\n${errors.map((e) => `  ${e.path}: ${e.message}`).join("\n")}` : ""}`,
        );
        process.exitCode = err.status === 401 || err.status === 403 ? 3 : err.status === 404 ? 4 : 2;
      } else if (err instanceof UsageError) {
        console.error(`zumbido: ${err.message}`);
        process.exitCode = 2;
      } else {
        console.error(`zumbido: ${(err as Error).message}`);
        process.exitCode = 1;
      }
    }
  };
}

/** A plain text table. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  if (rows.length === 0) return "(none)";
  const cells = [
    headers,
    ...rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (c ?? "").padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Formats minor units as "2.40 EUR". */
export function money(minor: number, currency = "EUR"): string {
  const sign = minor < 0 ? "-" : "";
  const a = Math.abs(minor);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")} ${currency}`;
}

/** Formats epoch ms as an ISO time without milliseconds. */
export function time(ms: number | null | undefined): string {
  return ms == null ? "-" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
