// Several control-plane replicas on one PostgreSQL: exactly one runs the scheduler at a time, and a
// leader that lost its lock session cannot commit (fencing by the leader term).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi, makeServices } from "../../src/api/server.js";
import { Metrics } from "../../src/api/metrics.js";
import { PgAdvisoryLeadership, SchedulerLoop, sequentialIds, type Ctx } from "../../src/control/index.js";
import { ManualClock } from "../../src/domain/index.js";
import { DEFAULT_POLICY } from "../../src/scheduler/index.js";
import { FencedError, Store } from "../../src/store/index.js";
import { buildWorld, enrolNode, heartbeat } from "../helpers/fixtures.js";
import { call } from "../helpers/harness.js";
import { leaseOn, pendingJob, seedOneNode } from "../helpers/one-node-world.js";
import { freshPostgresDb, postgresAvailable } from "../helpers/services.js";

const available = await postgresAvailable();

/** Terminates the session holding the leader's advisory lock (what a partition to the database does). */
async function terminateLockSession(url: string, key: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(
      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted",
      [key],
    );
    expect(r.rowCount).toBe(1);
  } finally {
    await c.end();
  }
}

/** Active leases that share a (node, GPU): a GPU leased twice. */
async function doubleLeased(store: Store): Promise<string[]> {
  const seen = new Map<string, string>();
  const dup: string[] = [];
  for (const l of await store.jobs.activeLeases())
    for (const g of l.gpuIndices) {
      const k = `${l.nodeId}/${g}`;
      if (seen.has(k)) dup.push(`${k}: ${seen.get(k)} and ${l.id}`);
      seen.set(k, l.id);
    }
  return dup;
}

describe.skipIf(!available)("PostgreSQL leadership (advisory lock + fencing term)", () => {
  let url: string;
  let drop: () => Promise<void>;
  let a: Store;
  let b: Store;
  beforeAll(async () => {
    ({ url, drop } = await freshPostgresDb());
    a = await Store.open({ kind: "postgres", url });
    b = await Store.open({ kind: "postgres", url });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  it("gives the lock to one replica, and to the next (with a higher term) when the leader goes away", async () => {
    const key = 0x5a000000 + Math.floor(Math.random() * 0xffff);
    const la = new PgAdvisoryLeadership(url, { key, holder: "a" });
    const lb = new PgAdvisoryLeadership(url, { key, holder: "b" });
    try {
      expect(await la.isLeader()).toBe(true);
      expect(await lb.isLeader()).toBe(false);
      expect(await la.isLeader()).toBe(true);
      expect(await lb.isLeader()).toBe(false);
      const t1 = la.fence().term;
      await la.close();
      expect(await lb.isLeader()).toBe(true);
      expect(await la.isLeader()).toBe(false);
      expect(lb.fence().term).toBe(t1 + 1);
    } finally {
      await la.close();
      await lb.close();
    }
  });

  it("refuses a placement from the old term after the leader's lock session is terminated (the GPU is leased once)", async () => {
    // Before fencing: both replicas committed onto GPU 0 in the same moment (197 of 200 rounds in the finding).
    const key = 0x5b000000 + Math.floor(Math.random() * 0xffff);
    await seedOneNode(a);
    const la = new PgAdvisoryLeadership(url, { key, holder: "a" });
    const lb = new PgAdvisoryLeadership(url, { key, holder: "b" });
    try {
      for (let round = 0; round < 10; round++) {
        const [ja, jb] = [`ja${round}`, `jb${round}`];
        await a.jobs.createJob(pendingJob(ja));
        await a.jobs.createJob(pendingJob(jb));
        const [leader, follower, ls, fs] = (await la.isLeader()) ? [la, lb, a, b] : [lb, la, b, a];
        expect(await follower.isLeader()).toBe(false);
        const oldFence = leader.fence();
        // The old leader's lock session dies (partition, idle timeout, proxy); the other replica takes over.
        await terminateLockSession(url, key);
        for (let i = 0; i < 50 && !(await follower.isLeader()); i++)
          await new Promise((r) => setTimeout(r, 20));
        expect(follower.holds()).toBe(true);
        const [oldCommit, newCommit] = await Promise.allSettled([
          ls.jobs.commitPlacement(ja, [leaseOn(`la${round}`, ja, [0], 210)], 210, "old leader", oldFence),
          fs.jobs.commitPlacement(
            jb,
            [leaseOn(`lb${round}`, jb, [0], 210)],
            210,
            "new leader",
            follower.fence(),
          ),
        ]);
        expect(oldCommit.status).toBe("rejected");
        expect((oldCommit as PromiseRejectedResult).reason).toBeInstanceOf(FencedError);
        expect(newCommit).toEqual({ status: "fulfilled", value: true });
        expect(await doubleLeased(a)).toEqual([]);
        expect((await a.jobs.getJob(ja))?.state).toBe("pending");
        await a.jobs.endLease(`lb${round}`, 300);
      }
    } finally {
      await la.close();
      await lb.close();
    }
  });

  it("two replicas under load, the leader's lock session terminated 10 times: 0 GPUs double-leased, 0 jobs placed twice", async () => {
    const { url: url2, drop: drop2 } = await freshPostgresDb();
    const key = 0x5c000000 + Math.floor(Math.random() * 0xffff);
    const clock = new ManualClock(Date.UTC(2026, 11, 1, 8, 0, 0));
    const config: Ctx["config"] = {
      currency: "EUR",
      logCapBytes: 64 * 1024,
      heartbeatTimeoutMs: 3_600_000,
      stopGraceS: 10,
      enrolmentTokenTtlMs: 3_600_000,
      policy: DEFAULT_POLICY,
      region: "EU (ES)",
      deferFlexible: false,
    };
    const sa = await Store.open({ kind: "postgres", url: url2 });
    const sb = await Store.open({ kind: "postgres", url: url2 });
    const [idsA, idsB] = [sequentialIds(), sequentialIds()];
    const ctxA: Ctx = { store: sa, clock, ids: (p) => `${idsA(p)}a`, config, nudge: () => undefined };
    const ctxB: Ctx = { store: sb, clock, ids: (p) => `${idsB(p)}b`, config, nudge: () => undefined };
    const app = await buildApi(makeServices(ctxA, new Metrics(false)));
    const la = new PgAdvisoryLeadership(url2, { key, holder: "a" });
    const lb = new PgAdvisoryLeadership(url2, { key, holder: "b" });
    const loopA = new SchedulerLoop(ctxA, undefined, undefined, undefined, la);
    const loopB = new SchedulerLoop(ctxB, undefined, undefined, undefined, lb);
    try {
      const { key: adminKey } = await sa.accounts.createKey({
        id: "key_admin",
        role: "admin",
        ownerId: null,
        name: "admin",
        now: clock.now(),
      });
      const w = await buildWorld(app, adminKey);
      for (let i = 0; i < 3; i++) {
        const { nodeKey } = await enrolNode(app, w.operatorKey, w.sites.es, `n${i}`);
        await heartbeat(app, nodeKey);
      }
      let fencedCycles = 0;
      for (let round = 0; round < 10; round++) {
        for (let j = 0; j < 6; j++) {
          const r = await call(app, w.tenantKey, "POST", "/v1/jobs", {
            gpus: 1 + (j % 3),
            gpuModels: ["H100"],
            jurisdiction: "EU",
            command: ["python", "train.py"],
          });
          expect(r.status).toBe(201);
        }
        const leader = la.holds() ? la : lb.holds() ? lb : undefined;
        // Both replicas cycle while the leader's lock session is terminated mid-way.
        const cycles = Promise.all([loopA.tick(), loopB.tick(), loopA.tick(), loopB.tick()]);
        if (leader) {
          await new Promise((r) => setTimeout(r, round * 3));
          await terminateLockSession(url2, key);
        }
        for (const rep of await cycles) if (rep.fenced) fencedCycles++;
        await Promise.all([loopA.tick(), loopB.tick()]);
        expect(await doubleLeased(sa)).toEqual([]);
        // Work finishes: free about half of the GPUs for the next round.
        const active = await sa.jobs.activeLeases();
        for (const l of active.slice(0, Math.ceil(active.length / 2))) {
          await sa.jobs.endLease(l.id, clock.now());
          await sa.jobs.transitionJob(l.jobId, ["scheduled", "running"], "succeeded", clock.now(), "done");
        }
      }
      // No job was placed twice: every job has at most one "scheduled" event.
      const jobs = await sa.jobs.listJobs({});
      expect(jobs.length).toBe(60);
      let placed = 0;
      for (const j of jobs) {
        const scheduled = (await sa.jobs.events(j.id)).filter((e) => e.state === "scheduled");
        expect(scheduled.length, j.id).toBeLessThanOrEqual(1);
        placed += scheduled.length;
      }
      expect(placed).toBeGreaterThan(30);
      console.info(`leader failover under load: ${placed} placements, ${fencedCycles} cycles fenced off`);
    } finally {
      await loopA.stop();
      await loopB.stop();
      await app.close();
      await sa.close();
      await sb.close();
      await drop2();
    }
  });
});
