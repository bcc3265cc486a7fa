// The relay hub over real HTTP and WebSockets with a real store: a scripted agent (the real Mux on
// the node side) serves streams; tenants reach their own running job's exec and TCP streams, and
// everyone else (another tenant, the operator, an admin) gets 404 before any upgrade.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import type { MuxStream } from "../../src/relay/mux.js";
import type { World } from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { connectScriptedAgent, execOverWs, rawOverWs, startRelayHub, wsStatus } from "../helpers/relay.js";

describe("relay hub (scripted agent, SQLite)", () => {
  let h: Harness;
  let w: World;
  let base: string;
  let jobId: string;
  let nodeKey: string;
  let agentWs: WebSocket;
  const opened: MuxStream[] = [];

  /** The scripted agent: TCP streams echo; exec streams print argv, a line on stderr, and exit 3. */
  const serve = (s: MuxStream): void => {
    opened.push(s);
    const t = s.request.target;
    if (t.kind === "tcp" && t.port === 9) return void s.destroy(new Error("nothing listens on port 9"));
    s.accept();
    if (t.kind === "tcp") return void s.pipe(s);
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => {
      s.write(`${t.argv.join(" ")}:${Buffer.concat(chunks).toString()}`);
      void s.writeStderr(Buffer.from("warning\n")).then(() => {
        s.sendExit(3);
        s.end();
      });
    });
  };

  const connectAgent = (): Promise<WebSocket> => connectScriptedAgent(base, nodeKey, serve);

  beforeAll(async () => {
    ({ h, w, base, jobId, nodeKey, agentWs } = await startRelayHub(serve));
  });
  let closed = false;
  afterAll(async () => {
    agentWs?.terminate();
    if (!closed) await h?.close();
  });

  it("relays a TCP stream both ways and records the job's activity", async () => {
    const before = h.services.relay.lastActivityMs(jobId);
    const echoed = await rawOverWs(
      `${base}/v1/jobs/${jobId}/ports/8888/tcp`,
      w.tenantKey,
      Buffer.from("ping"),
    );
    expect(echoed.toString()).toBe("ping");
    expect(before).toBeUndefined();
    expect(h.services.relay.lastActivityMs(jobId)).toBe(h.clock.now());
  });

  it("runs exec with stdin, stdout, stderr and the exit code", async () => {
    const r = await execOverWs(`${base}/v1/jobs/${jobId}/exec?argv=echo&argv=hi`, w.tenantKey, "input");
    expect(r).toEqual({ stdout: "echo hi:input", stderr: "warning\n", exitCode: 3 });
  });

  it("moves megabytes through one stream with flow control", async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    const echoed = await rawOverWs(`${base}/v1/jobs/${jobId}/ports/8888/tcp`, w.tenantKey, big);
    expect(echoed.length).toBe(big.length);
    expect(echoed.equals(big)).toBe(true);
  });

  it("answers 404 to another tenant, the operator and an admin on every path, before upgrading", async () => {
    for (const key of [w.otherTenantKey, w.operatorKey, h.adminKey])
      for (const path of [`/v1/jobs/${jobId}/exec?argv=id`, `/v1/jobs/${jobId}/ports/22/tcp`])
        expect(await wsStatus(`${base}${path}`, key)).toBe(404);
    expect(await wsStatus(`${base}/v1/jobs/${jobId}/exec?argv=id`, null)).toBe(401);
    expect(await wsStatus(`${base}/v1/jobs/job_nope/ports/22/tcp`, w.tenantKey)).toBe(404);
    // A node key cannot open tenants' streams, and a tenant key cannot be a node's relay.
    expect(await wsStatus(`${base}/v1/jobs/${jobId}/exec?argv=id`, nodeKey)).toBe(403);
    expect(await wsStatus(`${base}/v1/agent/relay`, w.tenantKey)).toBe(403);
  });

  it("says what failed when the node cannot open the stream, and refuses plain HTTP", async () => {
    expect(await wsStatus(`${base}/v1/jobs/${jobId}/ports/9/tcp`, w.tenantKey)).toBe(409);
    const plain = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${jobId}/ports/22/tcp`);
    expect(plain.status).toBe(400);
    expect(plain.json.detail).toMatch(/WebSocket/);
    expect(await wsStatus(`${base}/v1/jobs/${jobId}/ports/70000/tcp`, w.tenantKey)).toBe(400);
  });

  it("answers 404 with the reason once the node's relay is gone, and serves again after it reconnects", async () => {
    agentWs.terminate();
    await new Promise((r) => setTimeout(r, 100));
    expect(await wsStatus(`${base}/v1/jobs/${jobId}/ports/8888/tcp`, w.tenantKey)).toBe(404);
    agentWs = await connectAgent();
    const echoed = await rawOverWs(
      `${base}/v1/jobs/${jobId}/ports/8888/tcp`,
      w.tenantKey,
      Buffer.from("again"),
    );
    expect(echoed.toString()).toBe("again");
  });

  it("closes the server with an agent connected, dropping its relay connection", async () => {
    const dropped = new Promise((r) => agentWs.once("close", r));
    closed = true;
    await h.close();
    await dropped;
  });
});
