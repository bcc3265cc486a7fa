// Real server and agent processes for end-to-end suites.
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, resolve } from "node:path";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../bin/zumbido.js");

/** A started server process. */
export interface ServerProc {
  proc: ChildProcess;
  url: string;
  port: number;
  adminKey?: string;
}

/** Starts `zumbido serve` (this checkout's, or the program `command` names) and waits for its ready line. */
export async function startServerProc(
  store: string,
  port = 0,
  env: Record<string, string> = {},
  command: readonly string[] = [process.execPath, BIN],
): Promise<ServerProc> {
  const proc = spawn(
    command[0]!,
    [
      ...command.slice(1),
      "serve",
      "--port",
      String(port),
      "--store",
      store,
      "--ready-json",
      "--log-level",
      "warn",
    ],
    {
      env: {
        ...process.env,
        ZUMBIDO_SCHEDULE_INTERVAL_MS: "200",
        ZUMBIDO_STOP_GRACE_S: "2",
        // The server's data folder (its generated secret key) beside an SQLite store, never the working tree.
        ZUMBIDO_DATA: store.startsWith("sqlite:") ? dirname(store.slice("sqlite:".length)) : tmpdir(),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`server did not start in 60 s: ${stderr}`)), 60_000);
    proc.once("exit", (c) => rej(new Error(`server exited (${c}): ${stderr}`)));
    createInterface({ input: proc.stdout! }).once("line", (l) => {
      clearTimeout(t);
      res(l);
    });
  });
  const r = JSON.parse(line) as { url: string; adminKey?: string };
  return {
    proc,
    url: r.url,
    port: Number(new URL(r.url).port),
    ...(r.adminKey ? { adminKey: r.adminKey } : {}),
  };
}

/** Starts `zumbido agent` with simulated GPUs. */
export function startAgentProc(
  server: string,
  stateDir: string,
  gpus: string,
  token?: string,
  name = "e2e-node",
  extra: string[] = [],
  env: Record<string, string> = {},
): ChildProcess {
  const args = [
    BIN,
    "agent",
    "--server",
    server,
    "--simulate-gpus",
    gpus,
    "--state-dir",
    stateDir,
    "--heartbeat-ms",
    "200",
    "--meter-ms",
    "500",
    "--name",
    name,
    "--executor",
    "local",
    "--unsafe-host-processes",
  ];
  if (token) args.push("--token", token);
  args.push(...extra);
  const proc = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  proc.stdout!.resume();
  proc.stderr!.resume();
  return proc;
}

/** Kills a process and waits for it to be gone. */
export async function kill(proc: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((res) => {
    proc.once("exit", () => res());
    proc.kill(signal);
  });
}

/** Polls until check() is truthy, or fails saying what it waited for. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
