// The scheduler's cluster view (src/control/cluster-view.ts) against the store: after any sequence of
// the control plane's writes, the view the cycle schedules on is the world read straight from the
// store; a cycle over an unchanged fleet reads no table (on SQLite and PostgreSQL).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  buildSnapshot,
  ClusterView,
  readWorld,
  savedAtOf,
  type CycleSnapshot,
  type CycleWorld,
} from "../../src/control/index.js";
import type { Job } from "../../src/domain/index.js";
import { buildWorld, cloneNode, enrolNode, heartbeat, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

/** One write of the control plane, picked at random (indices pick among what exists then). */
type Op =
  | { k: "submit"; gpus: number }
  | { k: "place"; job: number; node: number; gpu: number; n: number }
  | { k: "run" | "stop" | "end" | "requeue"; lease: number }
  | { k: "cancel"; job: number }
  | { k: "health"; node: number; healthy: boolean }
  | { k: "liveness" | "offline" | "remove"; node: number }
  | { k: "price"; minor: number }
  | { k: "reserve"; job: number; node: number }
  | { k: "release"; job: number }
  | { k: "checkpoint"; job: number; node: number }
  | { k: "saved"; lease: number }
  | { k: "curtail"; kw: number }
  | { k: "tick"; ms: number }
  | { k: "sync" };

const idx = fc.nat(50);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("submit" as const), gpus: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    k: fc.constant("place" as const),
    job: idx,
    node: idx,
    gpu: fc.nat(7),
    n: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    k: fc.constantFrom("run" as const, "stop" as const, "end" as const, "requeue" as const),
    lease: idx,
  }),
  fc.record({ k: fc.constant("cancel" as const), job: idx }),
  fc.record({ k: fc.constant("health" as const), node: idx, healthy: fc.boolean() }),
  fc.record({ k: fc.constantFrom("liveness" as const, "offline" as const, "remove" as const), node: idx }),
  fc.record({ k: fc.constant("price" as const), minor: fc.integer({ min: 100, max: 400 }) }),
  fc.record({ k: fc.constant("reserve" as const), job: idx, node: idx }),
  fc.record({ k: fc.constant("release" as const), job: idx }),
  fc.record({ k: fc.constant("checkpoint" as const), job: idx, node: idx }),
  fc.record({ k: fc.constant("saved" as const), lease: idx }),
  fc.record({ k: fc.constant("curtail" as const), kw: fc.integer({ min: 10, max: 400 }) }),
  fc.record({ k: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 60_000 }) }),
  fc.constant({ k: "sync" as const }),
);

/** The parts of a cycle's world the scheduler uses, in a comparable form. */
function normal(w: CycleWorld): unknown {
  const byId = <T extends { id: string }>(xs: T[]): T[] => [...xs].sort((a, b) => (a.id < b.id ? -1 : 1));
  const attained: Record<string, number> = {};
  const jobIds = new Set([...w.jobs.map((j) => j.id), ...w.leases.map((l) => l.jobId)]);
  for (const id of jobIds) attained[id] = Math.round((w.attainedGpuS?.get(id) ?? 0) * 1000);
  return {
    sites: byId(w.sites),
    // Liveness is the view's only lag by design; it matters for offline nodes (lease loss) only.
    nodes: byId([...w.nodes.values()]).map((n) => ({
      ...n,
      lastHeartbeatAt: n.state === "offline" ? n.lastHeartbeatAt : 0,
    })),
    leases: w.leases,
    prices: w.prices,
    jobs: w.jobs.map((j: Job) => ({
      id: j.id,
      state: j.state,
      request: j.request,
      spec: j.spec,
      at: j.submittedAt,
    })),
    curtailments: w.curtailments,
    series: w.series,
    reservations: [...(w.reservations ?? [])].sort((a, b) => (a.jobId < b.jobId ? -1 : 1)),
    checkpoints: [...(w.checkpoints ?? [])].sort((a, b) => (a.jobId < b.jobId ? -1 : 1)),
    // What a preemption of each lease would lose: its own newest checkpoint.
    savedAt: w.leases.map((l) => [l.id, savedAtOf(l, w.checkpointOf)]),
    finished: w.finishedService,
    attained,
  };
}

/** A scheduler snapshot in a comparable form (order-free where the scheduler does not depend on order). */
function normalSnap(c: CycleSnapshot): unknown {
  const byId = <T extends { id: string }>(xs: T[]): T[] => [...xs].sort((a, b) => (a.id < b.id ? -1 : 1));
  const ms = (x: number | undefined): number | undefined => (x === undefined ? x : Math.round(x * 1000));
  const entries = <V>(m: Map<string, V>): [string, V][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const { snapshot: s } = c;
  return {
    sites: byId(s.sites),
    nodes: byId(s.nodes),
    // Attained service is summed in another order by the two paths: compared to the millisecond.
    leases: byId(s.leases).map((l) => ({ ...l, attainedGpuS: ms(l.attainedGpuS) })),
    reservations: [...(s.reservations ?? [])].sort((a, b) =>
      a.jobId + a.nodeId < b.jobId + b.nodeId ? -1 : 1,
    ),
    finished: s.finishedService,
    pending: byId(c.pending).map((p) => ({ ...p, attainedGpuS: ms(p.attainedGpuS) })),
    waiting: [...(c.waitingForCheckpoint ?? [])].sort((a, b) => (a.jobId < b.jobId ? -1 : 1)),
    siteOperator: entries(c.siteOperator),
    siteCountry: entries(c.siteCountry),
    carbon: entries(c.carbon),
    gangPorts: [...c.gangPorts].sort(),
  };
}

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`cluster view: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    let n = 0;
    beforeAll(async () => {
      h = await startHarness(factory);
      w = await buildWorld(h.app, h.adminKey);
      for (const [i, site] of [w.sites.es, w.sites.fi, w.sites.es].entries()) {
        const { nodeKey } = await enrolNode(h.app, w.operatorKey, site, `view-${i}`);
        await heartbeat(h.app, nodeKey);
      }
    });
    afterAll(async () => h.close());

    /** Records a job's newest checkpoint as written by `leaseId` on that node, saved now. */
    const checkpoint = (jobId: string, leaseId: string, nodeId: string, siteId: string, sizeBytes: number) =>
      h.store.checkpoints.recordCheckpoint({
        jobId,
        leaseId,
        nodeId,
        siteId,
        country: "ES",
        sizeBytes,
        files: 1,
        savedAt: h.clock.now(),
        updatedAt: h.clock.now(),
      });

    /** Applies one op through the store's own write paths. */
    async function apply(op: Op, view: ClusterView): Promise<void> {
      const { store, clock } = h;
      const now = clock.now();
      const nodes = await store.fleet.listNodes();
      const active = await store.jobs.activeLeases();
      const queued = await store.jobs.pendingJobs();
      const pick = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
      switch (op.k) {
        case "submit": {
          const id = `job_v${n++}`;
          await store.jobs.createJob({
            id,
            tenantId: w.tenantId,
            name: id,
            request: { gpus: op.gpus, gpuModels: ["H100"], class: "on-demand" } as Job["request"],
            spec: { command: ["x"] } as Job["spec"],
            state: "pending",
            stateReason: null,
            reasons: [],
            submittedAt: now,
            startedAt: null,
            endedAt: null,
            exitCode: null,
          });
          return;
        }
        case "place": {
          const job = pick(queued, op.job);
          const node = pick(nodes, op.node);
          if (!job || !node) return;
          const gpuIndices = Array.from({ length: op.n }, (_, i) => (op.gpu + i) % 8);
          // Every third placement is a two-node gang (ranks, a rendezvous port) when it can be.
          const other = op.job % 3 === 0 ? pick(nodes, op.node + 1) : undefined;
          const ranks = other && other.id !== node.id ? [node, other] : [node];
          await store.jobs.commitPlacement(
            job.id,
            ranks.map((rn, rank) => ({
              id: `lease_v${n++}`,
              jobId: job.id,
              tenantId: job.tenantId,
              siteId: rn.siteId,
              operatorId: w.operatorId,
              nodeId: rn.id,
              country: "ES",
              gpuModel: "H100",
              gpuIndices,
              class: "on-demand" as const,
              priceMinorPerGpuHour: 240,
              currency: "EUR",
              createdAt: now,
              ...(ranks.length > 1 ? { gang: { rank, size: ranks.length, port: 29500 + op.gpu } } : {}),
            })),
            now,
            "placed",
          );
          return;
        }
        case "run": {
          const l = pick(active, op.lease);
          if (l) await store.jobs.markLeaseRunning(l.id, now);
          return;
        }
        case "stop": {
          const l = pick(active, op.lease);
          if (l) await store.jobs.requestLeaseStop(l.id, "test stop", now, now + 10_000);
          return;
        }
        case "end":
        case "requeue": {
          const l = pick(active, op.lease);
          if (!l) return;
          await store.jobs.endLease(l.id, now);
          await store.jobs.transitionJob(
            l.jobId,
            ["scheduled", "running"],
            op.k === "end" ? "succeeded" : "preempted",
            now,
            op.k,
            op.k === "end" ? { endedAt: now } : {},
          );
          return;
        }
        case "cancel": {
          const j = pick(queued, op.job);
          if (j) await store.jobs.transitionJob(j.id, ["pending", "preempted"], "cancelled", now, "cancel");
          return;
        }
        case "health": {
          const node = pick(nodes, op.node);
          if (node)
            await store.fleet.heartbeat(node.id, simGpus("H100", 8), null, now, {
              healthy: op.healthy,
              reasons: op.healthy ? [] : ["sick"],
            });
          return;
        }
        case "liveness": {
          const node = pick(nodes, op.node);
          if (node)
            await store.fleet.heartbeat(node.id, node.gpus, node.driverVersion ?? null, now, {
              healthy: node.state !== "draining",
              reasons: node.state === "draining" ? ["sick"] : [],
            });
          return;
        }
        case "offline":
          await store.fleet.markStaleNodesOffline(now - 30_000);
          return;
        case "remove": {
          // Rarely: a node removed (keep at least two).
          const node = pick(nodes, op.node);
          if (node && nodes.length > 2 && op.node % 5 === 0) await store.fleet.deleteNode(node.id);
          return;
        }
        case "price":
          await store.fleet.setPrice(
            {
              siteId: w.sites.es,
              gpuModel: "H100",
              onDemandMinorPerGpuHour: op.minor,
              interruptibleMinorPerGpuHour: op.minor >> 1,
            },
            now,
          );
          return;
        case "reserve": {
          const j = pick(queued, op.job);
          const node = pick(nodes, op.node);
          if (j && node)
            await store.checkpoints.reserve({
              jobId: j.id,
              nodeId: node.id,
              leaseId: "lease_gone",
              gpuIndices: [op.node % 8],
              createdAt: now,
              expiresAt: now + 20_000,
            });
          return;
        }
        case "release": {
          const j = pick(queued, op.job);
          if (j) await store.checkpoints.release(j.id);
          return;
        }
        case "checkpoint": {
          // A requeued job's checkpoint, written by a lease that is gone.
          const j = pick(queued, op.job);
          const node = pick(nodes, op.node);
          if (j && node) await checkpoint(j.id, "lease_gone", node.id, node.siteId, 1000 + op.node);
          return;
        }
        case "saved": {
          // A running lease reports a checkpoint: a preemption of it now loses only the work since.
          const l = pick(active, op.lease);
          if (l) await checkpoint(l.jobId, l.id, l.nodeId, l.siteId, 2000 + op.lease);
          return;
        }
        case "curtail":
          await store.energy.createCurtailment({
            id: `curt_v${n++}`,
            siteId: w.sites.fi,
            startMs: now + 60_000,
            endMs: now + 120_000,
            maxKw: op.kw,
            noticeS: 30,
            reason: "grid",
            state: "scheduled",
            createdAt: now,
            kwBefore: null,
            kwAtStart: null,
            metAtMs: null,
            stopped: [],
            reasoning: [],
          });
          return;
        case "tick":
          clock.advance(op.ms);
          return;
        case "sync":
          await view.sync(clock.now());
          return;
      }
    }

    it("matches the store after any sequence of writes (kept view and a fresh one)", async () => {
      // One view kept across every run (long histories), reconciling never, finished jobs at once.
      const kept = new ClusterView(h.store, undefined, {
        reconcileMs: Number.POSITIVE_INFINITY,
        finishedRefreshMs: 0,
      });
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
          for (const op of ops) await apply(op, kept);
          const now = h.clock.now();
          const truth = normal(await readWorld(h.store, now));
          expect(normal(await kept.world(now))).toEqual(truth);
          expect(normal(await new ClusterView(h.store).world(now))).toEqual(truth);
        }),
        { numRuns: factory.name === "sqlite" ? 40 : 15 },
      );
      expect(kept.stats.loads).toBe(1);
      expect(kept.stats.changes).toBeGreaterThan(0);
    });

    it("keeps the scheduler's snapshot from the changes equal to a full rebuild after any sequence of writes", async () => {
      // The snapshot is taken between writes too, so updates land on a kept (not a freshly rebuilt) one.
      const kept = new ClusterView(h.store, undefined, {
        reconcileMs: Number.POSITIVE_INFINITY,
        finishedRefreshMs: 0,
      });
      await kept.snapshot(h.clock.now());
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
          for (const op of ops) {
            await apply(op, kept);
            if (op.k === "sync") await kept.snapshot(h.clock.now());
          }
          const now = h.clock.now();
          const truth = normalSnap(buildSnapshot(await readWorld(h.store, now), now));
          expect(normalSnap(await kept.snapshot(now))).toEqual(truth);
        }),
        { numRuns: factory.name === "sqlite" ? 40 : 15 },
      );
      expect(kept.kept.stats.rebuilds).toBe(1);
      expect(kept.kept.stats.nodeUpdates).toBeGreaterThan(0);
      expect(kept.kept.stats.leaseUpdates).toBeGreaterThan(0);
    });

    it("a lease that checkpointed carries when (what preempting it loses) in the kept snapshot and a rebuild", async () => {
      const kept = new ClusterView(h.store, undefined, { reconcileMs: Number.POSITIVE_INFINITY });
      await kept.snapshot(h.clock.now());
      // Free GPUs for the placement: the earlier runs leave leases on every node.
      for (const l of await h.store.jobs.activeLeases()) await h.store.jobs.endLease(l.id, h.clock.now());
      // The random runs before may leave GPUs held for a preemptor (a `reserve` op, 20 s), which
      // the placement below must not collide with (it did, now and then, on node 1's GPU 7): one is
      // made here so that the wait is always exercised, then every hold is let expire.
      await h.store.checkpoints.reserve({
        jobId: "job_elsewhere",
        nodeId: (await h.store.fleet.listNodes())[1]!.id,
        leaseId: "lease_gone",
        gpuIndices: [7],
        createdAt: h.clock.now(),
        expiresAt: h.clock.now() + 20_000,
      });
      const holds = await h.store.checkpoints.reservations(h.clock.now());
      h.clock.advance(Math.max(0, ...holds.map((r) => r.expiresAt - h.clock.now())));
      expect(await h.store.checkpoints.reservations(h.clock.now())).toEqual([]);
      // Indices as `apply` picks them (the stores list rows in their own order): the new job, its lease.
      const queuedBefore = new Set((await h.store.jobs.pendingJobs()).map((j) => j.id));
      await apply({ k: "submit", gpus: 1 }, kept);
      const queued = await h.store.jobs.pendingJobs();
      const jobAt = queued.findIndex((j) => !queuedBefore.has(j.id));
      expect(jobAt).toBeGreaterThanOrEqual(0);
      // (A job index of 3k places a two-node gang: one of its leases checkpoints, the same test.)
      await apply({ k: "place", job: jobAt, node: 1, gpu: 7, n: 1 }, kept);
      const leaseAt = async () =>
        (await h.store.jobs.activeLeases()).findIndex((l) => l.jobId === queued[jobAt]!.id);
      const at = await leaseAt();
      expect(at).toBeGreaterThanOrEqual(0);
      const lease = (await h.store.jobs.activeLeases())[at]!;
      await apply({ k: "run", lease: at }, kept);
      const before = h.clock.now();
      expect(
        (await kept.snapshot(before)).snapshot.leases.find((l) => l.id === lease.id)?.savedAt,
      ).toBeUndefined();
      await apply({ k: "tick", ms: 5_000 }, kept);
      await apply({ k: "saved", lease: await leaseAt() }, kept);
      const now = h.clock.now();
      const viaKept = (await kept.snapshot(now)).snapshot.leases.find((l) => l.id === lease.id);
      const viaRebuild = buildSnapshot(await readWorld(h.store, now), now).snapshot.leases.find(
        (l) => l.id === lease.id,
      );
      expect(viaKept?.savedAt).toBe(now);
      expect(viaRebuild?.savedAt).toBe(now);
      await h.store.jobs.endLease(lease.id, now);
    });

    it("syncs asked for while one runs share the next one (at most one runs and one waits)", async () => {
      await h.loop.tick();
      const feed = vi.spyOn(h.store.view, "changesSince");
      const view = h.loop.view;
      const all = Array.from({ length: 50 }, (_, k) => view.sync(h.clock.now() + k));
      await Promise.all(all);
      expect(feed.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(feed.mock.calls.length).toBeLessThanOrEqual(2);
      // A sync asked for after those ended runs again (it may have writes to see).
      await view.sync(h.clock.now());
      expect(feed.mock.calls.length).toBeLessThanOrEqual(3);
      expect(feed.mock.calls.length).toBeGreaterThanOrEqual(2);
      vi.restoreAllMocks();
    });

    it("a view behind the pruned end of the feed reloads instead of missing the pruned changes", async () => {
      await h.loop.tick();
      const loads = h.loop.view.stats.loads;
      // A submission, then more than a thousand other changes, all pruned but the last: the view
      // (not synced meanwhile, as a follower that served no requests) never sees the submission's entry.
      const job = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 1,
        gpuModels: ["H100"],
        countries: ["ES", "FI"],
        command: ["train"],
      });
      expect(job.status).toBe(201);
      for (let k = 0; k < 1_050; k++)
        await h.store.fleet.setPrice(
          {
            siteId: w.sites.es,
            gpuModel: "H100",
            onDemandMinorPerGpuHour: 300 + (k % 2),
            interruptibleMinorPerGpuHour: 150,
          },
          h.clock.now(),
        );
      const [last] = await h.store.view.lastChangeIds(1);
      await h.store.view.pruneChanges(last! - 1);
      h.clock.advance(100);
      const r = await h.loop.tick();
      expect(h.loop.view.stats.loads).toBe(loads + 1);
      expect(r.placed + r.waiting).toBeGreaterThan(0);
    });
  });

  // On a world of its own: the random write sequences above leave states (funds spent, nodes offline)
  // in which a cycle takes other paths.
  describe.skipIf(!available)(`cluster view on an untouched world: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    beforeAll(async () => {
      h = await startHarness(factory);
      w = await buildWorld(h.app, h.adminKey);
      for (const [i, site] of [w.sites.es, w.sites.fi].entries()) {
        const { nodeKey } = await enrolNode(h.app, w.operatorKey, site, `untouched-${i}`);
        await heartbeat(h.app, nodeKey);
      }
    });
    afterAll(async () => h.close());

    /** Renames a node and removes the feed's entry for it: a change only a reconcile can find. */
    async function renameBehindTheFeed(nodeId: string, name: string): Promise<void> {
      const db = h.store.db.kysely;
      const high = await db
        .selectFrom("view_changes")
        .select((e) => e.fn.max("id").as("id"))
        .executeTakeFirst();
      await db.updateTable("nodes").set({ name }).where("id", "=", nodeId).execute();
      await db
        .deleteFrom("view_changes")
        .where("id", ">", Number(high?.id ?? 0))
        .execute();
    }

    it("a cycle over an unchanged fleet reads the change feed only; a reconcile finds no drift", async () => {
      await h.loop.tick();
      await h.loop.tick();
      const reads = [
        vi.spyOn(h.store.fleet, "listNodes"),
        vi.spyOn(h.store.fleet, "nodesByIds"),
        vi.spyOn(h.store.jobs, "activeLeases"),
        vi.spyOn(h.store.jobs, "pendingJobs"),
        vi.spyOn(h.store.view, "leasesByIds"),
        vi.spyOn(h.store.view, "jobsByIds"),
        vi.spyOn(h.store.fleet, "listSites"),
      ];
      const feed = vi.spyOn(h.store.view, "changesSince");
      h.clock.advance(100);
      await h.loop.tick();
      for (const r of reads) expect(r).not.toHaveBeenCalled();
      expect(feed).toHaveBeenCalledTimes(1);
      vi.restoreAllMocks();
      // A submission through the API reaches the next cycle through the feed, and is placed.
      const job = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 1,
        gpuModels: ["H100"],
        countries: ["ES", "FI"],
        command: ["train"],
      });
      expect(job.status).toBe(201);
      const r = await h.loop.tick();
      expect(r.placed + r.waiting).toBeGreaterThan(0);
      h.clock.advance(61_000);
      await h.loop.tick();
      // The tick started the reconcile's read; it ends, and the next sync compares.
      await h.loop.view.settleReconcile(h.clock.now());
      expect(h.loop.view.stats.drift).toEqual({ nodes: 0, leases: 0, queue: 0 });
    });

    it("a reconcile counts no drift for writes made while it reads, keeps the view when nothing drifted, and reloads when something did", async () => {
      const view = h.loop.view;
      await h.loop.tick();
      const loads = view.stats.loads;
      const drift0 = { ...view.stats.drift };
      // A submission lands while the reconcile reads the queue (after it noted the feed's position).
      const pending = h.store.jobs.pendingJobs.bind(h.store.jobs);
      let submitted: string | undefined;
      vi.spyOn(h.store.jobs, "pendingJobs").mockImplementationOnce(async (limit) => {
        const j = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
          gpus: 1,
          gpuModels: ["H100"],
          countries: ["PY"],
          command: ["wait"],
        });
        submitted = j.json.id as string;
        return pending(limit);
      });
      h.clock.advance(61_000);
      // The fresh read runs outside the sync chain; a later sync compares it.
      await view.sync(h.clock.now());
      await view.settleReconcile(h.clock.now());
      vi.restoreAllMocks();
      expect(submitted).toBeDefined();
      expect(view.stats.drift).toEqual(drift0);
      // Nothing drifted: the kept view stays (no reload: orders versions and the kept snapshot too).
      expect(view.stats.loads).toBe(loads);
      expect((await view.world(h.clock.now())).jobs.map((j) => j.id)).toContain(submitted);
      // A change the feed never names (its entry removed) is drift: the fresh read replaces the view.
      const node = [...(await view.world(h.clock.now())).nodes.values()][0]!;
      await renameBehindTheFeed(node.id, "renamed-behind-the-feed");
      h.clock.advance(61_000);
      await view.sync(h.clock.now());
      await view.settleReconcile(h.clock.now());
      expect(view.stats.drift.nodes).toBe(drift0.nodes + 1);
      expect(view.stats.loads).toBe(loads + 1);
      expect(view.node(node.id)?.name).toBe("renamed-behind-the-feed");
    });

    it("a fleet of more than 2,000 nodes is reconciled every 30 ms a node, not every minute", async () => {
      const view = h.loop.view;
      // Copies of one node under new ids, until the fleet has 2,500 nodes (the feed names them all).
      const nodes = (await view.world(h.clock.now())).nodes;
      await cloneNode(h.store, [...nodes.keys()][0]!, 2500 - nodes.size);
      h.clock.advance(61_000);
      await view.sync(h.clock.now());
      await view.settleReconcile(h.clock.now());
      expect(view.nodeCount()).toBe(2500);
      const loads = view.stats.loads;
      const drifted = view.stats.drift.nodes;
      // A change the feed never names: found by the next reconcile, which comes 75 s (2,500 x 30 ms) on.
      await renameBehindTheFeed("bulk_7", "renamed-in-a-large-fleet");
      h.clock.advance(61_000);
      await view.sync(h.clock.now());
      await view.settleReconcile(h.clock.now());
      expect(view.node("bulk_7")?.name).toBe("bulk_7");
      h.clock.advance(15_000);
      await view.sync(h.clock.now());
      await view.settleReconcile(h.clock.now());
      expect(view.stats.drift.nodes).toBe(drifted + 1);
      expect(view.stats.loads).toBe(loads + 1);
      expect(view.node("bulk_7")?.name).toBe("renamed-in-a-large-fleet");
    });
  });
}
