// The agent's modelled energy uses the per-GPU power the control plane sent with the assignment, so
// an approved operator-defined model (unknown to the agent's built-in catalogue) is not taken at 700 W.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ModelledEnergyMeter } from "../../src/agent/energy-model.js";
import { SampledEnergy } from "../../src/agent/gpu/sampled-energy.js";
import { AgentStore } from "../../src/agent/outbox.js";

const HOUR = 3_600_000;

describe("modelled energy", () => {
  it("uses the assignment's per-GPU watts, else the built-in TDP, else 700 W", () => {
    const m = new ModelledEnergyMeter(1);
    // MI300X approved at 750 W: 2 GPUs for an hour at the full share.
    expect(m.energyMilliWh([0, 1], "MI300X", 0, HOUR, 750).energyMilliWh).toBe(1_500_000);
    expect(m.energyMilliWh([0, 1], "MI300X", 0, HOUR).energyMilliWh).toBe(1_400_000);
    expect(m.energyMilliWh([0], "L40S", 0, HOUR).energyMilliWh).toBe(350_000);
    // Through the sampled meter's fallback (no samples for the interval) too.
    const sampled = new SampledEnergy({ fallback: m });
    expect(sampled.energyMilliWh([0], "MI300X", 0, HOUR, 750)).toEqual({
      energyMilliWh: 750_000,
      energySource: "modelled",
    });
  });

  it("keeps the assignment's watts with the tracked lease, and upgrades state from an older agent", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "zumbido-agent-power-")), "agent");
    const first = new AgentStore(dir);
    first.close();
    // An older agent's leases table had no gpu_power_w column.
    const db = new BetterSqlite3(join(dir, "agent.db"));
    db.exec(
      "DROP TABLE leases; CREATE TABLE leases (lease_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, gpu_indices TEXT NOT NULL, gpu_model TEXT NOT NULL, started_at INTEGER, metered_until INTEGER, ended_at INTEGER)",
    );
    db.prepare(
      "INSERT INTO leases (lease_id, job_id, gpu_indices, gpu_model) VALUES ('old', 'j0', '[0]', 'H100')",
    ).run();
    db.close();
    const store = new AgentStore(dir);
    store.track({ leaseId: "l1", jobId: "j1", gpuIndices: [0, 1], gpuModel: "MI300X", gpuPowerW: 750 });
    expect(store.leases().map((l) => [l.leaseId, l.gpuPowerW])).toEqual([
      ["l1", 750],
      ["old", null],
    ]);
    store.close();
  });
});
