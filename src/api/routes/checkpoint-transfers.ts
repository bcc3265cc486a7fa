import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  CHECKPOINT_CHUNK_BYTES,
  CHUNK_CONTENT_TYPE,
  CHUNK_SHA_HEADER,
  MAX_MANIFEST_FILES,
} from "../../domain/checkpoint-manifest.js";
import { CheckpointTransferService } from "../../control/checkpoint-transfer-service.js";
import { who } from "../auth.js";
import type { Services } from "../server.js";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "a sha256 in lower-case hex");
const Params = z.object({ id: z.string().max(100) });
const ManifestBody = z.object({
  files: z
    .array(
      z.object({
        path: z.string().min(1).max(1000),
        size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        sha256: Sha256,
      }),
    )
    .min(1)
    .max(MAX_MANIFEST_FILES),
});

/**
 * Checkpoint copies between nodes, through the control plane (node keys only; each call is checked
 * against the transfer's source or destination node). Nodes only connect out: the source long-polls
 * for the chunk the destination asks for and posts its bytes; the destination's request returns them.
 */
export async function checkpointTransferRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = new CheckpointTransferService(s.ctx);
  app.addContentTypeParser(
    CHUNK_CONTENT_TYPE,
    { parseAs: "buffer", bodyLimit: CHECKPOINT_CHUNK_BYTES + 1024 },
    (_req, body, done) => done(null, body),
  );
  const base = "/v1/agent/checkpoint-transfers/:id";
  const tags = ["agent"];
  r.put(
    `${base}/manifest`,
    {
      config: { access: ["node"] },
      schema: { tags, summary: "Source: list the checkpoint's files", params: Params, body: ManifestBody },
    },
    async (req) => svc.putManifest(who(req), req.params.id, req.body.files),
  );
  r.get(
    `${base}/manifest`,
    { config: { access: ["node"] }, schema: { tags, summary: "Destination: the manifest", params: Params } },
    async (req) => svc.getManifest(who(req), req.params.id),
  );
  r.post(
    `${base}/start`,
    {
      config: { access: ["node"] },
      schema: {
        tags,
        summary: "Destination: (re)start fetching with haveBytes already verified",
        params: Params,
        body: z.object({ haveBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
      },
    },
    async (req) => {
      await svc.start(who(req), req.params.id, req.body.haveBytes);
      return { ok: true };
    },
  );
  r.post(
    `${base}/next`,
    {
      config: { access: ["node"] },
      schema: { tags, summary: "Source: long poll for the chunk to send next", params: Params },
    },
    async (req) => svc.next(who(req), req.params.id),
  );
  r.post(
    `${base}/chunks/:reqId`,
    {
      config: { access: ["node"] },
      bodyLimit: CHECKPOINT_CHUNK_BYTES + 1024,
      schema: {
        tags,
        summary: `Source: the bytes of a requested chunk (${CHUNK_CONTENT_TYPE}; sha256 in ${CHUNK_SHA_HEADER})`,
        params: z.object({ id: z.string().max(100), reqId: z.string().max(200) }),
      },
    },
    async (req) => {
      const body = req.body;
      if (!Buffer.isBuffer(body)) return { taken: false, problem: `send the chunk as ${CHUNK_CONTENT_TYPE}` };
      const sha = String(req.headers[CHUNK_SHA_HEADER] ?? "");
      return svc.supply(who(req), req.params.id, req.params.reqId, body, sha);
    },
  );
  r.get(
    `${base}/chunk`,
    {
      config: { access: ["node"] },
      schema: {
        tags,
        summary: "Destination: a chunk's bytes (204: the source has not answered yet, ask again)",
        params: Params,
        querystring: z.object({
          file: z.coerce.number().int().min(0).max(MAX_MANIFEST_FILES),
          offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
          length: z.coerce.number().int().min(1).max(CHECKPOINT_CHUNK_BYTES),
        }),
      },
    },
    async (req, reply) => {
      const q = req.query;
      const chunk = await svc.fetch(who(req), req.params.id, q.file, q.offset, q.length);
      if (!chunk) return reply.status(204).send();
      return reply.header(CHUNK_SHA_HEADER, chunk.sha256).type(CHUNK_CONTENT_TYPE).send(chunk.bytes);
    },
  );
  r.post(
    `${base}/done`,
    {
      config: { access: ["node"] },
      schema: {
        tags,
        summary: "Destination: every file verified; the lease may start",
        params: Params,
        body: z.object({ sha256: Sha256, bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
      },
    },
    async (req) => {
      await svc.done(who(req), req.params.id, req.body.sha256, req.body.bytes);
      return { ok: true };
    },
  );
  r.post(
    `${base}/fail`,
    {
      config: { access: ["node"] },
      schema: {
        tags,
        summary: "Either end: the copy cannot be made, and why",
        params: Params,
        body: z.object({ reason: z.string().min(1).max(2000) }),
      },
    },
    async (req) => {
      await svc.fail(who(req), req.params.id, req.body.reason);
      return { ok: true };
    },
  );
}
