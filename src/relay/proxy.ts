// HTTP CONNECT tunnelling for the relay's WebSockets: HTTPS_PROXY (wss) or HTTP_PROXY (ws), either
// case, unless NO_PROXY names the host. TLS to the server runs inside the tunnel (the proxy sees only
// the host and port).
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import tls from "node:tls";

/** The proxy URL to use for a ws:// or wss:// URL, or undefined for a direct connection. */
export function proxyFor(url: string, env: Record<string, string | undefined>): URL | undefined {
  const u = new URL(url);
  const secure = u.protocol === "wss:" || u.protocol === "https:";
  const raw = secure
    ? (env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy)
    : (env.HTTP_PROXY ?? env.http_proxy);
  if (!raw) return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = u.port || (secure ? "443" : "80");
  for (const entry of (env.NO_PROXY ?? env.no_proxy ?? "").split(",")) {
    const e = entry.trim().toLowerCase();
    if (!e) continue;
    if (e === "*") return undefined;
    const [h, p] = e.split(":") as [string, string | undefined];
    if (p && p !== port) continue;
    const bare = h.replace(/^\*?\./, "");
    if (host === bare || host.endsWith(`.${bare}`)) return undefined;
  }
  try {
    return new URL(raw.includes("://") ? raw : `http://${raw}`);
  } catch {
    throw new Error(`the proxy setting "${raw}" is not a URL: give it as http://HOST:PORT`);
  }
}

/** An agent that opens each connection through the proxy with CONNECT, or undefined when none applies. */
export function proxyAgentFor(
  url: string,
  env: Record<string, string | undefined>,
  ca?: string,
): http.Agent | undefined {
  const proxy = proxyFor(url, env);
  if (!proxy) return undefined;
  const secure = new URL(url).protocol === "wss:";
  const connect = (
    opts: {
      host?: string | null;
      hostname?: string | null;
      port?: number | string | null;
      servername?: string;
    },
    cb: (err: Error | null, s?: Socket) => void,
  ): undefined => {
    const host = opts.hostname ?? opts.host ?? "localhost";
    const port = Number(opts.port ?? (secure ? 443 : 80));
    const target = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    const auth = proxy.username
      ? {
          "proxy-authorization": `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}`,
        }
      : {};
    const req = http.request({
      host: proxy.hostname,
      port: Number(proxy.port || 80),
      method: "CONNECT",
      path: target,
      headers: { host: target, ...auth },
      agent: false,
    });
    req.once("connect", (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return cb(new Error(`the proxy ${proxy.host} refused CONNECT ${target}: HTTP ${res.statusCode}`));
      }
      if (!secure) return cb(null, socket);
      cb(null, tls.connect({ socket, servername: opts.servername ?? host, ...(ca ? { ca } : {}) }));
    });
    req.once("error", (err) => cb(new Error(`cannot reach the proxy ${proxy.host}: ${err.message}`)));
    req.end();
    return undefined;
  };
  const agent = secure ? new https.Agent() : new http.Agent();
  (agent as unknown as { createConnection: typeof connect }).createConnection = connect;
  return agent;
}
