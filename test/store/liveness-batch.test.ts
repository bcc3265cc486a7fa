// Batched liveness writes (docs/fleet.md, "Heartbeats"): heartbeats that change nothing but liveness
// are buffered and written as one batched UPDATE; failure detection still sees every fresh heartbeat.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Gpu } from "../../src/domain/index.js";
import { Store, parseStoreUrl } from "../../src/store/index.js";
import { STORES } from "../helpers/stores.js";

const T0 = 1_000_000;
const TIMEOUT = 15_000;
const GPUS: Gpu[] = [0, 1].map((i) => ({
  index: i,
  uuid: `GPU-${i}`,
  model: "H100",
  name: "H100",
  memoryMb: 81559,
  powerLimitW: 700,
  healthy: true,
}));
const OK = { healthy: true, reasons: [] };
// A timer that never fires during a test: flushes happen only where the test (or detection) asks.
const LIVENESS = { intervalMs: 3_600_000, maxBatch: 10_000 };

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`batched liveness: ${factory.name}`, () => {
    let store: Store;
    let url: string;
    let cleanup: () => Promise<void>;
    const stored = async (id: string): Promise<number | null> =>
      (
        await store.db.kysely
          .selectFrom("nodes")
          .select("last_heartbeat_at")
          .where("id", "=", id)
          .executeTakeFirstOrThrow()
      ).last_heartbeat_at;
    const enrol = async (s: Store, id: string, at: number): Promise<void> => {
      await s.fleet.createEnrolmentToken("s1", `tok-${id}`, at, at + 3_600_000);
      const node = { id, name: id, state: "pending" as const, executor: "local" as const, gpus: GPUS };
      expect(await s.fleet.consumeEnrolmentToken(`tok-${id}`, node, at)).toMatchObject({ ok: true });
      await s.fleet.heartbeat(id, GPUS, null, at, OK); // pending -> ready: a status write
    };

    beforeAll(async () => {
      ({ store, url, cleanup } = await factory.open({ liveness: LIVENESS }));
      await store.accounts.createOperator({ id: "op1", name: "Hall One", createdAt: 1 });
      await store.fleet.createSite({
        id: "s1",
        operatorId: "op1",
        name: "Asturias",
        country: "ES",
        lat: 43.36,
        lon: -5.84,
        powerKw: 2000,
        pue: 1.2,
        cooling: "air",
        nodeOverheadW: 800,
        createdAt: 1,
      });
    });
    afterAll(async () => cleanup?.());

    it("writes many heartbeats as one batched statement, never moving a node's time back", async () => {
      const ids = Array.from({ length: 50 }, (_, i) => `many-${i}`);
      for (const id of ids) await enrol(store, id, T0);
      const writes = vi.spyOn(store.fleet, "writeLiveness");
      for (let beat = 1; beat <= 5; beat++)
        for (const id of ids) await store.fleet.heartbeat(id, GPUS, null, T0 + beat * 1000, OK);
      // 250 heartbeats, no write yet; this replica's reads see the buffered time.
      expect(writes).not.toHaveBeenCalled();
      expect(await stored("many-0")).toBe(T0);
      expect((await store.fleet.getNode("many-0"))?.lastHeartbeatAt).toBe(T0 + 5000);
      await store.fleet.flushLiveness();
      expect(writes).toHaveBeenCalledTimes(1);
      expect(writes.mock.calls[0]![0]).toHaveLength(50);
      for (const id of ids) expect(await stored(id)).toBe(T0 + 5000);
      // A late batch with an older time (another replica's) leaves the newer one.
      await store.fleet.writeLiveness([["many-1", T0 + 2000]]);
      expect(await stored("many-1")).toBe(T0 + 5000);
      writes.mockRestore();
    });

    it("keeps a heartbeating node online across detection cycles and takes a silent one offline on time", async () => {
      const t = T0 + 100_000;
      await enrol(store, "beating", t);
      await enrol(store, "silent", t);
      const offline: string[] = [];
      // Every detection runs while the latest heartbeat is still buffered (nothing else flushes).
      for (let now = t + 5000; now <= t + 60_000; now += 5000) {
        await store.fleet.heartbeat("beating", GPUS, null, now, OK);
        offline.push(...(await store.fleet.markStaleNodesOffline(now - TIMEOUT)));
        if (now === t + TIMEOUT) expect(offline).not.toContain("silent"); // exactly the timeout: not yet
      }
      expect((await store.fleet.getNode("beating"))?.state).toBe("ready");
      expect(offline.filter((id) => id === "silent")).toHaveLength(1);
      expect(offline).not.toContain("beating");
      const silent = await store.fleet.getNode("silent");
      expect(silent).toMatchObject({ state: "offline", lastHeartbeatAt: t });
    });

    it("with two replicas, a node heartbeating to the other one stays online within the bound", async () => {
      // Replica B buffers the node's heartbeats and flushes every 5 s; replica A detects (15 s
      // timeout, 5 s heartbeat interval): 5 + 5 < 15.
      const other = await Store.open(parseStoreUrl(url), { liveness: LIVENESS });
      try {
        const t = T0 + 200_000;
        await enrol(other, "via-b", t);
        for (let now = t + 1000; now <= t + 60_000; now += 1000) {
          if ((now - t) % 5000 === 0) await other.fleet.heartbeat("via-b", GPUS, null, now, OK);
          if ((now - t) % 5000 === 4000) await other.fleet.flushLiveness();
          expect(await store.fleet.markStaleNodesOffline(now - TIMEOUT)).not.toContain("via-b");
        }
        expect((await store.fleet.getNode("via-b"))?.state).toBe("ready");
      } finally {
        await other.close();
      }
    });

    it("a heartbeat judged against a stale view of the node writes no status the row already has", async () => {
      await enrol(store, "stale-1", T0); // pending -> ready, written
      const pending = { ...(await store.fleet.getNode("stale-1"))!, state: "pending" as const };
      const feed = async (): Promise<number> =>
        Number(
          (
            await store.db.kysely
              .selectFrom("view_changes")
              .select((eb) => eb.fn.countAll().as("n"))
              .where("tbl", "=", "nodes")
              .where("row_id", "=", "stale-1")
              .executeTakeFirstOrThrow()
          ).n,
        );
      const before = await feed();
      // The caller's view still says "pending": the status it would write is already the row's.
      await store.fleet.heartbeat("stale-1", GPUS, null, T0 + 1000, OK, undefined, undefined, pending);
      expect(await feed()).toBe(before);
      await store.fleet.flushLiveness();
      expect(await stored("stale-1")).toBe(T0 + 1000); // liveness renewed all the same
      // A real change is still written (and reaches the feed).
      await store.fleet.heartbeat("stale-1", GPUS, "550.54", T0 + 2000, OK, undefined, undefined, pending);
      expect(await feed()).toBe(before + 1);
      expect((await store.fleet.getNode("stale-1"))?.driverVersion).toBe("550.54");
    });

    it("writes what is buffered when the store closes", async () => {
      const other = await Store.open(parseStoreUrl(url), { liveness: LIVENESS });
      const t = T0 + 300_000;
      await enrol(other, "at-close", t);
      await other.fleet.heartbeat("at-close", GPUS, null, t + 4000, OK);
      expect(await stored("at-close")).toBe(t);
      await other.close();
      expect(await stored("at-close")).toBe(t + 4000);
    });

    it("flushes on its own once enough nodes wait", async () => {
      const other = await Store.open(parseStoreUrl(url), {
        liveness: { intervalMs: 3_600_000, maxBatch: 3 },
      });
      try {
        const t = T0 + 400_000;
        for (const id of ["size-0", "size-1", "size-2"]) await enrol(other, id, t);
        for (const id of ["size-0", "size-1", "size-2"])
          await other.fleet.heartbeat(id, GPUS, null, t + 1000, OK);
        await vi.waitFor(async () => expect(await stored("size-2")).toBe(t + 1000));
      } finally {
        await other.close();
      }
    });
  });
}
