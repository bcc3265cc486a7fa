// The fleet bench's safety checks read the store's rows: a double booking no server noticed (rows
// written past the placement's GPU check, as two leaders without fencing would) is counted.
import { afterEach, describe, expect, it } from "vitest";
import type { Job } from "../../domain/index.js";
import type { NewLease, Store } from "../../store/index.js";
import { leaseOn, pendingJob, seedOneNode } from "../../../test/helpers/one-node-world.js";
import { STORES } from "../../../test/helpers/stores.js";
import { checkFleetStore } from "./fleet-check.js";

const job = (id: string): Job => pendingJob(id, 2);
const lease = leaseOn;
const world = seedOneNode;

/** A lease row written straight into the table, past commitPlacement's GPU check and job transition. */
async function injectLease(store: Store, l: NewLease): Promise<void> {
  await store.db.kysely
    .insertInto("leases")
    .values({
      id: l.id,
      job_id: l.jobId,
      tenant_id: l.tenantId,
      site_id: l.siteId,
      operator_id: l.operatorId,
      node_id: l.nodeId,
      country: l.country,
      gpu_model: l.gpuModel,
      gpu_indices_json: JSON.stringify(l.gpuIndices),
      class: l.class,
      price_minor: l.priceMinorPerGpuHour,
      currency: l.currency,
      state: "assigned",
      created_at: l.createdAt,
      started_at: null,
      ended_at: null,
      stop_reason: null,
      stop_requested_at: null,
      stop_deadline_at: null,
      gang_rank: null,
      gang_size: null,
      gang_port: null,
      ready_at: null,
      go_at: null,
    })
    .execute();
}

async function usage(store: Store, seq: number): Promise<void> {
  await store.db.kysely
    .insertInto("usage")
    .values({
      node_id: "n1",
      seq,
      lease_id: "l1",
      from_ms: 200,
      to_ms: 300,
      gpu_ms: 200,
      energy_milli_wh: 1,
      energy_source: "modelled",
      received_at: 300,
      claim_json: null,
    })
    .execute();
}

for (const f of STORES) {
  describe(`fleet bench checks (${f.name})`, async () => {
    const available = await f.available();
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });
    const open = async (): Promise<Store> => {
      const o = await f.open();
      cleanup = o.cleanup;
      await world(o.store);
      return o.store;
    };

    it.skipIf(!available)(
      "counts nothing in an honest history (GPUs reused after a lease ends, a requeue)",
      async () => {
        const store = await open();
        await store.jobs.createJob(job("j1"));
        await store.jobs.createJob(job("j2"));
        expect(await store.jobs.commitPlacement("j1", [lease("l1", "j1", [0, 1], 200)], 200, "placed")).toBe(
          true,
        );
        await store.jobs.endLease("l1", 300);
        await store.jobs.transitionJob("j1", ["scheduled", "running"], "preempted", 300, "requeued");
        // The same GPUs for another job once l1 ended, and j1 again after its requeue.
        expect(await store.jobs.commitPlacement("j2", [lease("l2", "j2", [0, 1], 300)], 300, "placed")).toBe(
          true,
        );
        expect(await store.jobs.commitPlacement("j1", [lease("l3", "j1", [2, 3], 310)], 310, "placed")).toBe(
          true,
        );
        await usage(store, 1);
        const c = await checkFleetStore(store.db.kysely, [{ nodeId: "n1", seq: 1 }]);
        expect(c).toMatchObject({
          jobsPlacedTwice: 0,
          gpuDoubleLeased: 0,
          lostUsageRecords: 0,
          jobsPlaced: 2,
        });
        expect(c.examples).toEqual([]);
      },
    );

    it.skipIf(!available)(
      "finds a GPU leased twice and a job placed twice that the store was made to accept",
      async () => {
        const store = await open();
        await store.jobs.createJob(job("j1"));
        await store.jobs.createJob(job("j2"));
        expect(await store.jobs.commitPlacement("j1", [lease("l1", "j1", [0, 1], 200)], 200, "placed")).toBe(
          true,
        );
        // The store itself refuses the second booking of GPU 1 ...
        expect(await store.jobs.commitPlacement("j2", [lease("l2", "j2", [1, 2], 250)], 250, "placed")).toBe(
          false,
        );
        // ... so write it as a second leader without a fence would have: GPU 1 twice, and j1 a second time.
        await injectLease(store, lease("l2", "j2", [1, 2], 250));
        await injectLease(store, lease("l3", "j1", [4, 5], 260));
        await store.jobs.addEvent("j1", 260, "scheduled", "placed by the old leader");
        const c = await checkFleetStore(store.db.kysely, []);
        expect(c.gpuDoubleLeased).toBe(1);
        expect(c.jobsPlacedTwice).toBe(1);
        expect(c.examples).toContain("GPU n1/1: leases l1 and l2 at once");
        expect(c.examples.some((e) => e.startsWith("job j1:"))).toBe(true);
      },
    );

    it.skipIf(!available)(
      "finds a lease overlapping two earlier ones on a GPU, and usage that never arrived",
      async () => {
        const store = await open();
        await store.jobs.createJob(job("j1"));
        await store.jobs.createJob(job("j2"));
        await store.jobs.createJob(job("j3"));
        // l1 holds GPU 0 from 200 on; l2 (ended) and l3 start inside it.
        expect(await store.jobs.commitPlacement("j1", [lease("l1", "j1", [0], 200)], 200, "placed")).toBe(
          true,
        );
        await injectLease(store, lease("l2", "j2", [0], 210));
        await store.jobs.endLease("l2", 220);
        await injectLease(store, lease("l3", "j3", [0], 230));
        await usage(store, 1);
        const c = await checkFleetStore(store.db.kysely, [
          { nodeId: "n1", seq: 1 },
          { nodeId: "n1", seq: 2 },
        ]);
        expect(c.gpuDoubleLeased).toBe(2);
        expect(c.jobsPlacedTwice).toBe(0);
        expect(c.lostUsageRecords).toBe(1);
        expect(c.examples).toContain("usage n1/2 not in the store");
      },
    );
  });
}
