import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalExecutor } from "../../src/agent/executors/local.js";
import { AgentStore } from "../../src/agent/outbox.js";

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

describe("agent state files are owner-only", () => {
  it("keeps the node key's database 0600 (with its WAL) in a 0700 folder", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "zumbido-agent-state-")), "agent");
    const store = new AgentStore(dir);
    store.setMeta("nodeKey", "zk_node_secret");
    expect(mode(dir)).toBe("700");
    expect(mode(join(dir, "agent.db"))).toBe("600");
    expect(mode(join(dir, "agent.db-wal"))).toBe("600");
    store.close();
  });

  it("writes each lease's state 0600 in 0700 folders", async () => {
    const root = mkdtempSync(join(tmpdir(), "zumbido-agent-state-"));
    const ex = new LocalExecutor({ stateDir: join(root, "w"), now: () => 1, unsafeHostProcesses: true });
    await ex.start({
      leaseId: "l1",
      jobId: "j1",
      gpuModel: "H100",
      gpuIndices: [],
      spec: { command: ["true"] },
    });
    expect(mode(join(root, "w", "leases"))).toBe("700");
    expect(mode(join(root, "w", "leases", "l1"))).toBe("700");
    expect(mode(join(root, "w", "leases", "l1", "state.json"))).toBe("600");
    await ex.close();
  });
});

describe("host-process executor", () => {
  it("refuses tenant jobs unless started with unsafeHostProcesses, and says why", async () => {
    const ex = new LocalExecutor({ stateDir: mkdtempSync(join(tmpdir(), "zumbido-refuse-")), now: () => 5 });
    const s = await ex.start({
      leaseId: "l1",
      jobId: "j1",
      gpuModel: "H100",
      gpuIndices: [0],
      spec: { command: ["sh", "-c", "touch /tmp/should-not-run"] },
    });
    expect(s.phase).toBe("failed");
    expect(s.reason).toMatch(/not isolated.*--executor podman.*--unsafe-host-processes/);
    expect(s.externalId).toBeUndefined();
    await ex.close();
  });
});
