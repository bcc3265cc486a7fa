import { ApiClient, ApiError } from "./client.js";

/** How long the agent asks the server to hold its orders long-poll, seconds. */
export const ORDERS_WAIT_S = 25;

/**
 * The agent's orders long-poll (`GET /v1/agent/orders?wait=25s`): kept open next to the heartbeat
 * loop; when the answer carries assignments or stops, `onOrders` runs (the agent heartbeats at once
 * and acts on its answer), so new work and stops reach the node without waiting for the next beat.
 * A server without the endpoint (404) or without a cluster view (no version) ends the poll; other
 * failures back off up to 5 s.
 */
export class OrdersPoll {
  private readonly client: ApiClient;
  private running = false;
  private done: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    server: string,
    ca: string | undefined,
    private readonly key: () => string,
    private readonly onOrders: () => void,
    private readonly log: (msg: string, extra?: Record<string, unknown>) => void,
  ) {
    // Held for up to the wait plus the server's work; the heartbeat client's 10 s would cut it.
    this.client = new ApiClient(server, null, (ORDERS_WAIT_S + 10) * 1000, ca ? { ca } : {});
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.done?.catch(() => undefined);
    await this.client.close();
  }

  private async loop(): Promise<void> {
    let version: string | undefined;
    let failures = 0;
    while (this.running) {
      try {
        this.client.setToken(this.key());
        const q = `wait=${ORDERS_WAIT_S}s${version !== undefined ? `&version=${encodeURIComponent(version)}` : ""}`;
        const r = await this.client.request<{ assignments: unknown[]; stops: unknown[]; version?: string }>(
          "GET",
          `/v1/agent/orders?${q}`,
          undefined,
          this.abort.signal,
        );
        failures = 0;
        if (!r.version) {
          this.log("the control plane holds no orders long-poll; heartbeats carry the orders");
          return;
        }
        version = r.version;
        if (this.running && (r.assignments.length > 0 || r.stops.length > 0)) this.onOrders();
      } catch (err) {
        if (!this.running || (err instanceof ApiError && err.status === 404)) return;
        failures++;
        await new Promise((res) => setTimeout(res, Math.min(5000, 250 * 2 ** Math.min(failures, 5))).unref());
      }
    }
  }
}
