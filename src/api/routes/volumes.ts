import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  AgentVolumeTransfer,
  StorageOfferView,
  VolumeTransferView,
  VolumeView,
} from "../../contract/index.js";
import { VolumeRelay, VolumesService, type PutResult, type TakenChunk } from "../../control/index.js";
import { VOLUME_CHUNK_BYTES } from "../../domain/index.js";
import { OPS, PEOPLE, TENANTS } from "../access.js";
import { who } from "../auth.js";
import { problem, sendProblem } from "../problem.js";
import type { Services } from "../server.js";

const Id = z.string().min(1).max(100);
const Sha = z.string().regex(/^[0-9a-f]{64}$/, "the SHA-256 as 64 lowercase hex digits");
const ChunkHeaders = z.object({ "x-zumbido-sha256": Sha });
const Offset = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Bytes = z.custom<Buffer>(
  (b) => Buffer.isBuffer(b),
  "send the chunk's bytes with Content-Type: application/octet-stream",
);
const ChunkLimit = VOLUME_CHUNK_BYTES + 1024;

/** Answers a taken chunk as bytes (with its offset and SHA-256), or the transfer when none is ready. */
async function sendTaken(
  reply: FastifyReply,
  r: TakenChunk | z.infer<typeof VolumeTransferView>,
): Promise<unknown> {
  if ("data" in r)
    return reply
      .status(200)
      .header("content-type", "application/octet-stream")
      .header("x-zumbido-offset", String(r.offset))
      .header("x-zumbido-sha256", r.sha256)
      .send(r.data);
  return reply.status(202).send(r);
}

/** Answers a put: 200 with the transfer, or 503 (retry after a second) when the relay is full. */
async function sendPut(reply: FastifyReply, r: PutResult, instance: string): Promise<unknown> {
  if (r.stored) return reply.status(200).send(r.transfer);
  reply.header("retry-after", "1");
  return sendProblem(
    reply,
    problem(
      503,
      "relay-full",
      "the relay holds as many chunks of this transfer as it may; send this chunk again in a second",
      {
        instance,
      },
    ),
  );
}

/** Storage offers (operators), volumes and copies in and out of them (tenants), the nodes' relay side. */
export async function volumeRoutes(root: FastifyInstance, s: Services): Promise<void> {
  await root.register(async (app) => {
    if (app.hasContentTypeParser("application/octet-stream"))
      app.removeContentTypeParser("application/octet-stream");
    app.addContentTypeParser(
      "application/octet-stream",
      { parseAs: "buffer", bodyLimit: ChunkLimit },
      (_req, body, done) => done(null, body),
    );
    const r = app.withTypeProvider<ZodTypeProvider>();
    const volumes = new VolumesService(s.ctx);
    const relay = new VolumeRelay(s.ctx);

    r.get(
      "/v1/storage",
      {
        config: { access: PEOPLE },
        schema: {
          tags: ["volumes"],
          summary: "Storage offers: where volumes can be created, capacity left and price per GB-month",
          response: { 200: z.array(StorageOfferView) },
        },
      },
      async (req) => volumes.offers(who(req)),
    );
    r.put(
      "/v1/sites/:id/storage",
      {
        config: { access: OPS },
        schema: {
          tags: ["volumes"],
          summary:
            "Offer storage at a site (operator): the folder on its nodes, capacity and price per GB-month",
          params: z.object({ id: Id }),
          body: z
            .object({
              path: z
                .string()
                .min(2)
                .max(512)
                .describe("where the storage is mounted on the site's nodes (the agents' --volume-root)"),
              capacityBytes: z.number().int().positive(),
              priceMinorPerGbMonth: z.number().int().min(0),
            })
            .strict(),
          response: { 200: StorageOfferView },
        },
      },
      async (req) => volumes.offer(who(req), req.params.id, req.body),
    );
    r.post(
      "/v1/volumes",
      {
        config: { access: ["tenant"] },
        schema: {
          tags: ["volumes"],
          summary: "Create a volume at a site (tenant); its bytes never leave the site",
          body: z
            .object({ name: z.string().min(1).max(63), siteId: Id, sizeBytes: z.number().int().positive() })
            .strict(),
          response: { 201: VolumeView },
        },
      },
      async (req, reply) => reply.status(201).send(await volumes.create(who(req), req.body)),
    );
    r.get(
      "/v1/volumes",
      {
        config: { access: TENANTS },
        schema: { tags: ["volumes"], summary: "Your volumes", response: { 200: z.array(VolumeView) } },
      },
      async (req) => volumes.list(who(req)),
    );
    r.get(
      "/v1/volumes/:id",
      {
        config: { access: TENANTS },
        schema: {
          tags: ["volumes"],
          summary: "A volume (by id or name) with every site that has held its bytes",
          params: z.object({ id: Id }),
          response: { 200: VolumeView },
        },
      },
      async (req) => volumes.get(who(req), req.params.id),
    );
    r.delete(
      "/v1/volumes/:id",
      {
        config: { access: ["tenant"] },
        schema: {
          tags: ["volumes"],
          summary: "Delete a volume and its bytes (refused while a job that mounts it has not ended)",
          params: z.object({ id: Id }),
          response: { 200: VolumeView },
        },
      },
      async (req) => volumes.delete(who(req), req.params.id),
    );
    r.post(
      "/v1/volumes/:id/uploads",
      {
        config: { access: ["tenant"] },
        schema: {
          tags: ["volumes"],
          summary:
            "Start (or resume) copying a file into a volume; refused, writing nothing, when it does not fit",
          params: z.object({ id: Id }),
          body: z
            .object({ path: z.string().min(1).max(1024), sizeBytes: z.number().int().min(0), sha256: Sha })
            .strict(),
          response: { 200: VolumeTransferView },
        },
      },
      async (req) => relay.startUpload(who(req), req.params.id, req.body),
    );
    r.put(
      "/v1/volumes/:id/uploads/:tid/chunks/:offset",
      {
        config: { access: ["tenant"] },
        bodyLimit: ChunkLimit,
        schema: {
          tags: ["volumes"],
          summary: `Send an upload's next chunk (at most ${VOLUME_CHUNK_BYTES} bytes, application/octet-stream, with its SHA-256)`,
          params: z.object({ id: Id, tid: Id, offset: Offset }),
          headers: ChunkHeaders,
          body: Bytes,
        },
      },
      async (req, reply) =>
        sendPut(
          reply,
          await relay.tenantPut(
            who(req),
            req.params.id,
            req.params.tid,
            req.params.offset,
            req.headers["x-zumbido-sha256"],
            req.body,
          ),
          req.url,
        ),
    );
    r.post(
      "/v1/volumes/:id/downloads",
      {
        config: { access: ["tenant"] },
        schema: {
          tags: ["volumes"],
          summary: "Ask for a file of a volume; the node of its site sends it through the relay",
          params: z.object({ id: Id }),
          body: z.object({ path: z.string().min(1).max(1024) }).strict(),
          response: { 200: VolumeTransferView },
        },
      },
      async (req) => relay.startDownload(who(req), req.params.id, req.body.path),
    );
    r.get(
      "/v1/volumes/:id/downloads/:tid/chunks/:offset",
      {
        config: { access: ["tenant"] },
        schema: {
          tags: ["volumes"],
          summary:
            "Take a download's chunk at an offset (200: bytes; 202: the transfer, when the chunk is not there yet)",
          params: z.object({ id: Id, tid: Id, offset: Offset }),
        },
      },
      async (req, reply) =>
        sendTaken(reply, await relay.tenantTake(who(req), req.params.id, req.params.tid, req.params.offset)),
    );
    r.get(
      "/v1/volumes/:id/transfers/:tid",
      {
        config: { access: TENANTS },
        schema: {
          tags: ["volumes"],
          summary: "A copy's progress",
          params: z.object({ id: Id, tid: Id }),
          response: { 200: VolumeTransferView },
        },
      },
      async (req) => relay.transfer(who(req), req.params.id, req.params.tid),
    );
    // ---- The node's side of the relay. ----
    r.get(
      "/v1/agent/volume-transfers",
      {
        config: { access: ["node"] },
        schema: {
          tags: ["agent"],
          summary: "Open volume copies this node serves",
          response: { 200: z.array(AgentVolumeTransfer) },
        },
      },
      async (req) => relay.work(who(req)),
    );
    r.get(
      "/v1/agent/volume-transfers/:tid/chunks/:offset",
      {
        config: { access: ["node"] },
        schema: {
          tags: ["agent"],
          summary: "Take an upload's chunk at an offset",
          params: z.object({ tid: Id, offset: Offset }),
        },
      },
      async (req, reply) =>
        sendTaken(reply, await relay.nodeTake(who(req), req.params.tid, req.params.offset)),
    );
    r.post(
      "/v1/agent/volume-transfers/:tid/meta",
      {
        config: { access: ["node"] },
        schema: {
          tags: ["agent"],
          summary: "State a download's size and SHA-256",
          params: z.object({ tid: Id }),
          body: z.object({ sizeBytes: z.number().int().min(0), sha256: Sha }).strict(),
          response: { 200: VolumeTransferView },
        },
      },
      async (req) => relay.nodeMeta(who(req), req.params.tid, req.body),
    );
    r.put(
      "/v1/agent/volume-transfers/:tid/chunks/:offset",
      {
        config: { access: ["node"] },
        bodyLimit: ChunkLimit,
        schema: {
          tags: ["agent"],
          summary: "Send a download's next chunk",
          params: z.object({ tid: Id, offset: Offset }),
          headers: ChunkHeaders,
          body: Bytes,
        },
      },
      async (req, reply) =>
        sendPut(
          reply,
          await relay.nodePut(
            who(req),
            req.params.tid,
            req.params.offset,
            req.headers["x-zumbido-sha256"],
            req.body,
          ),
          req.url,
        ),
    );
    r.post(
      "/v1/agent/volume-transfers/:tid/end",
      {
        config: { access: ["node"] },
        schema: {
          tags: ["agent"],
          summary: "End a volume copy: done (with the volume's measured bytes) or failed (with why)",
          params: z.object({ tid: Id }),
          body: z
            .object({
              ok: z.boolean(),
              reason: z.string().max(500).optional(),
              usedBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
            })
            .strict(),
          response: { 200: VolumeTransferView },
        },
      },
      async (req) => relay.nodeEnd(who(req), req.params.tid, req.body),
    );
  });
}
