// Heartbeats that cost little: the node row is rewritten only when the node's status changes, a busy
// heartbeat does not wake the scheduler, and the server names the heartbeat interval.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, heartbeat, simGpus, type World } from "../helpers/fixtures.js";
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
    await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 1,
      gpuModels: ["H100"],
      countries: ["FI"],
      command: ["train"],
    });
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
    await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 1,
      gpuModels: ["H100"],
      countries: ["PY"],
      command: ["train"],
    });
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
    // Each enrolment reads the operator's key once (for its token); the heartbeats read none.
    // (The view reads each new key's row by id: it follows the table.)
    expect(
      statements.filter((q) => /^select \* from "api_keys" where \(\("hash_kind"/i.test(q)),
    ).toHaveLength(3);
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
