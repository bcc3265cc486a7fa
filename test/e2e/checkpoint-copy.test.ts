// Issue 15 on real processes: two agents of one site on this machine (local executor). An
// interruptible job saving a step counter and a 3 MB file is preempted on node A by an on-demand job;
// node B joins, the job is placed there, and its checkpoint is copied from A to B through the control
// plane before it starts. Node B talks to the control plane through a proxy (node B behind a bad
// link): the proxy corrupts the first chunk (B detects it and fetches it again) and holds the third;
// B is killed mid-copy and restarted, and resumes the copy at the bytes it had verified. The job
// resumes on B (`RESUMED from N`, N > 0) with byte-identical files; A then removes its copy.
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointDirFor } from "../../src/agent/checkpoints.js";
import type { ApiClient } from "../../src/agent/client.js";
import type { Store } from "../../src/store/index.js";
import { startHall, type Hall } from "../helpers/hall.js";
import { kill, waitFor, type ServerProc } from "../helpers/processes.js";

const GRACE_S = 2;
const BLOB_BYTES = 3_000_000;

interface JobView {
  id: string;
  state: string;
  leases: { id: string; nodeId: string; state: string; startedAt: number | null }[];
  checkpoint?: { nodeId: string; sizeBytes: number; files: number };
}

// Writes a 3 MB file once, then counts steps (write then rename); on the notice it saves and leaves,
// removing a step.tmp the notice may have caught between the write and the rename (the folder then
// holds its two files, which the events below name).
const COUNTER = [
  'd="$ZUMBIDO_CHECKPOINT_DIR"',
  `[ -f "$d/blob" ] || head -c ${BLOB_BYTES} /dev/urandom > "$d/blob"`,
  'n=$(cat "$d/step" 2>/dev/null || echo 0)',
  '[ "$n" -gt 0 ] && echo "RESUMED from $n"',
  'trap \'echo $n > "$d/step"; rm -f "$d/step.tmp"; exit 0\' TERM',
  'while :; do n=$((n+1)); echo $n > "$d/step.tmp" && mv "$d/step.tmp" "$d/step"; sleep 0.1; done',
].join("\n");

/** A proxy in front of the control plane for node B: it corrupts chunk 1 and holds chunk 3 while `holding`. */
class BadLink {
  server: Server;
  chunkUrls: string[] = [];
  corrupted = 0;
  held = 0;
  holding = true;
  constructor(upstream: string) {
    this.server = createServer((req, res) => {
      const body: Buffer[] = [];
      req.on("data", (c: Buffer) => body.push(c));
      req.on("end", () => {
        void (async () => {
          const headers: Record<string, string> = {};
          for (const k of ["authorization", "content-type", "x-zumbido-sha256"])
            if (typeof req.headers[k] === "string") headers[k] = req.headers[k];
          const up = await fetch(new URL(req.url!, upstream), {
            method: req.method!,
            headers,
            ...(body.length ? { body: Buffer.concat(body) } : {}),
          });
          let bytes = Buffer.from(await up.arrayBuffer());
          if (req.url!.includes("/chunk?") && up.status === 200) {
            this.chunkUrls.push(req.url!);
            const n = this.chunkUrls.length;
            if (n === 1) {
              bytes = Buffer.from(bytes);
              bytes[10] = bytes[10]! ^ 0xff; // one flipped byte on the way
              this.corrupted++;
            } else if (n >= 3 && this.holding) {
              this.held++;
              return; // never answered: node B is killed while it waits
            }
          }
          const out: Record<string, string> = {};
          for (const k of ["content-type", "x-zumbido-sha256"]) {
            const v = up.headers.get(k);
            if (v) out[k] = v;
          }
          res.writeHead(up.status, out).end(bytes);
        })().catch(() => res.destroy());
      });
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

describe("a checkpoint copied between two real agents", () => {
  let hall: Hall;
  let dir: string;
  let server: ServerProc;
  let tenant: ApiClient;
  let store: Store;
  let link: BadLink;

  beforeAll(async () => {
    hall = await startHall({
      prefix: "zumbido-ckcopy-",
      hall: "Copy Hall",
      graceS: GRACE_S,
      stopTimeoutS: 3,
      // Node B is killed and restarted mid-copy. Under CI load its restart can take longer than the
      // default 15 s heartbeat timeout: node B would go offline, its lease end and a fresh copy start
      // from byte 0 (no "resumed at byte" event; one CI run failed that way). The restart, not the
      // offline path, is what this suite tests.
      env: { ZUMBIDO_HEARTBEAT_TIMEOUT_MS: "120000" },
    });
    ({ dir, server, tenant, store } = hall);
    link = new BadLink(server.url);
  }, 180_000);
  afterAll(async () => {
    link?.server.close();
    await hall?.close("SIGKILL");
  });

  const agent = (name: string, url: string, withToken: boolean): Promise<ChildProcess> =>
    hall.agent(name, { url, enrol: withToken, args: ["--checkpoint-keep-s", "1"] });
  const submit = (cls: "on-demand" | "interruptible", script: string) => hall.submit(cls, script);
  const job = (id: string) => hall.job<JobView>(id);
  const logs = (id: string) => hall.logs(id);
  const events = (id: string) => hall.events(id);
  const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

  it("preempted on A, resumed on B from the copied checkpoint after a corrupted chunk and an interrupted copy", async () => {
    await agent("node-a", server.url, true);
    const spot = (await submit("interruptible", COUNTER)).id;
    const first = await waitFor(
      async () => {
        const j = await job(spot);
        return j.state === "running" && j.checkpoint && j.checkpoint.files === 2 ? j : undefined;
      },
      "the interruptible job to run and save its checkpoint",
      120_000,
    );
    const nodeA = first.leases[0]!.nodeId;
    const od = (await submit("on-demand", "sleep 120")).id;
    await waitFor(
      async () => (await job(od)).leases.some((l) => l.startedAt !== null),
      "the on-demand job",
      60_000,
    );
    const folderA = checkpointDirFor(join(dir, "node-a"), spot);
    const blobSha = sha(join(folderA, "blob"));
    const step = Number(readFileSync(join(folderA, "step"), "utf8"));
    expect(step).toBeGreaterThan(0);

    // Node B joins through the bad link; the job is placed there and waits for its checkpoint.
    const proxied = await link.listen();
    const b1 = await agent("node-b", proxied, true);
    await waitFor(async () => link.held > 0, "node B to have verified part of the copy", 120_000);
    const placed = await job(spot);
    const leaseB = placed.leases.find((l) => l.state === "assigned")!;
    expect(leaseB.nodeId).not.toBe(nodeA);
    expect(leaseB.startedAt).toBeNull();
    // Chunk 1 arrived corrupted: node B asked for the same bytes again.
    expect(link.corrupted).toBe(1);
    expect(link.chunkUrls[1]).toBe(link.chunkUrls[0]);

    // Node B dies mid-copy and comes back; the copy resumes at the bytes it had verified.
    await kill(b1, "SIGKILL");
    link.holding = false;
    await agent("node-b", proxied, false);
    const text = await waitFor(
      async () => {
        const t = await logs(spot);
        return /RESUMED from \d+/.test(t) ? t : undefined;
      },
      "the job to resume on node B",
      120_000,
    );
    const n = Number(/RESUMED from (\d+)/.exec(text)![1]);
    console.log(`checkpoint copy e2e: resumed on node B from step ${n} (saved on A: ${step})`);
    expect(n).toBe(step);
    const folderB = checkpointDirFor(join(dir, "node-b"), spot);
    expect(sha(join(folderB, "blob"))).toBe(blobSha);

    const ev = await events(spot);
    const at = (re: RegExp) => ev.findIndex((m) => re.test(m));
    const order = [
      at(/^checkpoint copy .* requested: from node /),
      at(/^checkpoint copy .* started: 3 MB in 2 file\(s\)/),
      at(/^checkpoint copy .* resumed at byte [1-9]\d* of 3000/),
      at(/^checkpoint copy .* done: 3 MB in 2 file\(s\) .* sha256 verified/),
    ];
    expect(
      order.every((i) => i >= 0),
      ev.join("\n"),
    ).toBe(true);
    expect(
      [...order].sort((x, y) => x - y),
      ev.join("\n"),
    ).toEqual(order);
    const t = (await store.checkpoints.transfersForJob(spot))[0]!;
    expect(t.state).toBe("delivered");
    console.log(
      `checkpoint copy e2e: ${t.sizeBytes} bytes delivered ${t.updatedAt - t.createdAt} ms after the placement (including node B's restart)`,
    );

    // Cleanup: A removes its copy once B holds the latest; the running on-demand job's folder stays.
    await waitFor(async () => !existsSync(folderA), "node A to remove the copied-away folder", 60_000);
    expect(existsSync(checkpointDirFor(join(dir, "node-a"), od))).toBe(true);
    // B keeps the folder of the running job; once it is cancelled, B removes it after the keep period.
    expect(existsSync(folderB)).toBe(true);
    await tenant.post(`/v1/jobs/${spot}/cancel`);
    await waitFor(async () => (await job(spot)).state === "cancelled", "the job to be cancelled", 60_000);
    await waitFor(async () => !existsSync(folderB), "node B to remove the ended job's folder", 60_000);
    await tenant.post(`/v1/jobs/${od}/cancel`);
  }, 400_000);
});
