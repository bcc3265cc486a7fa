// The agent's one outbound relay connection: a WebSocket to GET /v1/agent/relay with the node key,
// through HTTPS_PROXY/HTTP_PROXY when set, kept up with exponential backoff and full jitter. Workloads
// never depend on it: when it drops (control-plane restart, network), streams end and it reconnects.
import type { WebSocket } from "ws";
import { connectWs, UpgradeRefused, wsUrl } from "../relay/client.js";
import { MAX_FRAME_BYTES } from "../relay/frames.js";
import { Mux, type MuxStream } from "../relay/mux.js";

export interface RelayClientOptions {
  server: string;
  ca?: string;
  /** The node key now (it may be replaced while the agent runs). */
  key: () => string;
  /** Environment for proxy settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). */
  env?: Record<string, string | undefined>;
  /** A stream the control plane opened. */
  onStream: (s: MuxStream) => void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Uniform [0, 1) source for the jitter (default Math.random). */
  random?: () => number;
  /** First retry delay cap, ms (default 500); doubles per failure up to maxDelayMs (default 30 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The connection counts as dead after this long without a ping from the control plane (default 65 s). */
  silenceMs?: number;
}

/** Delay before retry number `attempt` (0-based): uniform in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30)));
}

export class RelayClient {
  private stopped = false;
  private ws: WebSocket | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** Connections made so far (for tests and logs). */
  connections = 0;

  constructor(private readonly o: RelayClientOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Whether the relay connection is up now. */
  get connected(): boolean {
    return this.ws?.readyState === 1;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ws?.terminate();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const random = this.o.random ?? Math.random;
    let attempt = 0;
    while (!this.stopped) {
      try {
        const ws = await connectWs(wsUrl(this.o.server, "/v1/agent/relay"), this.o.key(), {
          ...(this.o.ca ? { ca: this.o.ca } : {}),
          env: this.o.env ?? {},
          maxPayload: MAX_FRAME_BYTES,
        });
        this.ws = ws;
        this.connections++;
        attempt = 0;
        this.o.log?.("relay connected", { connections: this.connections });
        await this.serve(ws);
        if (!this.stopped) this.o.log?.("relay connection lost; reconnecting");
      } catch (err) {
        const why = err instanceof UpgradeRefused ? err.message : (err as Error).message;
        if (attempt === 0 || attempt % 10 === 0)
          this.o.log?.("relay connection failed", { err: why, attempt });
      }
      if (this.stopped) break;
      const delay = backoffDelay(attempt++, this.o.baseDelayMs ?? 500, this.o.maxDelayMs ?? 30_000, random);
      await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Serves streams until the connection closes (or goes silent). */
  private serve(ws: WebSocket): Promise<void> {
    return new Promise((resolve) => {
      new Mux(ws, { onOpen: (s) => this.o.onStream(s) });
      const silence = this.o.silenceMs ?? 65_000;
      let timer = setTimeout(() => ws.terminate(), silence);
      ws.on("ping", () => {
        clearTimeout(timer);
        timer = setTimeout(() => ws.terminate(), silence);
      });
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
