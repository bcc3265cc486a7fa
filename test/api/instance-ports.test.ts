// An instance's HTTP port on the control plane (/v1/jobs/:id/ports/:port/...), over real HTTP and
// WebSockets with a real store and relay hub: a scripted agent (the real Mux on the node side)
// connects each TCP stream to a real HTTP + WebSocket server standing in for the container's port.
// The browser's way in is a port session cookie (HttpOnly, path-scoped, signed, short-lived); the
// job's own tenant gets through, everyone else gets 404.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import type { MuxStream } from "../../src/relay/mux.js";
import type { World } from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { startRelayHub } from "../helpers/relay.js";

describe("instance ports through the control plane (SQLite)", () => {
  let h: Harness;
  let w: World;
  let base: string;
  let jobId: string;
  let agentWs: WebSocket;
  let app: Server;
  let wss: WebSocketServer;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    // The "container's" port: a page, a body echo, and a WebSocket echo.
    app = createServer((req, res) => {
      seen.push({ url: req.url ?? "", headers: req.headers });
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/html", "set-cookie": "_xsrf=abc; Path=/" });
        res.end(
          req.method === "POST"
            ? `got ${Buffer.concat(chunks).toString()}`
            : "<h1>hello from the instance</h1>",
        );
      });
    });
    wss = new WebSocketServer({ server: app });
    wss.on("connection", (ws) => ws.on("message", (m: Buffer) => ws.send(`echo ${m.toString()}`)));
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const appPort = (app.address() as AddressInfo).port;

    // The scripted agent: every TCP stream goes to the stand-in app.
    ({ h, w, base, jobId, agentWs } = await startRelayHub(
      (s: MuxStream) => {
        const sock = connect(appPort, "127.0.0.1", () => {
          s.accept();
          s.pipe(sock).pipe(s);
        });
        sock.on("error", (err) => s.destroy(err));
        s.on("close", () => sock.destroy());
      },
      { kind: "instance", ports: [8888, 8889] },
    ));
  });
  afterAll(async () => {
    agentWs?.terminate();
    await h?.close();
    wss?.close();
    app?.close();
  });

  const portUrl = (port = 8888, id = jobId) => `${base}/v1/jobs/${id}/ports/${port}/`;
  /** A port session for `key`: the cookie pair to send, and the raw Set-Cookie. */
  const session = async (key: string, port = 8888, id = jobId) => {
    const r = await fetch(`${portUrl(port, id)}session`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
    });
    const setCookie = r.headers.get("set-cookie") ?? "";
    return {
      status: r.status,
      setCookie,
      cookie: setCookie.split(";")[0]!,
      body: (await r.json()) as { url?: string },
    };
  };
  const get = (url: string, headers: Record<string, string> = {}) =>
    fetch(url, { headers, redirect: "manual" });

  it("signs the tenant in to its port with an HttpOnly cookie scoped to the port's path, no key in it", async () => {
    const s = await session(w.tenantKey);
    expect(s.status).toBe(200);
    expect(s.body.url).toBe(`/v1/jobs/${jobId}/ports/8888/`);
    expect(s.setCookie).toMatch(
      /^zumbido_port=[^;]+; Path=\/v1\/jobs\/[^/]+\/ports\/8888\/; Max-Age=3600; HttpOnly; SameSite=Strict$/,
    );
    expect(s.setCookie).not.toContain(w.tenantKey);
  });

  it("proxies the page, a POST body and the app's cookies; the app sees no key and no session", async () => {
    const { cookie } = await session(w.tenantKey);
    const page = await get(`${portUrl()}index.html?x=1`, { cookie: `${cookie}; theme=dark` });
    expect(page.status).toBe(200);
    expect(await page.text()).toBe("<h1>hello from the instance</h1>");
    expect(page.headers.get("set-cookie")).toBe("_xsrf=abc; Path=/");
    const last = seen.at(-1)!;
    expect(last.url).toBe(`/v1/jobs/${jobId}/ports/8888/index.html?x=1`);
    expect(last.headers.cookie).toBe("theme=dark");
    expect(last.headers.authorization).toBeUndefined();
    expect(last.headers["x-forwarded-prefix"]).toBe(`/v1/jobs/${jobId}/ports/8888`);
    const post = await fetch(`${portUrl()}api`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await post.text()).toBe('got {"a":1}');
    expect(h.services.relay.lastActivityMs(jobId)).toBe(h.clock.now());
    // The bare port path sends the browser to its folder.
    const bare = await get(portUrl().slice(0, -1), { cookie });
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe(`/v1/jobs/${jobId}/ports/8888/`);
  });

  it("passes a WebSocket upgrade through to the app (Jupyter kernels)", async () => {
    const { cookie } = await session(w.tenantKey);
    const ws = new WebSocket(`${portUrl().replace("http", "ws")}api/kernels/k1/channels`, {
      headers: { cookie },
    });
    const reply = await new Promise<string>((res, rej) => {
      ws.once("open", () => ws.send("ping"));
      ws.once("message", (m: Buffer) => res(m.toString()));
      ws.once("error", rej);
    });
    expect(reply).toBe("echo ping");
    ws.close();
  });

  it("takes the tenant's API key too (curl), but nobody else's: 404 to another tenant, the operator, an admin", async () => {
    expect((await get(portUrl(), { authorization: `Bearer ${w.tenantKey}` })).status).toBe(200);
    for (const key of [w.otherTenantKey, w.operatorKey, h.adminKey]) {
      expect((await get(portUrl(), { authorization: `Bearer ${key}` })).status).toBe(404);
      expect((await session(key)).status).toBe(404);
    }
    // Without any credential: 401 saying how to get in.
    const none = await get(portUrl());
    expect(none.status).toBe(401);
    expect(((await none.json()) as { detail: string }).detail).toMatch(/Open port/);
  });

  it("refuses a tampered, other-port, undeclared-port or expired session with 404", async () => {
    const { cookie } = await session(w.tenantKey);
    const [name, token] = cookie.split("=") as [string, string];
    const tampered = `${name}=${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;
    expect((await get(portUrl(), { cookie: tampered })).status).toBe(404);
    // A session for 8888 is not one for 8889 (declared too), nor for a port the job did not declare.
    expect((await get(portUrl(8889), { cookie })).status).toBe(404);
    expect((await session(w.tenantKey, 9999)).status).toBe(404);
    expect((await get(portUrl(9999), { authorization: `Bearer ${w.tenantKey}` })).status).toBe(404);
    // Sessions last an hour.
    h.clock.advance(3_601_000);
    expect((await get(portUrl(), { cookie })).status).toBe(404);
  });

  it("ends sessions of a revoked key", async () => {
    const k = await call(h.app, w.tenantKey, "POST", "/v1/keys", { role: "tenant", name: "laptop" });
    const { cookie } = await session(k.json.key as string);
    expect((await get(portUrl(), { cookie })).status).toBe(200);
    await call(h.app, w.tenantKey, "DELETE", `/v1/keys/${k.json.record.id}`);
    expect((await get(portUrl(), { cookie })).status).toBe(404);
  });
});
