// Operator-defined GPU models: an operator proposes a card the built-in catalogue lacks, an admin
// approves it, and from then on nodes with it are named after it, placed, priced and power-budgeted,
// on both stores. Before approval such GPUs stay unknown and are neither sold nor placed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleDataRoutes } from "../../src/api/routes/console-data.js";
import { readSnapshot } from "../../src/control/index.js";
import { gpuCatalogue } from "../../src/domain/index.js";
import { buildWorld, enrolNode, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

/** GPUs as an agent reports a card the built-in catalogue does not know (no model id, power limit unread). */
const unknownGpus = (name: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    index: i,
    uuid: `GPU-mi-${i}`,
    model: "UNKNOWN",
    name,
    memoryMb: 196_608,
    powerLimitW: 0,
    healthy: false,
  }));

const MI300X = {
  id: "MI300X",
  vendor: "amd",
  name: "AMD Instinct MI300X 192GB",
  memoryGb: 192,
  powerW: 750,
  relThroughput: 2.6,
  match: ["mi300x"],
};

describe("the GPU catalogue (pure)", () => {
  it("adds approved models after the built-in ones; built-in names and ids win", () => {
    const c = gpuCatalogue([
      {
        id: "MI300X",
        vendor: "amd",
        name: "MI300X",
        memoryGb: 192,
        tdpW: 750,
        relThroughput: 2.6,
        smiPatterns: ["mi300x"],
      },
      {
        id: "H100",
        vendor: "nvidia",
        name: "fake",
        memoryGb: 1,
        tdpW: 1,
        relThroughput: 1,
        smiPatterns: ["h100"],
      },
    ]);
    expect(c.find("mi300x")?.tdpW).toBe(750);
    expect(c.find("H100")?.name).toBe("NVIDIA H100 SXM 80GB");
    expect(c.fromDeviceName("AMD Instinct MI300X")?.id).toBe("MI300X");
    expect(c.fromDeviceName("NVIDIA H100 80GB HBM3")?.id).toBe("H100");
    expect(c.fromDeviceName("NVIDIA Quadro P400")).toBeUndefined();
    expect(c.all().filter((m) => m.id === "H100")).toHaveLength(1);
  });
});

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`operator-defined GPU models (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let node: { nodeKey: string; nodeId: string };
    const heartbeat = () =>
      call(h.app, node.nodeKey, "POST", "/v1/agent/heartbeat", {
        gpus: unknownGpus("AMD Instinct MI300X", 4),
        health: { healthy: true, reasons: [] },
        workloads: [],
      });

    beforeAll(async () => {
      h = await startHarness(factory, [consoleDataRoutes]);
      w = await buildWorld(h.app, h.adminKey);
      // Before: this node's GPUs were reported as UNKNOWN and unhealthy, and nothing could change that.
      node = await enrolNode(h.app, w.operatorKey, w.sites.es, "mi-1", unknownGpus("AMD Instinct MI300X", 4));
    });
    afterAll(async () => h?.close());

    it("refuses bad proposals with what to fix, and lets only operators and admins propose", async () => {
      const bad = await call(h.app, w.operatorKey, "POST", "/v1/gpu-models", { ...MI300X, id: "mi 300" });
      expect(bad.status).toBe(400);
      expect(bad.json.detail).toMatch(/letters, digits or dashes/);
      const builtIn = await call(h.app, w.operatorKey, "POST", "/v1/gpu-models", { ...MI300X, id: "h100" });
      expect(builtIn.status).toBe(409);
      expect(builtIn.json.detail).toMatch(/built-in catalogue/);
      expect(
        (await call(h.app, w.operatorKey, "POST", "/v1/gpu-models", { ...MI300X, powerW: 0 })).status,
      ).toBe(400);
      expect((await call(h.app, w.tenantKey, "POST", "/v1/gpu-models", MI300X)).status).toBe(403);
      expect((await call(h.app, null, "POST", "/v1/gpu-models", MI300X)).status).toBe(401);
      expect((await call(h.app, w.operatorKey, "GET", "/v1/gpu-models/proposals")).json).toEqual([]);
    });

    it("a proposed model is neither sold nor placed until an admin approves it", async () => {
      const p = await call(h.app, w.operatorKey, "POST", "/v1/gpu-models", MI300X);
      expect(p.status).toBe(201);
      expect(p.json).toMatchObject({ id: "MI300X", state: "proposed", proposedBy: w.operatorId, tdpW: 750 });
      expect((await call(h.app, w.operatorKey, "POST", "/v1/gpu-models", MI300X)).status).toBe(409);
      const catalogue = await call(h.app, null, "GET", "/v1/gpu-models");
      expect(catalogue.json.map((m: { id: string }) => m.id)).not.toContain("MI300X");
      const price = await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/prices/MI300X`, {
        onDemandMinorPerGpuHour: 300,
        interruptibleMinorPerGpuHour: 150,
      });
      expect(price.status).toBe(400);
      expect(price.json.detail).toMatch(/proposed with POST \/v1\/gpu-models/);
      const job = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 2,
        gpuModels: ["MI300X"],
        command: ["train"],
      });
      expect(job.status).toBe(400);
      expect((await heartbeat()).status).toBe(200);
      const n = await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}`);
      expect(n.json.gpus[0]).toMatchObject({ model: "UNKNOWN", healthy: false });
      // Only an admin decides.
      expect((await call(h.app, w.operatorKey, "POST", "/v1/gpu-models/MI300X/approve")).status).toBe(403);
    });

    it("once approved, the node's GPUs are named after it, priced, power-budgeted and placed", async () => {
      const a = await call(h.app, h.adminKey, "POST", "/v1/gpu-models/mi300x/approve");
      expect(a.status).toBe(200);
      expect(a.json).toMatchObject({ id: "MI300X", state: "approved", decidedAt: h.clock.now() });
      expect((await call(h.app, h.adminKey, "POST", "/v1/gpu-models/MI300X/approve")).status).toBe(409);
      const catalogue = await call(h.app, null, "GET", "/v1/gpu-models");
      expect(catalogue.json.find((m: { id: string }) => m.id === "MI300X")).toMatchObject({
        memoryGb: 192,
        tdpW: 750,
      });
      expect(
        (
          await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/prices/mi300x`, {
            onDemandMinorPerGpuHour: 300,
            interruptibleMinorPerGpuHour: 150,
          })
        ).json.gpuModel,
      ).toBe("MI300X");
      expect((await heartbeat()).status).toBe(200);
      const n = await call(h.app, w.operatorKey, "GET", `/v1/nodes/${node.nodeId}`);
      expect(n.json.gpus.map((g: { model: string; healthy: boolean }) => `${g.model}:${g.healthy}`)).toEqual(
        Array(4).fill("MI300X:true"),
      );
      // The power rule: the node reported no limit, so the model's 750 W counts; memory from the catalogue.
      const snap = await readSnapshot(h.store, h.clock.now());
      expect(snap.snapshot.nodes.find((x) => x.id === node.nodeId)).toMatchObject({
        gpuModel: "MI300X",
        gpuPowerW: 750,
        gpuMemoryGb: 192,
        gpuIndices: [0, 1, 2, 3],
      });
      const offer = (await call(h.app, w.tenantKey, "GET", "/v1/capacity")).json.find(
        (o: { gpuModel: string }) => o.gpuModel === "MI300X",
      );
      expect(offer).toMatchObject({ freeGpus: 4, onDemandMinorPerGpuHour: 300 });
      const job = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpus: 2,
        gpuModels: ["mi300x"],
        command: ["train"],
      });
      expect(job.status).toBe(201);
      await h.loop.tick();
      const got = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${job.json.id}`);
      expect(got.json.leases[0]).toMatchObject({
        nodeId: node.nodeId,
        gpuModel: "MI300X",
        priceMinorPerGpuHour: 300,
      });
    });

    it("power figures use the approved model: the assignment, the operator report and curtailment", async () => {
      // The node reports no power limit, so each of its GPUs counts at the approved 750 W (not 700 W).
      const hb = await heartbeat();
      expect(hb.json.assignments).toHaveLength(1);
      expect(hb.json.assignments[0]).toMatchObject({ gpuModel: "MI300X", gpuPowerW: 750 });
      const site = (await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}`)).json;
      const summary = await call(h.app, w.operatorKey, "GET", "/v1/operator/summary");
      expect(summary.status, JSON.stringify(summary.json)).toBe(200);
      const es = summary.json.sites.find((x: { id: string }) => x.id === w.sites.es);
      expect(es.gpusBusy).toBe(2);
      expect(es.powerDrawKw).toBeCloseTo(((2 * 750 + site.nodeOverheadW) * site.pue) / 1000, 3);
      h.clock.advance(120_000);
      const util = await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.es}/utilisation?hours=1`);
      const full = util.json.points.find((x: { busyAvg: number }) => x.busyAvg === 2);
      expect(full.powerKw).toBeCloseTo(((2 * 750 + site.nodeOverheadW) * site.pue) / 1000, 3);
      // A curtailment measures the site's draw with the same rule: 2 GPUs and half the node's overhead.
      const now = h.clock.now();
      const c = await call(h.app, w.operatorKey, "POST", "/v1/curtailments", {
        siteId: w.sites.es,
        start: now,
        end: now + 3_600_000,
        maxKw: 100,
      });
      expect(c.status).toBe(201);
      await h.loop.tick();
      const after = await call(h.app, w.operatorKey, "GET", `/v1/curtailments/${c.json.id}`);
      expect(after.json.kwBefore).toBeCloseTo(((2 * 750 + site.nodeOverheadW / 2) * site.pue) / 1000, 3);
    });

    it("a rejection needs a reason; operators see their own proposals and every approved one", async () => {
      const other = await call(h.app, w.otherOperatorKey, "POST", "/v1/gpu-models", {
        id: "RTX3080",
        vendor: "nvidia",
        name: "NVIDIA GeForce RTX 3080 10GB",
        memoryGb: 10,
        powerW: 320,
        match: ["RTX 3080"],
      });
      expect(other.status).toBe(201);
      expect(other.json.smiPatterns).toEqual(["rtx 3080"]);
      expect(
        (await call(h.app, h.adminKey, "POST", "/v1/gpu-models/RTX3080/reject", { reason: " " })).status,
      ).toBe(400);
      const r = await call(h.app, h.adminKey, "POST", "/v1/gpu-models/RTX3080/reject", {
        reason: "10 GiB is below the 16 GiB this cloud sells",
      });
      expect(r.json).toMatchObject({
        state: "rejected",
        reason: "10 GiB is below the 16 GiB this cloud sells",
      });
      expect((await call(h.app, h.adminKey, "POST", "/v1/gpu-models/RTX3080/approve")).status).toBe(409);
      expect((await call(h.app, h.adminKey, "POST", "/v1/gpu-models/NOPE/approve")).status).toBe(404);
      const mine = await call(h.app, w.operatorKey, "GET", "/v1/gpu-models/proposals");
      expect(mine.json.map((m: { id: string }) => m.id)).toEqual(["MI300X"]);
      const theirs = await call(h.app, w.otherOperatorKey, "GET", "/v1/gpu-models/proposals");
      expect(theirs.json.map((m: { id: string }) => m.id).sort()).toEqual(["MI300X", "RTX3080"]);
      const all = await call(h.app, h.adminKey, "GET", "/v1/gpu-models/proposals?state=rejected");
      expect(all.json.map((m: { id: string }) => m.id)).toEqual(["RTX3080"]);
      expect((await call(h.app, w.tenantKey, "GET", "/v1/gpu-models/proposals")).status).toBe(403);
    });
  });
}
