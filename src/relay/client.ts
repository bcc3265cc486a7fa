// The client side of the relay's WebSockets (CLI and agent): connect with a bearer key (through an
// HTTP proxy when one is configured), turn a refused upgrade into an error with the server's reason,
// and speak the exec protocol.
import type { Agent as HttpAgent } from "node:http";
import type { Readable, Writable } from "node:stream";
import { WebSocket } from "ws";
import { proxyAgentFor } from "./proxy.js";
import { CH, sendReadable, writeFromWs } from "./ws-bridge.js";

/** The server refused the upgrade: its HTTP status and problem detail. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`HTTP ${status}: ${detail}`);
    this.name = "UpgradeRefused";
  }
}

export interface WsConnectOptions {
  /** PEM of a private CA that signed the server's certificate. */
  ca?: string;
  /** Environment to read HTTPS_PROXY / HTTP_PROXY / NO_PROXY from (default: none). */
  env?: Record<string, string | undefined>;
  /** Largest message accepted (default 1 MiB). */
  maxPayload?: number;
  /** Give up connecting after this long (default 15 s). */
  timeoutMs?: number;
}

/** ws:// or wss:// for an http(s) server URL and a path. */
export function wsUrl(server: string, path: string): string {
  const u = new URL(path, server);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}

/** Opens a WebSocket with `Authorization: Bearer key`; rejects with {@link UpgradeRefused} when refused. */
export function connectWs(url: string, key: string | null, o: WsConnectOptions = {}): Promise<WebSocket> {
  const agent: HttpAgent | undefined = proxyAgentFor(url, o.env ?? {}, o.ca);
  const ws = new WebSocket(url, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    maxPayload: o.maxPayload ?? 1024 * 1024,
    perMessageDeflate: false,
    handshakeTimeout: o.timeoutMs ?? 15_000,
    ...(o.ca ? { ca: o.ca } : {}),
    ...(agent ? { agent } : {}),
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.removeAllListeners("error");
      resolve(ws);
    });
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => {
      const body: Buffer[] = [];
      res.on("data", (c: Buffer) => body.length < 64 && body.push(c));
      res.on("end", () => {
        let detail = res.statusMessage ?? "";
        try {
          detail = (JSON.parse(Buffer.concat(body).toString()) as { detail?: string }).detail ?? detail;
        } catch {
          // not a problem document
        }
        ws.terminate();
        reject(new UpgradeRefused(res.statusCode ?? 0, detail));
      });
    });
  });
}

/**
 * Runs the exec protocol on an open WebSocket: stdin's bytes go to the process (its end closes the
 * process's stdin), stdout and stderr come back; resolves with the exit code (null if unknown).
 */
export function runExec(
  ws: WebSocket,
  stdin: Readable | null,
  stdout: Writable,
  stderr: Writable,
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    let exitCode: number | null | undefined;
    ws.on("message", (data: Buffer) => {
      if (data.length === 0) return;
      if (data[0] === CH.STDOUT) writeFromWs(ws, stdout, data.subarray(1));
      else if (data[0] === CH.STDERR) writeFromWs(ws, stderr, data.subarray(1));
      else if (data[0] === CH.EXIT) {
        try {
          const c = (JSON.parse(data.subarray(1).toString()) as { exitCode?: unknown }).exitCode;
          exitCode = typeof c === "number" ? c : null;
        } catch {
          exitCode = null;
        }
      }
    });
    ws.on("close", (code, reason) => {
      if (exitCode !== undefined) resolve(exitCode);
      else
        reject(
          new Error(
            `the exec stream ended without an exit code (${code}${reason.length ? `: ${reason.toString()}` : ""})`,
          ),
        );
    });
    ws.on("error", reject);
    if (!stdin) {
      ws.send(Buffer.of(CH.STDIN_EOF));
      return;
    }
    sendReadable(ws, stdin, CH.STDIN).then(
      () => ws.readyState === ws.OPEN && ws.send(Buffer.of(CH.STDIN_EOF)),
      () => ws.readyState === ws.OPEN && ws.send(Buffer.of(CH.STDIN_EOF)),
    );
  });
}
