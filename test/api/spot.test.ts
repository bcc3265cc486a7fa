// Interruptible capacity follows the power price: its price rises with a spike, and running
// interruptible leases that would run at a loss yield with a checkpoint notice; on-demand work stays.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const H = 3_600_000;
const day = Date.UTC(2026, 10, 2);

describe("power-price spikes", () => {
  let h: Harness;
  let w: World;
  let node: { nodeKey: string; nodeId: string };
  const hb = (workloads: unknown[] = []) => heartbeat(h.app, node.nodeKey, workloads);
  const place = async (body: Record<string, unknown>) => {
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpuModels: ["H100"],
      countries: ["ES"],
      command: ["train"],
      ...body,
    });
    await hb();
    await h.loop.tick();
    const a = (await hb()).assignments.find((x) => x.jobId === sub.json.id);
    if (a)
      await call(h.app, node.nodeKey, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: a.leaseId, phase: "running", startedAt: h.clock.now() }],
      });
    return { jobId: sub.json.id as string, leaseId: a?.leaseId };
  };

  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    h.clock.set(day + 8 * H);
    w = await buildWorld(h.app, h.adminKey);
    node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
    const csv = [
      "timestamp,value",
      ...Array.from(
        { length: 24 },
        (_, i) => `2026-11-02T${String(i).padStart(2, "0")}:00:00Z,${i === 10 ? 2000 : 50}`,
      ),
    ].join("\n");
    const r = await h.app.inject({
      method: "PUT",
      url: `/v1/sites/${w.sites.es}/energy/price`,
      headers: { authorization: `Bearer ${w.operatorKey}`, "content-type": "text/csv" },
      payload: csv,
    });
    expect(r.statusCode).toBe(200);
  });
  afterAll(async () => h.close());

  it("prices interruptible capacity at the floor in normal hours and yields in a spike", async () => {
    const spot = await place({ gpus: 2, class: "interruptible" });
    const od = await place({ gpus: 2 });
    const lease = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${spot.jobId}`)).json.leases[0];
    expect(lease.priceMinorPerGpuHour).toBe(120);
    // 10:00: 2000 EUR/MWh -> 168 cents of energy per H100-hour at PUE 1.2, more than the 120 paid.
    h.clock.set(day + 10 * H);
    await hb();
    await h.loop.tick();
    const stops = (await hb()).stops;
    expect(stops.map((s) => s.leaseId)).toEqual([spot.leaseId]);
    expect(stops[0]!.reason).toMatch(/power price spike.*2000 EUR\/MWh/);
    expect((await call(h.app, w.tenantKey, "GET", `/v1/jobs/${od.jobId}`)).json.state).toBe("running");
    // New interruptible work pays the spot price (168 x 1.25 = 210): a cap of 1.50 waits, no cap runs at 2.10.
    const capped = await place({ gpus: 1, class: "interruptible", maxPriceMinorPerGpuHour: 150 });
    expect(capped.leaseId).toBeUndefined();
    const uncapped = await place({ gpus: 1, class: "interruptible" });
    expect(
      (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${uncapped.jobId}`)).json.leases[0]
        .priceMinorPerGpuHour,
    ).toBe(210);
  });

  it("lists the price a new interruptible lease pays: the spot price during a spike, the floor otherwise", async () => {
    const offer = async (): Promise<{
      onDemandMinorPerGpuHour: number;
      interruptibleMinorPerGpuHour: number;
    }> => {
      const rows = (await call(h.app, w.tenantKey, "GET", "/v1/capacity")).json as {
        siteId: string;
        gpuModel: string;
        onDemandMinorPerGpuHour: number;
        interruptibleMinorPerGpuHour: number;
      }[];
      const row = rows.find((x) => x.siteId === w.sites.es && x.gpuModel === "H100");
      expect(row).toBeDefined();
      return row!;
    };
    h.clock.set(day + 9 * H + 60_000);
    expect(await offer()).toMatchObject({ onDemandMinorPerGpuHour: 240, interruptibleMinorPerGpuHour: 120 });
    // 10:01, 2,000 EUR/MWh: the same 210 a lease placed now pays (the on-demand price never moves).
    h.clock.set(day + 10 * H + 60_000);
    expect(await offer()).toMatchObject({ onDemandMinorPerGpuHour: 240, interruptibleMinorPerGpuHour: 210 });
  });
});
