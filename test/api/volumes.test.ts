// Issue 15, volumes: an operator offers storage at a site; a tenant creates a volume there, copies a
// file in and out through the relay (chunked, SHA-256 checked), mounts it in a job that is placed only
// at the volume's site; a full quota refuses and writes nothing; other tenants get 404.
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolNode, heartbeat, worldOn, type World } from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

async function raw(
  app: FastifyInstance,
  key: string,
  method: "GET" | "PUT",
  url: string,
  body?: Buffer,
  headers: Record<string, string> = {},
) {
  const res = await app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body ? { "content-type": "application/octet-stream" } : {}),
      ...headers,
    },
    ...(body ? { payload: body } : {}),
  });
  return {
    status: res.statusCode,
    body: res.rawPayload,
    headers: res.headers,
    json: () => JSON.parse(res.body),
  };
}

for (const factory of STORES) {
  describe(`volumes (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let skip = false;
    beforeAll(async () => {
      const on = await worldOn(factory, "volumes");
      if (on) ({ h, w } = on);
      else skip = true;
    });
    afterAll(async () => h?.close());

    it("operators offer storage at their own sites only, with clear errors", async () => {
      if (skip) return;
      const body = { path: "/srv/zumbido-volumes", capacityBytes: 50e9, priceMinorPerGbMonth: 4 };
      expect((await call(h.app, w.tenantKey, "PUT", `/v1/sites/${w.sites.es}/storage`, body)).status).toBe(
        403,
      );
      expect(
        (await call(h.app, w.otherOperatorKey, "PUT", `/v1/sites/${w.sites.es}/storage`, body)).status,
      ).toBe(404);
      const bad = await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/storage`, {
        ...body,
        path: "/srv/../etc",
      });
      expect(bad.status).toBe(400);
      expect(bad.json.detail).toMatch(/absolute folder/);
      const ok = await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/storage`, body);
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({
        siteId: w.sites.es,
        capacityBytes: 50e9,
        freeBytes: 50e9,
        path: body.path,
      });
      await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.py}/storage`, body);
      const seen = await call(h.app, w.tenantKey, "GET", "/v1/storage");
      expect(seen.json).toHaveLength(2);
      expect(seen.json[0].path).toBeUndefined();
    });

    let vol = "";
    it("a tenant creates a volume within site capacity and quota; others get 404", async () => {
      if (skip) return;
      const noOffer = await call(h.app, w.tenantKey, "POST", "/v1/volumes", {
        name: "ds",
        siteId: w.sites.fi,
        sizeBytes: 1e9,
      });
      expect(noOffer.status).toBe(400);
      expect(noOffer.json.detail).toMatch(/offers no storage/);
      const tooBig = await call(h.app, w.tenantKey, "POST", "/v1/volumes", {
        name: "ds",
        siteId: w.sites.es,
        sizeBytes: 60e9,
      });
      expect(tooBig.status).toBe(409);
      expect(tooBig.json.detail).toMatch(/50 GB of storage free/);
      const c = await call(h.app, w.tenantKey, "POST", "/v1/volumes", {
        name: "ds",
        siteId: w.sites.es,
        sizeBytes: 1000 * 1000 * 2,
      });
      expect(c.status).toBe(201);
      vol = c.json.id;
      expect(c.json.locations).toEqual([
        expect.objectContaining({ kind: "volume", siteId: w.sites.es, country: "ES" }),
      ]);
      expect(
        (
          await call(h.app, w.tenantKey, "POST", "/v1/volumes", {
            name: "ds",
            siteId: w.sites.es,
            sizeBytes: 2e6,
          })
        ).status,
      ).toBe(409);
      expect((await call(h.app, w.otherTenantKey, "GET", `/v1/volumes/${vol}`)).status).toBe(404);
      expect((await call(h.app, w.otherTenantKey, "GET", "/v1/volumes")).json).toEqual([]);
      expect((await call(h.app, w.otherTenantKey, "DELETE", `/v1/volumes/${vol}`)).status).toBe(404);
      expect((await call(h.app, w.tenantKey, "GET", "/v1/volumes/ds")).json.id).toBe(vol);
    });

    it("copies a file in and out through the relay; a full volume refuses and writes nothing", async () => {
      if (skip) return;
      const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-store");
      await heartbeat(h.app, node.nodeKey);
      const file = Buffer.from("hello volume\n".repeat(1000));
      const up = await call(h.app, w.tenantKey, "POST", `/v1/volumes/${vol}/uploads`, {
        path: "in/data.txt",
        sizeBytes: file.length,
        sha256: sha(file),
      });
      expect(up.status).toBe(200);
      const tid = up.json.id as string;
      // Another tenant cannot send into it.
      expect(
        (
          await raw(h.app, w.otherTenantKey, "PUT", `/v1/volumes/${vol}/uploads/${tid}/chunks/0`, file, {
            "x-zumbido-sha256": sha(file),
          })
        ).status,
      ).toBe(404);
      // A chunk whose SHA-256 does not match is refused.
      const torn = await raw(h.app, w.tenantKey, "PUT", `/v1/volumes/${vol}/uploads/${tid}/chunks/0`, file, {
        "x-zumbido-sha256": sha(Buffer.from("x")),
      });
      expect(torn.status).toBe(400);
      const a = file.subarray(0, 5000);
      const b = file.subarray(5000);
      expect(
        (
          await raw(h.app, w.tenantKey, "PUT", `/v1/volumes/${vol}/uploads/${tid}/chunks/0`, a, {
            "x-zumbido-sha256": sha(a),
          })
        ).status,
      ).toBe(200);
      // Resuming: the same upload again answers where it stands.
      const again = await call(h.app, w.tenantKey, "POST", `/v1/volumes/${vol}/uploads`, {
        path: "in/data.txt",
        sizeBytes: file.length,
        sha256: sha(file),
      });
      expect(again.json).toMatchObject({ id: tid, receivedBytes: 5000 });
      const wrongOffset = await raw(
        h.app,
        w.tenantKey,
        "PUT",
        `/v1/volumes/${vol}/uploads/${tid}/chunks/0`,
        b,
        { "x-zumbido-sha256": sha(b) },
      );
      expect(wrongOffset.status).toBe(409);
      expect(
        (
          await raw(h.app, w.tenantKey, "PUT", `/v1/volumes/${vol}/uploads/${tid}/chunks/5000`, b, {
            "x-zumbido-sha256": sha(b),
          })
        ).status,
      ).toBe(200);
      // The node takes the chunks in order.
      const work = await call(h.app, node.nodeKey, "GET", "/v1/agent/volume-transfers");
      expect(work.json).toEqual([
        expect.objectContaining({ id: tid, direction: "upload", path: "in/data.txt" }),
      ]);
      const c0 = await raw(h.app, node.nodeKey, "GET", `/v1/agent/volume-transfers/${tid}/chunks/0`);
      expect(c0.status).toBe(200);
      expect(c0.headers["x-zumbido-sha256"]).toBe(sha(a));
      const c1 = await raw(h.app, node.nodeKey, "GET", `/v1/agent/volume-transfers/${tid}/chunks/5000`);
      expect(Buffer.concat([c0.body, c1.body]).equals(file)).toBe(true);
      const past = await raw(
        h.app,
        node.nodeKey,
        "GET",
        `/v1/agent/volume-transfers/${tid}/chunks/${file.length}`,
      );
      expect(past.status).toBe(202);
      expect(await h.store.volumes.chunksInFlight(tid)).toBe(0);
      const end = await call(h.app, node.nodeKey, "POST", `/v1/agent/volume-transfers/${tid}/end`, {
        ok: true,
        usedBytes: file.length,
      });
      expect(end.json.state).toBe("done");
      expect((await call(h.app, w.tenantKey, "GET", `/v1/volumes/${vol}`)).json.usedBytes).toBe(file.length);

      // Full: 2 MB volume holding 13 kB; 2 MB more does not fit, and nothing is created.
      const before = (await h.store.volumes.openTransfers({ volumeId: vol })).length;
      const full = await call(h.app, w.tenantKey, "POST", `/v1/volumes/${vol}/uploads`, {
        path: "big.bin",
        sizeBytes: 2_000_000,
        sha256: "0".repeat(64),
      });
      expect(full.status).toBe(409);
      expect(full.json.detail).toMatch(
        /volume ds is full: it holds 13 KB of its 2 MB; 2 MB more does not fit. Nothing was written/,
      );
      expect((await h.store.volumes.openTransfers({ volumeId: vol })).length).toBe(before);

      // Download: the node states size and SHA-256, sends, the tenant takes.
      const dl = await call(h.app, w.tenantKey, "POST", `/v1/volumes/${vol}/downloads`, {
        path: "in/data.txt",
      });
      const did = dl.json.id as string;
      expect(
        (await raw(h.app, w.tenantKey, "GET", `/v1/volumes/${vol}/downloads/${did}/chunks/0`)).status,
      ).toBe(202);
      await call(h.app, node.nodeKey, "POST", `/v1/agent/volume-transfers/${did}/meta`, {
        sizeBytes: file.length,
        sha256: sha(file),
      });
      expect(
        (
          await raw(h.app, node.nodeKey, "PUT", `/v1/agent/volume-transfers/${did}/chunks/0`, file, {
            "x-zumbido-sha256": sha(file),
          })
        ).status,
      ).toBe(200);
      const got = await raw(h.app, w.tenantKey, "GET", `/v1/volumes/${vol}/downloads/${did}/chunks/0`);
      expect(got.body.equals(file)).toBe(true);
      const fin = await raw(
        h.app,
        w.tenantKey,
        "GET",
        `/v1/volumes/${vol}/downloads/${did}/chunks/${file.length}`,
      );
      expect(fin.status).toBe(202);
      expect(fin.json()).toMatchObject({ state: "done", sha256: sha(file) });
    });

    it("a job with a volume is placed only at the volume's site, waits there with a reason, and lists its data locations", async () => {
      if (skip) return;
      const py = await enrolNode(h.app, w.operatorKey, w.sites.py, "py-1");
      await heartbeat(h.app, py.nodeKey);
      const es = (await h.store.fleet.listNodes([w.sites.es]))[0]!;
      // Fill the ES node so only the (cheaper) PY node has room.
      const filler = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 8,
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["x"],
      });
      expect(filler.status).toBe(201);
      await h.loop.tick();
      const job = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 1,
        gpuModels: ["H100"],
        command: ["train"],
        volumes: [{ name: "ds", mountPath: "/data", readOnly: true }],
      });
      expect(job.status).toBe(201);
      expect(job.json.request.sites).toEqual([w.sites.es]);
      expect(job.json.spec.volumes).toEqual([
        { volumeId: vol, name: "ds", mountPath: "/data", readOnly: true },
      ]);
      await h.loop.tick();
      const waiting = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${job.json.id}`);
      expect(waiting.json.state).toBe("pending");
      expect(waiting.json.reasons.join("; ")).toMatch(/not the site of its volumes/);
      // The filler ends; the volume job goes to ES.
      await call(h.app, w.tenantKey, "POST", `/v1/jobs/${filler.json.id}/cancel`);
      const esKey = (await enrolNode(h.app, w.operatorKey, w.sites.es, "es-2")).nodeKey;
      await heartbeat(h.app, esKey);
      await h.loop.tick();
      const placed = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${job.json.id}`);
      expect(placed.json.leases.map((l: { siteId: string }) => l.siteId)).toEqual([w.sites.es]);
      expect(es.siteId).toBe(w.sites.es);
      const loc = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${job.json.id}/locations`);
      expect(loc.status).toBe(200);
      expect(loc.json.data).toEqual([
        expect.objectContaining({ kind: "volume", siteId: w.sites.es, volume: "ds", country: "ES" }),
      ]);
      expect(loc.json.code.map((c: { siteId: string }) => c.siteId)).toEqual([w.sites.es]);
      expect((await call(h.app, w.otherTenantKey, "GET", `/v1/jobs/${job.json.id}/locations`)).status).toBe(
        404,
      );
      // Deleting the volume is refused while the job has not ended.
      const del = await call(h.app, w.tenantKey, "DELETE", `/v1/volumes/${vol}`);
      expect(del.status).toBe(409);
      expect(del.json.detail).toMatch(new RegExp(`mounted by job ${job.json.id}`));
    });

    it("refuses a mount that could never run: bad path, unknown volume, outside the job's jurisdiction", async () => {
      if (skip) return;
      const pyVol = await call(h.app, w.tenantKey, "POST", "/v1/volumes", {
        name: "py-ds",
        siteId: w.sites.py,
        sizeBytes: 2e6,
      });
      expect(pyVol.status).toBe(201);
      const submit = (volumes: unknown, extra: Record<string, unknown> = {}) =>
        call(h.app, w.tenantKey, "POST", "/v1/jobs", {
          gpus: 1,
          gpuModels: ["H100"],
          command: ["x"],
          volumes,
          ...extra,
        });
      const eu = await submit([{ name: "py-ds", mountPath: "/data" }], { jurisdiction: "EU" });
      expect(eu.status).toBe(400);
      expect(eu.json.detail).toMatch(/in PY, outside the job's EU/);
      expect((await submit([{ name: "ds", mountPath: "/etc" }])).json.detail).toMatch(/reserved/);
      expect((await submit([{ name: "ds", mountPath: "/data/../etc" }])).status).toBe(400);
      expect((await submit([{ name: "nope", mountPath: "/data" }])).json.detail).toMatch(
        /no volume named nope/,
      );
      const two = await submit([
        { name: "ds", mountPath: "/a" },
        { name: "py-ds", mountPath: "/b" },
      ]);
      expect(two.json.detail).toMatch(/different sites/);
    });
  });
}
