// What a submission costs the store: a cached key and one statement for the job and its first event
// on PostgreSQL (a submission's latency at fleet scale is mostly the waits between round trips), and
// the cache still refuses a revoked key at once.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const pgAvailable = await STORES[1]!.available();

/** The SQL text of every query a pg client sends while `fn` runs (BEGIN and COMMIT included). */
async function pgQueriesOf(fn: () => Promise<void>): Promise<string[]> {
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const query = proto.query;
  const sent: string[] = [];
  proto.query = function (this: unknown, ...a: unknown[]) {
    const q = a[0];
    sent.push(typeof q === "string" ? q : String((q as { text?: string }).text));
    return query.apply(this, a);
  };
  try {
    await fn();
  } finally {
    proto.query = query;
  }
  return sent;
}

const job = { gpus: 1, gpuModels: ["H100"], countries: ["ES"], command: ["train"] };

describe.skipIf(!pgAvailable)("submission cost (PostgreSQL)", () => {
  let h: Harness;
  let w: World;
  beforeAll(async () => {
    h = await startHarness(STORES[1]!);
    w = await buildWorld(h.app, h.adminKey);
    await h.services.ctx.view!.sync(h.clock.now());
  });
  afterAll(async () => h.close());

  it("a submission is one statement once its key is cached: the job and its event together", async () => {
    expect((await call(h.app, w.tenantKey, "POST", "/v1/jobs", job)).status).toBe(201);
    await h.services.ctx.view!.sync(h.clock.now());
    let id = "";
    const sent = await pgQueriesOf(async () => {
      const r = await call(h.app, w.tenantKey, "POST", "/v1/jobs", job);
      expect(r.status).toBe(201);
      id = r.json.id as string;
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^with "job" as \(insert into "jobs"/i);
    expect(sent[0]).toMatch(/insert into "job_events"/i);
    // Both rows are there, and the job is pending with its "submitted" event.
    const got = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}`);
    expect(got.json.state).toBe("pending");
    const events = await h.store.db.kysely
      .selectFrom("job_events")
      .selectAll()
      .where("job_id", "=", id)
      .execute();
    expect(events.map((e) => e.message)).toEqual(["submitted"]);
  });

  it("the write counts as a write to jobs: the next reader syncs the view and sees the job", async () => {
    const before = h.store.db.writes.writesOf("jobs");
    const r = await call(h.app, w.tenantKey, "POST", "/v1/jobs", job);
    expect(h.store.db.writes.writesOf("jobs")).toBe(before + 1);
    // No sync by hand: the view sees this process wrote to jobs and catches up before it answers.
    const world = await h.services.ctx.view!.world(h.clock.now());
    expect(world.jobs.some((j) => j.id === r.json.id)).toBe(true);
  });

  it("a failed statement stores neither row", async () => {
    const count = async (t: "jobs" | "job_events") =>
      Number(
        (
          await h.store.db.kysely
            .selectFrom(t)
            .select((e) => e.fn.countAll().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const [jobs, events] = [await count("jobs"), await count("job_events")];
    const existing = (await h.store.jobs.listJobs({ limit: 1 }))[0]!;
    await expect(h.store.jobs.createJob({ ...existing, name: "again" })).rejects.toThrow();
    expect([await count("jobs"), await count("job_events")]).toEqual([jobs, events]);
  });

  it("a revoked key is refused at once although it was cached", async () => {
    const made = await call(h.app, h.adminKey, "POST", "/v1/keys", {
      role: "tenant",
      ownerId: w.tenantId,
      name: "ci",
    });
    expect(made.status).toBe(201);
    const key = made.json.key as string;
    expect((await call(h.app, key, "POST", "/v1/jobs", job)).status).toBe(201);
    expect((await call(h.app, key, "POST", "/v1/jobs", job)).status).toBe(201);
    expect(
      (await call(h.app, h.adminKey, "DELETE", `/v1/keys/${made.json.record.id as string}`)).status,
    ).toBeLessThan(300);
    expect((await call(h.app, key, "POST", "/v1/jobs", job)).status).toBe(401);
  });
});
