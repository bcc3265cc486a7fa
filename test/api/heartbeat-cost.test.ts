// Heartbeats that cost little: the node row is rewritten only when the node's status changes, a busy
// heartbeat does not wake the scheduler, and the server names the heartbeat interval.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, cloneNode, enrolNode, heartbeat, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

/** Every statement SQLite prepares while `fn` runs (Kysely prepares each query it runs). */
async function statementsOf(h: Harness, fn: () => Promise<void>): Promise<string[]> {
  const raw = h.store.db.sqlite!;
  const statements: string[] = [];
  const prepare = raw.prepare.bind(raw);
  raw.prepare = ((sql: string) => {
    statements.push(sql);
    return prepare(sql);
  }) as typeof raw.prepare;
  try {
    await fn();
  } finally {
    raw.prepare = prepare;
  }
  return statements;
}

/** A tenant's one-GPU H100 job, to run in `country`. */
const submitOne = (h: Harness, w: World, country: string) =>
  call(h.app, w.tenantKey, "POST", "/v1/jobs", {
    gpus: 1,
    gpuModels: ["H100"],
    countries: [country],
    command: ["train"],
  });

describe("heartbeat cost", () => {
  let h: Harness;
  let w: World;
  let nudges = 0;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    h.services.ctx.nudge = () => void nudges++;
    w = await buildWorld(h.app, h.adminKey);
  });
  afterAll(async () => h.close());

  it("renews liveness only when nothing changed, and writes the status when it does", async () => {
    const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "hb-1");
    await heartbeat(h.app, node.nodeKey);
    const raw = h.store.db.sqlite!;
    const row = () =>
      raw.prepare("select gpus_json, state, last_heartbeat_at from nodes where id = ?").get(node.nodeId) as {
        gpus_json: string;
        state: string;
        last_heartbeat_at: number;
      };
    // Count the statements that rewrite the node's status (a temp trigger on this connection).
    raw.exec(`create temp table if not exists status_writes (n integer);
      create temp trigger if not exists count_status after update of gpus_json, state on nodes
      begin insert into status_writes values (1); end;`);
    const writes = () => (raw.prepare("select count(*) as n from status_writes").get() as { n: number }).n;
    for (let i = 0; i < 3; i++) {
      h.clock.advance(1000);
      await heartbeat(h.app, node.nodeKey);
    }
    expect(row().last_heartbeat_at).toBe(h.clock.now());
    expect(writes()).toBe(0);
    const sick = simGpus("H100", 8).map((g, i) => ({ ...g, healthy: i !== 3 }));
    await call(h.app, node.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: sick,
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    expect(JSON.parse(row().gpus_json)[3].healthy).toBe(false);
    expect(writes()).toBe(1);
    await call(h.app, node.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: sick,
      health: { healthy: false, reasons: ["GPU 3 fell off the bus"] },
      workloads: [],
    });
    expect(row().state).toBe("draining");
  });

  it("names the interval (1 s while work starts or stops) and does not nudge the scheduler on busy beats", async () => {
    const node = await enrolNode(h.app, w.operatorKey, w.sites.fi, "hb-2");
    const hb = await call(h.app, node.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    expect(hb.json.intervalMs).toBeGreaterThanOrEqual(1000);
    expect(hb.json.intervalMs).toBeLessThanOrEqual(5000);
    const before = nudges;
    await submitOne(h, w, "FI");
    await h.loop.tick();
    const a = await heartbeat(h.app, node.nodeKey);
    expect(a.assignments).toHaveLength(1);
    const leaseId = a.assignments[0]!.leaseId;
    const busy = await call(h.app, node.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [{ leaseId, phase: "running", startedAt: h.clock.now() }],
    });
    expect(busy.status).toBe(200);
    // Only the submission nudged; the busy heartbeat did not.
    expect(nudges - before).toBe(1);
  });

  it("a steady heartbeat (a running workload, nothing changed) reads nothing: the view and the key cache answer", async () => {
    const node = await enrolNode(h.app, w.operatorKey, w.sites.py, "hb-3");
    await heartbeat(h.app, node.nodeKey);
    await submitOne(h, w, "PY");
    await h.loop.tick();
    const a = await heartbeat(h.app, node.nodeKey);
    const leaseId = a.assignments.find((x) => x)!.leaseId;
    const running = [{ leaseId, phase: "running", startedAt: h.clock.now() }];
    await heartbeat(h.app, node.nodeKey, running);
    await heartbeat(h.app, node.nodeKey, running);
    const statements = await statementsOf(h, async () => {
      for (let i = 0; i < 3; i++) {
        h.clock.advance(1000);
        const r = await heartbeat(h.app, node.nodeKey, running);
        expect(r.assignments).toEqual([]);
      }
    });
    // One liveness write each (this harness writes each heartbeat; the server batches them), no read.
    expect(statements.filter((q) => !/^update "nodes" set "last_heartbeat_at"/i.test(q))).toEqual([]);
    expect(statements).toHaveLength(3);
  });
  it("a submission reads the GPU catalogue from the view, unless this replica wrote to it since the view's last sync", async () => {
    const submit = () => submitOne(h, w, "ES");
    await h.services.ctx.view!.sync(h.clock.now());
    const catalogueReads = (q: string[]) => q.filter((x) => /from "gpu_models"/i.test(x)).length;
    expect(catalogueReads(await statementsOf(h, async () => void (await submit())))).toBe(0);
    // A model added here (not yet in the view): the next submission reads the store's catalogue.
    await h.store.db.kysely
      .insertInto("gpu_models")
      .values({
        id: "X1",
        vendor: "Acme",
        name: "Acme X1",
        memory_gb: 80,
        tdp_w: 500,
        rel_throughput_milli: 1000,
        match_json: "[]",
        state: "approved",
        proposed_by: null,
        proposed_at: h.clock.now(),
        decided_at: h.clock.now(),
        reason: null,
      })
      .execute();
    expect(catalogueReads(await statementsOf(h, async () => void (await submit())))).toBe(1);
    await h.services.ctx.view!.sync(h.clock.now());
    expect(catalogueReads(await statementsOf(h, async () => void (await submit())))).toBe(0);
  });

  it("a node enrolling does not send the other nodes' heartbeats back to the key table (a new key changes no cached one)", async () => {
    const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "hb-4");
    // The first beat caches the key; the view then applies the key's own insertion and drops it, so
    // the second reads it again (once per node).
    await heartbeat(h.app, node.nodeKey);
    await heartbeat(h.app, node.nodeKey);
    const statements = await statementsOf(h, async () => {
      for (let i = 0; i < 3; i++) {
        await enrolNode(h.app, w.operatorKey, w.sites.es, `hb-4-next-${i}`);
        h.clock.advance(1000);
        expect((await heartbeat(h.app, node.nodeKey)).assignments).toEqual([]);
      }
    });
    // Neither the enrolments (the operator's key is cached too) nor the heartbeats read a key by its
    // secret. (The view reads each new key's row by id: it follows the table.)
    expect(
      statements.filter((q) => /^select \* from "api_keys" where \(\("hash_kind"/i.test(q)),
    ).toHaveLength(0);
    // A change to a key still reaches the cache at once: rotating with no overlap revokes the old key.
    const rotated = await call(h.app, w.operatorKey, "POST", `/v1/nodes/${node.nodeId}/keys/rotate`, {
      overlapS: 0,
    });
    expect(rotated.status).toBeLessThan(300);
    const old = await call(h.app, node.nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
    expect(old.status).toBe(401);
  });
});

describe("heartbeat cost in a large fleet (more than 1,000 nodes)", () => {
  let h: Harness;
  let w: World;
  /** The write epoch's monotonic time, moved by hand (how old a write the view has not seen is). */
  let mono = 0;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
    h.store.db.writes.now = () => mono;
  });
  afterAll(async () => h.close());

  it("a steady beat answers from the view without waiting for this replica's last half second of writes; a beat with news still reads its own", async () => {
    const node = await enrolNode(h.app, w.operatorKey, w.sites.py, "big-1");
    await heartbeat(h.app, node.nodeKey);
    await cloneNode(h.store, node.nodeId, 1000);
    await h.services.ctx.view!.sync(h.clock.now());
    expect(h.services.ctx.view!.nodeCount()).toBeGreaterThan(1000);
    const submit = () => submitOne(h, w, "PY");
    await submit();
    await h.loop.tick();
    const a = await heartbeat(h.app, node.nodeKey);
    const leaseId = a.assignments.find((x) => x.jobId)?.leaseId;
    expect(leaseId).toBeDefined();
    const running = [{ leaseId, phase: "running", startedAt: h.clock.now() }];
    await heartbeat(h.app, node.nodeKey, running);

    // A write this replica made a moment ago (a submission): the steady beat does not sync the feed.
    await submit();
    const fresh = await statementsOf(h, async () => {
      h.clock.advance(1000);
      await heartbeat(h.app, node.nodeKey, running);
    });
    expect(fresh.filter((q) => /view_changes/i.test(q))).toEqual([]);

    // Half a second later the beat waits for the sync: the view never lags more than that.
    mono += 500;
    const later = await statementsOf(h, async () => {
      h.clock.advance(1000);
      await heartbeat(h.app, node.nodeKey, running);
    });
    expect(later.filter((q) => /view_changes/i.test(q)).length).toBeGreaterThan(0);

    // A beat that reports news (its workload ended) writes, and reads the view synced past its write.
    await submit();
    const news = await statementsOf(h, async () => {
      h.clock.advance(1000);
      await heartbeat(h.app, node.nodeKey, [
        { leaseId, phase: "succeeded", startedAt: h.clock.now() - 2000, endedAt: h.clock.now(), exitCode: 0 },
      ]);
    });
    expect(news.filter((q) => /view_changes/i.test(q)).length).toBeGreaterThan(0);
    expect((await h.store.jobs.getLease(leaseId!))?.state).toBe("ended");
  });
});
