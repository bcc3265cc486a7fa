// Issue 15: a requeued job placed on another node waits while its checkpoint is copied there through
// the control plane (manifest, chunks piped from the source's long poll to the destination's request,
// sha256 checked, done); a copy outside the job's jurisdiction is refused and recorded; the nodes learn
// which checkpoint folders they may remove. Real store (SQLite file and PostgreSQL), the real API.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestDigest } from "../../src/domain/checkpoint-manifest.js";
import { planResume } from "../../src/control/checkpoint-copy.js";
import {
  enrolNode,
  heartbeat,
  heartbeatWith,
  jobEvents,
  submitJob,
  worldOn,
  type World,
} from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

for (const factory of STORES) {
  describe(`checkpoint copy between nodes (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let skip = false;
    beforeAll(async () => {
      const on = await worldOn(factory, "checkpoint copy");
      if (on) ({ h, w } = on);
      else skip = true;
    });
    afterAll(async () => h?.close());

    const submit = (cls: "on-demand" | "interruptible", extra: Record<string, unknown> = {}) =>
      submitJob(h, w, cls, extra);
    const events = (id: string) => jobEvents(h, w, id);
    const hbFull = (key: string, body: Record<string, unknown> = {}) => heartbeatWith(h.app, key, body);
    const base = (id: string) => `/v1/agent/checkpoint-transfers/${id}`;
    const chunk = (key: string, id: string, reqId: string, bytes: Buffer, digest = sha(bytes)) =>
      h.app.inject({
        method: "POST",
        url: `${base(id)}/chunks/${reqId}`,
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/vnd.zumbido.chunk",
          "x-zumbido-sha256": digest,
        },
        payload: bytes,
      });
    const fetchChunk = (key: string, id: string, file: number, offset: number, length: number) =>
      h.app.inject({
        method: "GET",
        url: `${base(id)}/chunk?file=${file}&offset=${offset}&length=${length}`,
        headers: { authorization: `Bearer ${key}` },
      });

    it("an EU job's checkpoint is never copied to Paraguay; placed on another EU node, it is copied, verified, then started", async () => {
      if (skip) return;
      const a = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-a");
      await heartbeat(h.app, a.nodeKey);
      const spot = await submit("interruptible", { jurisdiction: "EU" });
      await h.loop.tick();
      const a1 = (await heartbeat(h.app, a.nodeKey)).assignments.find((x) => x.jobId === spot)!;
      const t0 = h.clock.now();
      h.clock.advance(2_000);
      const ck = { bytes: 8, files: 2, savedAt: h.clock.now() };
      await heartbeat(h.app, a.nodeKey, [
        { leaseId: a1.leaseId, phase: "running", startedAt: t0, checkpoint: ck },
      ]);
      // An on-demand job takes node A; the interruptible one is preempted and requeued.
      const od = await submit("on-demand", { countries: ["ES"] });
      await h.loop.tick();
      h.clock.advance(1_000);
      await heartbeat(h.app, a.nodeKey, [
        { leaseId: a1.leaseId, phase: "cancelled", startedAt: t0, endedAt: h.clock.now(), checkpoint: ck },
      ]);
      await h.loop.tick();
      expect((await heartbeat(h.app, a.nodeKey)).assignments.map((x) => x.jobId)).toContain(od);

      // The only free capacity is in Paraguay: the EU job waits there, and nothing is copied.
      const py = await enrolNode(h.app, w.operatorKey, w.sites.py, "py-1");
      await heartbeat(h.app, py.nodeKey);
      await h.loop.tick();
      await h.loop.tick();
      const waiting = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${spot}`)).json;
      expect(waiting.state).toBe("preempted");
      expect(JSON.stringify(waiting.reasons)).toContain("outside EU");
      expect(await h.store.checkpoints.transfersForJob(spot)).toEqual([]);
      expect((await hbFull(py.nodeKey)).transfers).toEqual([]);
      // Even a placement that (wrongly) names the Paraguay node gets no copy: refused and recorded.
      await planResume(
        h.services.ctx,
        spot,
        [{ id: "lease_stray", nodeId: py.nodeId, siteId: w.sites.py, country: "PY" }],
        h.clock.now(),
      );
      const refused = await h.store.checkpoints.transfersForJob(spot);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.state).toBe("failed");
      expect(refused[0]!.reason).toMatch(/^refused: node .* PY is outside the job's jurisdiction EU/);
      expect(await events(spot)).toContainEqual(
        expect.stringMatching(/checkpoint copy .* failed: refused: /),
      );
      expect((await hbFull(a.nodeKey)).transfers).toEqual([]);
      expect((await hbFull(py.nodeKey)).transfers).toEqual([]);

      // A second EU node: the job goes there, and waits for its checkpoint.
      const b = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-b");
      await heartbeat(h.app, b.nodeKey);
      await h.loop.tick();
      const lease = (await h.store.jobs.leasesForJob(spot)).find((l) => l.state === "assigned")!;
      expect(lease.nodeId).toBe(b.nodeId);
      const atB = await hbFull(b.nodeKey);
      expect(atB.assignments.map((x) => x.jobId)).not.toContain(spot);
      const order = atB.transfers.find((t) => t.jobId === spot)!;
      expect(order.role).toBe("receive");
      expect((await hbFull(a.nodeKey)).transfers).toEqual([{ id: order.id, jobId: spot, role: "send" }]);
      const id = order.id;

      // The destination asks before the source listed anything: 409, ask again.
      expect((await call(h.app, b.nodeKey, "GET", `${base(id)}/manifest`)).status).toBe(409);
      const files = [
        { path: "step", size: 3, sha256: sha("417") },
        { path: "w/blob", size: 5, sha256: sha("hello") },
      ];
      // Only the source may list, and only safe relative paths.
      expect((await call(h.app, b.nodeKey, "PUT", `${base(id)}/manifest`, { files })).status).toBe(403);
      const bad = await call(h.app, a.nodeKey, "PUT", `${base(id)}/manifest`, {
        files: [{ path: "../etc/passwd", size: 1, sha256: sha("x") }],
      });
      expect(bad.status).toBe(400);
      expect(bad.json.detail).toContain('".."');
      const put = await call(h.app, a.nodeKey, "PUT", `${base(id)}/manifest`, { files });
      expect(put.status).toBe(200);
      expect(put.json.sha256).toBe(manifestDigest(files));
      const m = await call(h.app, b.nodeKey, "GET", `${base(id)}/manifest`);
      expect(m.json).toEqual({ files, sha256: manifestDigest(files) });
      // Nodes that are not the copy's ends see nothing of it.
      expect((await call(h.app, py.nodeKey, "GET", `${base(id)}/manifest`)).status).toBe(403);
      expect((await fetchChunk(py.nodeKey, id, 0, 0, 3)).statusCode).toBe(403);

      // The pipe: the destination's request waits until the source answers it.
      expect((await call(h.app, b.nodeKey, "POST", `${base(id)}/start`, { haveBytes: 0 })).status).toBe(200);
      const pull = async (file: number, offset: number, bytes: Buffer) => {
        const got = fetchChunk(b.nodeKey, id, file, offset, bytes.length);
        const next = await call(h.app, a.nodeKey, "POST", `${base(id)}/next`);
        expect(next.json.request).toMatchObject({ file, offset, length: bytes.length });
        // An answer of the wrong length is refused; the request stays open for the right one.
        if (file === 0)
          expect(
            (await chunk(a.nodeKey, id, next.json.request.reqId, Buffer.from("toolong"))).statusCode,
          ).toBe(400);
        const sent = await chunk(a.nodeKey, id, next.json.request.reqId, bytes);
        expect(sent.json()).toEqual({ taken: true });
        const r = await got;
        expect(r.statusCode).toBe(200);
        expect(r.rawPayload.equals(bytes)).toBe(true);
        expect(r.headers["x-zumbido-sha256"]).toBe(sha(bytes));
      };
      await pull(0, 0, Buffer.from("417"));
      await pull(1, 0, Buffer.from("hel"));
      await pull(1, 3, Buffer.from("lo"));
      // Past the end of a file: refused.
      expect((await fetchChunk(b.nodeKey, id, 1, 4, 2)).statusCode).toBe(400);

      // Done only with the manifest's digest and size; then the lease is handed out.
      const wrong = await call(h.app, b.nodeKey, "POST", `${base(id)}/done`, { sha256: sha("x"), bytes: 8 });
      expect(wrong.status).toBe(400);
      expect(wrong.json.detail).toContain("does not match the manifest");
      expect((await hbFull(b.nodeKey)).assignments.map((x) => x.jobId)).not.toContain(spot);
      const done = await call(h.app, b.nodeKey, "POST", `${base(id)}/done`, {
        sha256: manifestDigest(files),
        bytes: 8,
      });
      expect(done.status).toBe(200);
      expect((await h.store.checkpoints.getTransfer(id))!.state).toBe("delivered");
      const started = await hbFull(b.nodeKey, { checkpoints: [spot] });
      expect(started.assignments.map((x) => x.jobId)).toContain(spot);
      expect(started.transfers).toEqual([]);
      // The destination's folder is in use: never removable.
      expect(started.removableCheckpoints).toEqual([]);
      // The source's folder stays until the destination holds the job's latest checkpoint.
      expect((await hbFull(a.nodeKey, { checkpoints: [spot] })).removableCheckpoints).toEqual([]);
      h.clock.advance(1_000);
      await hbFull(b.nodeKey, {
        workloads: [
          {
            leaseId: lease.id,
            phase: "running",
            startedAt: h.clock.now(),
            checkpoint: { ...ck, savedAt: h.clock.now() },
          },
        ],
      });
      expect((await hbFull(a.nodeKey, { checkpoints: [spot, "job_unknown"] })).removableCheckpoints).toEqual([
        spot,
        "job_unknown",
      ]);

      const ev = await events(spot);
      const at = (re: RegExp) => ev.findIndex((x) => re.test(x));
      const order2 = [
        at(/^checkpoint copy .* requested: from node .* to node /),
        at(/^checkpoint copy .* started: 8 B in 2 file\(s\) from node /),
        at(/^checkpoint copy .* done: 8 B in 2 file\(s\) on node .* sha256 verified/),
      ];
      expect(
        order2.every((i) => i >= 0),
        ev.join("\n"),
      ).toBe(true);
      expect([...order2].sort((x, y) => x - y)).toEqual(order2);
    });
  });
}
