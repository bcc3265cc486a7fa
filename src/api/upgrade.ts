// WebSocket upgrades through the normal router: an upgrade request is dispatched like any other
// request (so the route's declared access, authentication, rate limits and errors all apply), and
// only the route handler turns it into a WebSocket. Errors before that are plain HTTP answers.
import { ServerResponse, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { WebSocketServer, type WebSocket } from "ws";
import { DomainError } from "../domain/index.js";

const UPGRADE = Symbol("zumbido.upgrade");
type Upgradable = IncomingMessage & { [UPGRADE]?: { socket: Duplex; head: Buffer } };

/** Sends upgrade requests through the app's router (call once, before listening). */
export function routeUpgrades(app: FastifyInstance): void {
  app.server.on("upgrade", (raw: Upgradable, socket: Duplex, head: Buffer) => {
    raw[UPGRADE] = { socket, head };
    const res = new ServerResponse(raw);
    socket.on("error", () => socket.destroy());
    try {
      res.assignSocket(socket as never);
      // A refused upgrade gets its HTTP answer, then the socket is closed.
      res.on("finish", () => socket.destroy());
      app.routing(raw, res);
    } catch (err) {
      app.log.warn({ err }, "upgrade request failed");
      socket.destroy();
    }
  });
}

/** Whether the request asks for a WebSocket upgrade. */
export function isUpgrade(req: FastifyRequest): boolean {
  return (req.raw as Upgradable)[UPGRADE] !== undefined;
}

/** Completes the upgrade of an authorised request; 426 when it is a plain HTTP request. */
export function acceptWebSocket(
  req: FastifyRequest,
  reply: FastifyReply,
  wss: WebSocketServer,
): Promise<WebSocket> {
  const u = (req.raw as Upgradable)[UPGRADE];
  if (!u)
    throw new DomainError(
      "validation",
      "this route speaks WebSocket: connect with an Upgrade: websocket request",
    );
  reply.hijack();
  return new Promise((resolve) => wss.handleUpgrade(req.raw, u.socket, u.head, resolve));
}

/** A WebSocket server that only completes upgrades handed to it (no port, no path of its own). */
export function upgradeServer(maxPayload: number): WebSocketServer {
  return new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
}

/** Takes over an upgrade request's socket to answer it itself (e.g. to pass the upgrade through); undefined for plain HTTP. */
export function takeUpgrade(
  req: FastifyRequest,
  reply: FastifyReply,
): { socket: Duplex; head: Buffer } | undefined {
  const u = (req.raw as Upgradable)[UPGRADE];
  if (!u) return undefined;
  reply.hijack();
  return u;
}
