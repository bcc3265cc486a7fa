import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { WebSocket } from "ws";
import { z } from "zod";
import { MAX_FRAME_BYTES } from "../../relay/frames.js";
import { bridgeRaw, CH, closeReason, sendReadable, writeFromWs } from "../../relay/ws-bridge.js";
import type { RelayStream } from "../../control/relay/hub.js";
import { PEOPLE } from "../access.js";
import { who } from "../auth.js";
import { DomainError } from "../../domain/index.js";
import { IdParam } from "../schemas.js";
import type { Services } from "../server.js";
import { acceptWebSocket, isUpgrade, upgradeServer } from "../upgrade.js";

const needUpgrade = (): DomainError =>
  new DomainError("validation", "this route speaks WebSocket: connect with an Upgrade: websocket request");

/**
 * The relay: node agents' one outbound connection, and tenants' streams into their running jobs
 * (exec, TCP ports). Tenants' streams are the job's own tenant's only; everyone else gets 404.
 */
export async function relayRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const agents = upgradeServer(MAX_FRAME_BYTES);
  const tenants = upgradeServer(1024 * 1024);
  // Before the HTTP server waits for its connections to end: upgraded sockets are never idle.
  app.addHook("preClose", async () => {
    s.relay.close();
    for (const c of tenants.clients) c.terminate();
    tenants.close();
    agents.close();
  });

  r.get(
    "/v1/agent/relay",
    {
      config: { access: ["node"] },
      schema: {
        tags: ["agent"],
        summary: "The node's relay connection (WebSocket; node key): streams into its workloads multiplexed",
      },
    },
    async (req, reply) => {
      const nodeId = who(req).ownerId;
      if (!nodeId) throw new DomainError("forbidden", "this node key is not tied to a node");
      if (!isUpgrade(req)) throw needUpgrade();
      s.relay.attachAgent(nodeId, await acceptWebSocket(req, reply, agents));
    },
  );

  r.get(
    "/v1/jobs/:id/exec",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["jobs"],
        summary:
          "Run a command in the job's running container (WebSocket; the job's tenant only). Messages: first byte 0 stdin, 4 stdin end (client); 1 stdout, 2 stderr, 3 exit {exitCode} (server)",
        params: IdParam,
        querystring: z.object({
          argv: z.union([z.string(), z.array(z.string())]).transform((a) => (Array.isArray(a) ? a : [a])),
          tty: z.enum(["0", "1"]).optional(),
        }),
      },
    },
    async (req, reply) => {
      if (!isUpgrade(req)) throw needUpgrade();
      const stream = await s.relay.openStream(who(req), req.params.id, {
        kind: "exec",
        argv: req.query.argv,
        stdin: true,
        ...(req.query.tty === "1" ? { tty: true } : {}),
      });
      bridgeExec(await acceptWebSocket(req, reply, tenants), stream);
    },
  );

  r.get(
    "/v1/jobs/:id/ports/:port/tcp",
    {
      config: { access: PEOPLE },
      schema: {
        tags: ["jobs"],
        summary:
          "A TCP connection to a port inside the job's running container (WebSocket of raw bytes; the job's tenant only)",
        params: IdParam.extend({ port: z.coerce.number().int().min(1).max(65535) }),
      },
    },
    async (req, reply) => {
      if (!isUpgrade(req)) throw needUpgrade();
      const stream = await s.relay.openStream(who(req), req.params.id, {
        kind: "tcp",
        port: req.params.port,
      });
      bridgeRaw(await acceptWebSocket(req, reply, tenants), stream);
    },
  );
}

/** Joins a tenant's exec WebSocket and the exec stream (channel bytes as in the route's summary). */
function bridgeExec(ws: WebSocket, stream: RelayStream): void {
  ws.on("message", (data: Buffer) => {
    if (data.length === 0) return;
    if (data[0] === CH.STDIN) writeFromWs(ws, stream, data.subarray(1));
    else if (data[0] === CH.STDIN_EOF && !stream.writableEnded) stream.end();
  });
  ws.on("close", () => stream.destroy());
  ws.on("error", () => stream.destroy());
  Promise.all([sendReadable(ws, stream, CH.STDOUT), sendReadable(ws, stream.stderr, CH.STDERR)]).then(
    async () => {
      const exitCode = await stream.exit;
      if (ws.readyState !== ws.OPEN) return;
      ws.send(Buffer.concat([Buffer.of(CH.EXIT), Buffer.from(JSON.stringify({ exitCode }))]));
      ws.close(1000);
    },
    (err: Error) => ws.readyState === ws.OPEN && ws.close(1011, closeReason(err.message)),
  );
}
