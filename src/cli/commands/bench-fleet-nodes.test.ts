// The bench's simulated nodes against a real server process (SQLite): they enrol, hold the orders
// long-poll, and a job submitted mid-run reaches a node through it; the run ends at its deadline
// although long-polls are parked (they are cut, not waited out).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startBenchServer, stopProc, type BenchServer } from "./bench-ingest.js";
import { NodeFleet } from "./bench-fleet-nodes.js";

describe("bench fleet's simulated nodes", () => {
  let dir: string;
  let server: BenchServer;
  const adminKey = `zk_admin_${randomBytes(16).toString("hex")}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "zumbido-fleet-nodes-"));
    server = await startBenchServer(`sqlite:${join(dir, "fleet.db")}`, {
      adminKey,
      env: { ZUMBIDO_SCHEDULE_INTERVAL_MS: "1000", ZUMBIDO_DEMO: "" },
    });
  }, 60_000);

  afterAll(async () => {
    if (server) await stopProc(server.proc);
    rmSync(dir, { recursive: true, force: true });
  });

  it("enrol, take work through the orders long-poll, and stop at the deadline", async () => {
    const url = server.url;
    const op = await api<{ key: string }>(url, adminKey, "POST", "/v1/operators", { name: "Hall" });
    const site = await api<{ id: string }>(url, op.key, "POST", "/v1/sites", {
      name: "Hall 1",
      country: "ES",
      lat: 43.4,
      lon: -5.8,
      powerKw: 1000,
      pue: 1.2,
      cooling: "air",
    });
    await api(url, op.key, "PUT", `/v1/sites/${site.id}/prices/H100`, {
      onDemandMinorPerGpuHour: 240,
      interruptibleMinorPerGpuHour: 120,
    });
    const tenant = await api<{ key: string }>(url, adminKey, "POST", "/v1/tenants", {
      name: "Lab",
      country: "ES",
      creditLimitMinor: 1_000_000,
    });
    const submittedAt = new Map<string, number>();
    let errors = 0;
    const fleet = new NodeFleet({
      urls: () => [url],
      heartbeatMs: 1000,
      ordersPoll: true,
      submittedAt,
      onError: () => errors++,
    });
    try {
      const progress: number[] = [];
      await fleet.enrol(
        3,
        () => site.id,
        op.key,
        (done) => progress.push(done),
        2,
      );
      expect(fleet.nodes).toHaveLength(3);
      expect(progress.at(-1)).toBe(3);
      expect(new Set(fleet.nodes.map((n) => n.id)).size).toBe(3);
      expect(fleet.figures.enrolPerS).toBeGreaterThan(0);
      await fleet.warmUp(200, 1500);
      const deadline = Date.now() + 4000;
      const running = fleet.run(deadline);
      const job = await api<{ id: string }>(url, tenant.key, "POST", "/v1/jobs", {
        gpus: 2,
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["train"],
      });
      submittedAt.set(job.id, Date.now());
      await running;
      // Ended at the deadline, not 25 s later when the parked long-polls would have answered.
      expect(Date.now() - deadline).toBeLessThan(2000);
      expect(errors).toBe(0);
      expect(fleet.figures.assignedJobs.has(job.id)).toBe(true);
      // The assignment came through the long-poll (its answer carried work, the node beat at once).
      expect(fleet.figures.ordersWithWork).toBeGreaterThanOrEqual(1);
      expect(fleet.figures.hbLat.length).toBeGreaterThan(0);
    } finally {
      await fleet.close();
    }
  }, 60_000);
});
