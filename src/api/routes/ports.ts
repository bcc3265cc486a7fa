// An instance's HTTP port on the control plane: /v1/jobs/:id/ports/:port/... is proxied through the
// relay to that port in the job's container, WebSocket upgrades included (Jupyter kernels). The
// path reaches the app whole (serve it under /v1/jobs/<id>/ports/<port>/, e.g. Jupyter's base_url).
// Bytes pass through; none are kept.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { PORT_COOKIE, PORT_SESSION_S, PortSessions, portPath, type Principal } from "../../control/index.js";
import { DomainError, notFound } from "../../domain/index.js";
import { authenticate, who } from "../auth.js";
import { PEOPLE } from "../access.js";
import { IdParam } from "../schemas.js";
import type { Services } from "../server.js";
import { takeUpgrade } from "../upgrade.js";

const PortParams = IdParam.extend({
  port: z.coerce.number().int().min(1, "ports are 1 to 65535").max(65535, "ports are 1 to 65535"),
});
/** Hop-by-hop headers (RFC 9110 7.6.1) that a proxy does not forward. */
const HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

/** The request's cookie header without the port session (the app never sees it). */
function cookiesForApp(cookie: string | undefined): string | undefined {
  const kept = (cookie ?? "")
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && !c.startsWith(`${PORT_COOKIE}=`));
  return kept.length ? kept.join("; ") : undefined;
}

/** The port session token from the Cookie header (the most specific path's comes first). */
function sessionToken(cookie: string | undefined): string | undefined {
  for (const c of (cookie ?? "").split(";")) {
    const [k, ...v] = c.trim().split("=");
    if (k === PORT_COOKIE) return v.join("=");
  }
  return undefined;
}

/** Headers for the app: the client's, less hop-by-hop ones, the API key and the port session. */
function headersForApp(
  h: IncomingHttpHeaders,
  prefix: string,
  upgrade: boolean,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k === "authorization" || k === "cookie") continue;
    if (HOP.has(k) && !(upgrade && (k === "connection" || k === "upgrade"))) continue;
    out[k] = v;
  }
  const cookie = cookiesForApp(h.cookie);
  if (cookie) out.cookie = cookie;
  out["x-forwarded-prefix"] = prefix.slice(0, -1);
  return out;
}

/** Routes of instances' HTTP ports: the session that lets a browser in, and the proxy itself. */
export async function portRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const sessions = new PortSessions(s.ctx);
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    "/v1/jobs/:id/ports/:port/session",
    {
      // Everyone but the job's tenant gets 404 from the service (operators and admins too).
      config: { access: PEOPLE },
      schema: {
        tags: ["jobs"],
        summary:
          "A browser session for the instance's HTTP port: sets an HttpOnly cookie scoped to the port's path (the job's tenant only)",
        params: PortParams,
      },
    },
    async (req, reply) => {
      const { id, port } = req.params;
      const { token, expiresAt } = await sessions.issue(who(req), id, port);
      const path = portPath(id, port);
      const secure = req.protocol === "https" ? "; Secure" : "";
      void reply.header(
        "set-cookie",
        `${PORT_COOKIE}=${token}; Path=${path}; Max-Age=${PORT_SESSION_S}; HttpOnly; SameSite=Strict${secure}`,
      );
      return { url: path, expiresAt };
    },
  );

  // The proxy reads the body itself: no parser consumes it in this scope.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));
    const proxy = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const { id, port } = PortParams.parse(req.params);
      const prefix = portPath(id, port);
      // The bare port path redirects to its folder, so the app's relative links resolve under it.
      if (req.url.split("?")[0] === prefix.slice(0, -1)) {
        await reply.redirect(prefix, 308);
        return;
      }
      const p = await principalOf(req, id, port);
      await sessions.instancePort(p, id, port);
      const stream = await s.relay.openStream(p, id, { kind: "tcp", port });
      const up = takeUpgrade(req, reply);
      if (up) return passUpgrade(req, up, stream, prefix);
      forward(req, reply, stream, prefix);
    };
    /** The tenant behind the request: its port session cookie, or an API key (curl, the CLI). */
    const principalOf = async (req: FastifyRequest, id: string, port: number): Promise<Principal> => {
      if (req.headers.authorization) return authenticate(s.accounts, req);
      const token = sessionToken(req.headers.cookie);
      const p = token ? await sessions.verify(token, id, port) : undefined;
      if (!p) {
        if (token) throw notFound("job", id);
        throw new DomainError(
          "unauthorized",
          "open this port from the console (Jobs → the instance → Open port), which signs you in to it; or send Authorization: Bearer <key>",
        );
      }
      return p;
    };
    for (const url of ["/v1/jobs/:id/ports/:port", "/v1/jobs/:id/ports/:port/*"])
      scope.route({
        method: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        url,
        // Browsers open pages with many requests: the session cookie (or a key) is checked in the handler.
        config: { access: "public", ownAuth: true },
        schema: {
          tags: ["jobs"],
          summary: "The instance's HTTP port (the job's tenant only; see .../session)",
          hide: true,
        },
        handler: proxy,
      });
  });
}

/** Plain HTTP through the stream: the request out, the app's answer back, nothing kept. */
function forward(req: FastifyRequest, reply: FastifyReply, stream: Duplex, prefix: string): void {
  reply.hijack();
  const res = reply.raw;
  const out = httpRequest({
    createConnection: () => stream as never,
    method: req.method,
    path: req.url,
    headers: headersForApp(req.headers, prefix, false),
  });
  out.on("response", (answer) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
    res.writeHead(answer.statusCode ?? 502, headers);
    answer.pipe(res);
    answer.on("error", () => res.destroy());
  });
  out.on("error", (err) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
    res.end(`the instance's port did not answer: ${err.message}\n`);
  });
  res.on("close", () => stream.destroy());
  req.raw.pipe(out);
}

/** A WebSocket (or any) upgrade passed through: the request head, then bytes both ways. */
function passUpgrade(
  req: FastifyRequest,
  up: { socket: Duplex; head: Buffer },
  stream: Duplex,
  prefix: string,
): void {
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (const [k, v] of Object.entries(headersForApp(req.headers, prefix, true)))
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  stream.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (up.head.length) stream.write(up.head);
  up.socket.pipe(stream).pipe(up.socket);
  const end = (): void => {
    up.socket.destroy();
    stream.destroy();
  };
  up.socket.on("close", end).on("error", end);
  stream.on("close", end).on("error", end);
}
