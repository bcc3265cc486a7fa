// Tenants' ways into a running job through the relay: exec, TCP port forwarding, and SSH (as an
// OpenSSH ProxyCommand, or running the system's ssh with it).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { Duplex } from "node:stream";
import type { Command } from "commander";
import type { WebSocket } from "ws";
import { ApiError } from "../../agent/client.js";
import { connectWs, runExec, UpgradeRefused, wsUrl } from "../../relay/client.js";
import { bridgeRaw } from "../../relay/ws-bridge.js";
import { action, connectionFor, UsageError } from "../context.js";

/** Opens a relay WebSocket for a command; a refusal becomes the API's error (exit 4 for 404). */
export async function relaySocket(cmd: Command, path: string): Promise<WebSocket> {
  const c = connectionFor(cmd);
  try {
    return await connectWs(wsUrl(c.url, path), c.token, { ...(c.ca ? { ca: c.ca } : {}), env: process.env });
  } catch (err) {
    if (err instanceof UpgradeRefused) throw new ApiError(err.status, err.detail, { detail: err.detail });
    throw err;
  }
}

const portPath = (job: string, port: number): string =>
  `/v1/jobs/${encodeURIComponent(job)}/ports/${port}/tcp`;

function parsePort(v: string, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`${what} "${v}" is not a port number (0-65535)`);
  return n;
}

/** "LOCAL:REMOTE" or "REMOTE" (the same port locally). */
export function parseForward(spec: string): { local: number; remote: number } {
  const parts = spec.split(":");
  if (parts.length > 2) throw new UsageError(`"${spec}": give LOCAL:REMOTE, e.g. 8080:80, or one port`);
  const remote = parsePort(parts[parts.length - 1]!, "the remote port");
  if (remote === 0) throw new UsageError("the remote port must be 1-65535");
  return { local: parts.length === 2 ? parsePort(parts[0]!, "the local port") : remote, remote };
}

/** The public key lines of --ssh-key files (the server checks their format). */
export function readSshKeys(files: string[]): string[] {
  const keys: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read the SSH key file ${f}: ${(err as Error).message}`);
    }
    if (text.includes("PRIVATE KEY"))
      throw new UsageError(`${f} is a private key: give the public key file (${f}.pub)`);
    const lines = text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    if (!lines.length) throw new UsageError(`the SSH key file ${f} holds no key`);
    keys.push(...lines);
  }
  return keys;
}

/** Quotes a word for /bin/sh (ssh runs ProxyCommand through the shell). */
const shq = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function registerRelayCommands(program: Command): void {
  program
    .command("exec")
    .description("run a command in your running job's container: zumbido exec JOB -- ls -l /work")
    .argument("<job>", "job id")
    .argument("<command...>", "the program and its arguments (after --)")
    .option("--no-stdin", "send no input (the command's stdin is closed at once)")
    .option("-t, --tty", "give the command a terminal")
    .action(
      action(async (job: string, command: string[], o: { stdin: boolean; tty?: boolean }, cmd: Command) => {
        const q = new URLSearchParams(command.map((a) => ["argv", a]));
        if (o.tty) q.set("tty", "1");
        const ws = await relaySocket(cmd, `/v1/jobs/${encodeURIComponent(job)}/exec?${q.toString()}`);
        const code = await runExec(ws, o.stdin ? process.stdin : null, process.stdout, process.stderr);
        process.stdin.pause();
        process.exitCode = code ?? 255;
      }),
    );

  program
    .command("port-forward")
    .description("forward a local TCP port to a port in your running job: zumbido port-forward JOB 8888:8888")
    .argument("<job>", "job id")
    .argument("<ports>", "LOCAL:REMOTE (LOCAL 0 picks a free port), or one port for both")
    .option("--address <ip>", "local address to listen on", "127.0.0.1")
    .action(
      action(async (job: string, ports: string, o: { address: string }, cmd: Command) => {
        const { local, remote } = parseForward(ports);
        connectionFor(cmd);
        const server = net.createServer((sock) => {
          sock.pause();
          relaySocket(cmd, portPath(job, remote)).then(
            (ws) => {
              bridgeRaw(ws, sock);
              sock.resume();
            },
            (err: Error) => {
              console.error(
                `zumbido: connection to port ${remote} of ${job} refused: ${err instanceof ApiError ? err.detail : err.message}`,
              );
              sock.destroy();
            },
          );
        });
        await new Promise<void>((res, rej) => {
          server.once("error", rej);
          server.listen(local, o.address, () => res());
        });
        const bound = (server.address() as net.AddressInfo).port;
        console.log(`forwarding ${o.address}:${bound} -> ${job} port ${remote} (Ctrl-C to stop)`);
        await new Promise<void>((res) => {
          const stop = (): void => {
            server.close();
            res();
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      }),
    );

  program
    .command("ssh-proxy")
    .description(
      "carry one TCP connection to the job's SSH port over stdin/stdout (for OpenSSH: ProxyCommand zumbido ssh-proxy JOB)",
    )
    .argument("<job>", "job id")
    .option("--port <n>", "the SSH server's port inside the container", "22")
    .action(
      action(async (job: string, o: { port: string }, cmd: Command) => {
        const ws = await relaySocket(cmd, portPath(job, parsePort(o.port, "--port")));
        const io = Duplex.from({ readable: process.stdin, writable: process.stdout });
        bridgeRaw(ws, io);
        await new Promise<void>((res) => ws.once("close", () => res()));
        process.stdin.pause();
        process.stdin.destroy();
      }),
    );

  program
    .command("ssh")
    .description(
      "open an SSH session into your running job (runs ssh with zumbido ssh-proxy as its ProxyCommand)",
    )
    .argument("<job>", "job id")
    .argument("[args...]", "more arguments for ssh (after --), e.g. a command to run")
    .option("--port <n>", "the SSH server's port inside the container", "22")
    .option("-l, --login <user>", "user name inside the container")
    .option("-i, --identity <file>", "private key file (ssh -i)")
    .option(
      "-o, --ssh-option <option>",
      "an ssh -o option, e.g. StrictHostKeyChecking=accept-new (repeatable)",
      (v: string, p: string[] = []) => [...p, v],
    )
    .action(
      action(
        async (
          job: string,
          args: string[],
          o: { port: string; login?: string; identity?: string; sshOption?: string[] },
          cmd: Command,
        ) => {
          const c = connectionFor(cmd);
          parsePort(o.port, "--port");
          const self = [process.execPath, ...process.execArgv, process.argv[1]!];
          const proxy = [...self, "ssh-proxy", job, "--port", o.port].map(shq).join(" ");
          const sshArgs = [
            "-o",
            `ProxyCommand=${proxy}`,
            "-o",
            `HostKeyAlias=zumbido-${job}`,
            "-o",
            "PasswordAuthentication=no",
            ...(o.login ? ["-l", o.login] : []),
            ...(o.identity ? ["-i", o.identity] : []),
            ...(o.sshOption ?? []).flatMap((x) => ["-o", x]),
            `zumbido-${job}`,
            ...args,
          ];
          // The key and server go to the ProxyCommand through the environment, never its command line.
          const env = { ...process.env, ZUMBIDO_URL: c.url, ZUMBIDO_TOKEN: c.token };
          const child = spawn(process.env.ZUMBIDO_SSH ?? "ssh", sshArgs, { stdio: "inherit", env });
          process.exitCode = await new Promise<number>((res) => {
            child.once("error", (err) => {
              console.error(`zumbido: cannot run ssh (${err.message}); install OpenSSH's client`);
              res(1);
            });
            child.once("exit", (code) => res(code ?? 255));
          });
        },
      ),
    );
}
